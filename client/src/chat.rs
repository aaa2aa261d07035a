//! The chat as the page holds it: plain Rust, tested natively. Tabs for `#world`,
//! `#race`, `#global` and one per direct conversation; lines filed by (channel, id),
//! so history that overlaps the first live lines is shown once; unread counts; the
//! names this player muted; and what a line typed in the box means.

use shared::protocol::{Channel, ChatLine, MAX_CHAT_CHARS, chat_flags};
use std::collections::{BTreeSet, VecDeque};

/// Lines a tab keeps on the page.
pub const KEEP: usize = 200;

/// One line on the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub id: u64,
    /// Empty for the server's own lines and notices.
    pub from: String,
    pub time: u64,
    pub text: String,
    pub claimed: bool,
    /// A notice from the server or the page (not a player's words).
    pub notice: bool,
}

pub struct Tab {
    /// For a conversation: `Direct(the other player)`.
    pub channel: Channel,
    pub lines: VecDeque<Line>,
    pub unread: u32,
}

impl Tab {
    fn new(channel: Channel) -> Tab {
        Tab {
            channel,
            lines: VecDeque::new(),
            unread: 0,
        }
    }
}

/// What a line typed in the chat box asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Typed {
    Say(Channel, String),
    Mute(String),
    Unmute(String),
    /// Not sent; the text says why or what is possible.
    Help(String),
    Nothing,
}

pub struct Chat {
    pub tabs: Vec<Tab>,
    pub active: usize,
    /// The player's own name (its direct messages file under the addressee).
    pub me: String,
    pub muted: BTreeSet<String>,
}

impl Default for Chat {
    fn default() -> Chat {
        Chat {
            tabs: [Channel::World, Channel::Race, Channel::Global]
                .into_iter()
                .map(Tab::new)
                .collect(),
            active: 0,
            me: String::new(),
            muted: BTreeSet::new(),
        }
    }
}

impl Chat {
    /// Files a line from the server; `open`: the panel is showing (the active tab's
    /// lines are read as they come). Returns whether anything changed.
    pub fn receive(&mut self, line: ChatLine, open: bool) -> bool {
        if self.muted.contains(&line.from) && line.flags & chat_flags::SERVER == 0 {
            return false;
        }
        let key = match &line.channel {
            Channel::Direct(to) if line.from == self.me => Channel::Direct(to.clone()),
            Channel::Direct(_) => Channel::Direct(line.from.clone()),
            other => other.clone(),
        };
        let i = self.tab(key);
        let tab = &mut self.tabs[i];
        let history = line.flags & chat_flags::HISTORY != 0;
        // Filed by id: a line heard twice (history and live) shows once, in order.
        let at = tab.lines.partition_point(|l| l.id < line.id || l.notice);
        if line.id != 0 && tab.lines.get(at).is_some_and(|l| l.id == line.id) {
            return false;
        }
        // News: live, not the player's own words, not in the tab being read.
        let news = !(history || line.from == self.me || (open && i == self.active));
        let new = Line {
            id: line.id,
            claimed: line.flags & chat_flags::CLAIMED != 0,
            notice: line.flags & chat_flags::SERVER != 0,
            from: line.from,
            time: line.time,
            text: line.text,
        };
        if line.id == 0 {
            tab.lines.push_back(new);
        } else {
            tab.lines.insert(at, new);
        }
        while tab.lines.len() > KEEP {
            tab.lines.pop_front();
        }
        if news {
            tab.unread += 1;
        }
        true
    }

    /// A word from the server or the page, shown in the active tab.
    pub fn notice(&mut self, text: String, time: u64) {
        let tab = &mut self.tabs[self.active];
        tab.lines.push_back(Line {
            id: 0,
            from: String::new(),
            time,
            text,
            claimed: false,
            notice: true,
        });
        while tab.lines.len() > KEEP {
            tab.lines.pop_front();
        }
    }

    /// The tab for `channel`, made when missing.
    fn tab(&mut self, channel: Channel) -> usize {
        match self.tabs.iter().position(|t| t.channel == channel) {
            Some(i) => i,
            None => {
                self.tabs.push(Tab::new(channel));
                self.tabs.len() - 1
            }
        }
    }

    /// Shows tab `i`; its lines count as read.
    pub fn select(&mut self, i: usize) {
        if let Some(tab) = self.tabs.get_mut(i) {
            tab.unread = 0;
            self.active = i;
        }
    }

    /// The panel opened: the active tab is read.
    pub fn opened(&mut self) {
        self.select(self.active);
    }

    pub fn unread(&self) -> u32 {
        self.tabs.iter().map(|t| t.unread).sum()
    }

    /// What `raw` typed in the box means: `@name text` a direct message, `/mute name`,
    /// `/unmute name`, `/help`; anything else goes to the active tab.
    pub fn typed(&self, raw: &str) -> Typed {
        let raw = raw.trim();
        if raw.is_empty() {
            return Typed::Nothing;
        }
        if let Some(rest) = raw.strip_prefix('/') {
            let (command, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            let arg = arg.trim().trim_start_matches('@').to_owned();
            return match (command, arg.is_empty()) {
                ("mute", false) => Typed::Mute(arg),
                ("unmute", false) => Typed::Unmute(arg),
                _ => Typed::Help(
                    "@name message: to one player · /mute name, /unmute name: for you only · Tab: next channel".into(),
                ),
            };
        }
        let (channel, text) = match raw.strip_prefix('@') {
            // Names may hold spaces: the longest known conversation name that fits wins,
            // else the first word.
            Some(rest) => {
                let known = (self.tabs.iter()).filter_map(|t| match &t.channel {
                    Channel::Direct(n) if rest.starts_with(&format!("{n} ")) => Some(n.clone()),
                    _ => None,
                });
                let name = known
                    .max_by_key(|n| n.len())
                    .unwrap_or_else(|| rest.split(' ').next().unwrap_or_default().to_owned());
                let text = rest[name.len()..].trim().to_owned();
                (Channel::Direct(name), text)
            }
            None => (self.tabs[self.active].channel.clone(), raw.to_owned()),
        };
        match text.chars().count() {
            0 => Typed::Nothing,
            n if n > MAX_CHAT_CHARS => Typed::Help(format!(
                "messages are at most {MAX_CHAT_CHARS} characters ({n} typed)"
            )),
            _ => Typed::Say(channel, text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: u64, channel: Channel, from: &str, flags: u8) -> ChatLine {
        ChatLine {
            id,
            channel,
            from: from.into(),
            flags,
            time: 1,
            text: format!("m{id}"),
        }
    }

    fn texts(tab: &Tab) -> Vec<&str> {
        tab.lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn files_lines_by_channel_once_in_order() {
        let mut chat = Chat {
            me: "me".into(),
            ..Chat::default()
        };
        assert!(chat.receive(line(5, Channel::World, "a", 0), false));
        assert!(chat.receive(line(3, Channel::World, "a", chat_flags::HISTORY), false));
        assert!(!chat.receive(line(5, Channel::World, "a", chat_flags::HISTORY), false));
        assert!(chat.receive(line(4, Channel::Race, "", chat_flags::SERVER), false));
        assert_eq!(texts(&chat.tabs[0]), ["m3", "m5"]);
        assert_eq!(texts(&chat.tabs[1]), ["m4"]);
        assert!(chat.tabs[1].lines[0].notice);
        assert_eq!(
            (chat.tabs[0].unread, chat.tabs[1].unread),
            (1, 1),
            "history is not news"
        );
        chat.select(1);
        assert_eq!(chat.unread(), 1);
        assert!(chat.receive(line(6, Channel::Race, "b", 0), true));
        assert_eq!(chat.tabs[1].unread, 0, "read as it comes");
        assert!(chat.receive(line(7, Channel::World, "me", 0), false));
        assert_eq!(chat.tabs[0].unread, 1, "my own words are not news");
    }

    #[test]
    fn direct_messages_file_under_the_other_player() {
        let mut chat = Chat {
            me: "me".into(),
            ..Chat::default()
        };
        chat.receive(line(0, Channel::Direct("me".into()), "bo", 0), false);
        chat.receive(line(0, Channel::Direct("bo".into()), "me", 0), false);
        assert_eq!(chat.tabs.len(), 4);
        assert_eq!(chat.tabs[3].channel, Channel::Direct("bo".into()));
        assert_eq!(chat.tabs[3].lines.len(), 2);
    }

    #[test]
    fn muted_players_are_not_shown_but_the_server_is() {
        let mut chat = Chat::default();
        chat.muted.insert("spam".into());
        assert!(!chat.receive(line(1, Channel::World, "spam", 0), false));
        assert!(chat.receive(line(2, Channel::World, "ok", 0), false));
        assert_eq!(texts(&chat.tabs[0]), ["m2"]);
    }

    #[test]
    fn keeps_the_last_lines() {
        let mut chat = Chat::default();
        for id in 1..=(KEEP as u64 + 10) {
            chat.receive(line(id, Channel::Global, "a", 0), false);
        }
        assert_eq!(chat.tabs[2].lines.len(), KEEP);
        assert_eq!(chat.tabs[2].lines[0].id, 11);
    }

    #[test]
    fn reads_what_was_typed() {
        let mut chat = Chat::default();
        chat.receive(line(0, Channel::Direct("x".into()), "big bo", 0), false);
        assert_eq!(chat.typed("  "), Typed::Nothing);
        assert_eq!(
            chat.typed(" <b>hi</b> "),
            Typed::Say(Channel::World, "<b>hi</b>".into())
        );
        assert_eq!(
            chat.typed("@bo psst"),
            Typed::Say(Channel::Direct("bo".into()), "psst".into())
        );
        assert_eq!(
            chat.typed("@big bo hey there"),
            Typed::Say(Channel::Direct("big bo".into()), "hey there".into()),
            "a known name with a space"
        );
        assert_eq!(chat.typed("@bo"), Typed::Nothing);
        assert_eq!(chat.typed("/mute @spam"), Typed::Mute("spam".into()));
        assert_eq!(chat.typed("/unmute spam"), Typed::Unmute("spam".into()));
        assert!(matches!(chat.typed("/mute"), Typed::Help(_)));
        assert!(matches!(chat.typed(&"x".repeat(301)), Typed::Help(_)));
        chat.select(2);
        assert_eq!(chat.typed("yo"), Typed::Say(Channel::Global, "yo".into()));
    }
}
