//! Player names: printable, at most 16 characters, unique on the server.

pub const MAX_CHARS: usize = 16;

/// Keeps printable characters, folds runs of white space into one space, trims, and
/// cuts to [`MAX_CHARS`]. The result is plain text; the client never parses it as HTML.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() && !is_invisible(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out.chars()
        .take(MAX_CHARS)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Format characters that would let a name hide or reorder text (bidi overrides, zero widths).
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// Makes `wanted` unique among the names for which `taken` is true, by adding `#2`,
/// `#3`… (shortening it to stay within [`MAX_CHARS`]); an empty name becomes `pilot-<id>`.
pub fn unique(wanted: &str, id: u16, taken: impl Fn(&str) -> bool) -> String {
    let base = if wanted.is_empty() {
        format!("pilot-{id}")
    } else {
        wanted.to_owned()
    };
    if !taken(&base) {
        return base;
    }
    (2u32..)
        .map(|n| {
            let suffix = format!("#{n}");
            let keep = MAX_CHARS - suffix.chars().count();
            let stem: String = base.chars().take(keep).collect();
            format!("{}{suffix}", stem.trim_end())
        })
        .find(|candidate| !taken(candidate))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes() {
        assert_eq!(sanitize("  Ace \t\n Pilot  "), "Ace Pilot");
        assert_eq!(
            sanitize("<b>bold</b>"),
            "<b>bold</b>",
            "kept as text, shown as text"
        );
        assert_eq!(sanitize("a\u{0}b\u{1b}[31mc"), "ab[31mc");
        assert_eq!(sanitize("evil\u{202e}txt.exe"), "eviltxt.exe");
        assert_eq!(sanitize("ääääääääääääääääääää"), "ä".repeat(16));
        assert_eq!(sanitize("fifteen chars x y"), "fifteen chars x");
        assert_eq!(sanitize("\u{200b}\n"), "");
    }

    #[test]
    fn makes_unique() {
        let taken = ["ace", "ace#2", "sixteen-chars-ab", "pilot-7"];
        let is_taken = |n: &str| taken.contains(&n);
        assert_eq!(unique("bob", 1, is_taken), "bob");
        assert_eq!(unique("ace", 1, is_taken), "ace#3");
        assert_eq!(unique("sixteen-chars-ab", 1, is_taken), "sixteen-chars-#2");
        assert_eq!(unique("", 3, is_taken), "pilot-3");
        assert_eq!(unique("", 7, is_taken), "pilot-7#2");
    }
}
