//! Static files: mapping a request target to a file under the web root, safely.

use std::path::{Path, PathBuf};

/// Why a target cannot be served; each maps to a status code.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// Not a plain origin-form path, bad escapes, `..`, NUL, encoded slashes: 400.
    Bad,
    /// Fine, but nothing there (or a symlink out of the root): 404.
    NotFound,
}

/// Turns a request target into a relative path: no query, percent-decoded, and with no
/// component that could climb out of the root. Pure; see [`resolve`] for the file system.
pub fn relative_path(target: &str) -> Result<PathBuf, PathError> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(PathError::Bad);
    }
    let mut out = PathBuf::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let segment = percent_decode(raw).ok_or(PathError::Bad)?;
        let forbidden = segment == "."
            || segment == ".."
            || segment.contains(['/', '\\', '\0'])
            || segment.starts_with('.');
        if forbidden {
            return Err(PathError::Bad);
        }
        out.push(segment);
    }
    if path.ends_with('/') || out.as_os_str().is_empty() {
        out.push("index.html");
    }
    Ok(out)
}

/// Finds the file for `target` under `root` (which must be canonical), following
/// symlinks only while they stay inside the root.
pub fn resolve(root: &Path, target: &str) -> Result<PathBuf, PathError> {
    let mut path = root.join(relative_path(target)?);
    if path.is_dir() {
        path.push("index.html");
    }
    let real = path.canonicalize().map_err(|_| PathError::NotFound)?;
    if !real.starts_with(root) || !real.is_file() {
        return Err(PathError::NotFound);
    }
    Ok(real)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether a response of this type shrinks under deflate (text and wasm do; images not).
pub fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/wasm" | "application/json" | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_targets_to_paths() {
        let ok = |t: &str, p: &str| assert_eq!(relative_path(t), Ok(PathBuf::from(p)), "{t}");
        ok("/", "index.html");
        ok("/index.html?v=1", "index.html");
        ok("/pkg/client.js", "pkg/client.js");
        ok("/pkg/", "pkg/index.html");
        ok("//pkg//a%20b.js", "pkg/a b.js");
    }

    #[test]
    fn traversal_is_impossible() {
        for t in [
            "/../etc/passwd",
            "/pkg/../../x",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/pkg%2f..%2fx",
            "/a%00b",
            "/a%5c..%5cb",
            "/.git/config",
            "/%zz",
            "/%e",
            "/%ff",
            "http://example.com/",
            "*",
            "etc/passwd",
        ] {
            assert_eq!(relative_path(t), Err(PathError::Bad), "{t}");
        }
    }

    #[test]
    fn symlinks_out_of_the_root_are_not_found() {
        let dir = std::env::temp_dir().join(format!("voxelcast-files-{}", std::process::id()));
        let root = dir.join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(dir.join("secret.txt"), "s").unwrap();
        std::fs::write(root.join("sub/ok.txt"), "ok").unwrap();
        let _ = std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("leak.txt"));
        let _ = std::os::unix::fs::symlink(root.join("sub/ok.txt"), root.join("inside.txt"));
        let root = root.canonicalize().unwrap();
        assert_eq!(resolve(&root, "/leak.txt"), Err(PathError::NotFound));
        assert_eq!(resolve(&root, "/missing.txt"), Err(PathError::NotFound));
        assert_eq!(
            resolve(&root, "/sub"),
            Err(PathError::NotFound),
            "dir without index"
        );
        assert!(
            resolve(&root, "/inside.txt")
                .unwrap()
                .ends_with("sub/ok.txt")
        );
        assert!(resolve(&root, "/sub/ok.txt").is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Path::new("a/client_bg.wasm")),
            "application/wasm"
        );
        assert_eq!(
            content_type(Path::new("client.js")),
            "text/javascript; charset=utf-8"
        );
    }
}
