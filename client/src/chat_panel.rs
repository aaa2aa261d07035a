//! The chat panel in the page: tabs with unread counts and the active tab's lines,
//! written as text nodes only (a message or a name is never parsed as markup, and no
//! link is made of it). Muted names live in `localStorage`, so they stay muted.

use crate::chat::{Chat, Line};
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, Window};

const MUTED_KEY: &str = "voxelcast.muted";

/// Draws the panel from `chat`: the tabs, the active tab's lines (scrolled to the
/// newest), and the unread count beside the panel's title.
pub fn render(document: &Document, chat: &Chat, open: bool) -> Result<(), JsValue> {
    let unread = chat.unread();
    if let Some(el) = document.get_element_by_id("chat-unread") {
        el.set_text_content(Some(&match unread {
            0 => String::new(),
            n => format!("{n} new"),
        }));
    }
    if !open {
        return Ok(());
    }
    if let Some(tabs) = document.get_element_by_id("chat-tabs") {
        tabs.set_text_content(None);
        for (i, tab) in chat.tabs.iter().enumerate() {
            let button = document.create_element("button")?;
            button.set_attribute("type", "button")?;
            button.set_attribute("data-tab", &i.to_string())?;
            if i == chat.active {
                button.set_attribute("aria-selected", "true")?;
            }
            let label = match tab.unread {
                0 => tab.channel.label(),
                n => format!("{} ({n})", tab.channel.label()),
            };
            button.set_text_content(Some(&label));
            tabs.append_child(&button)?;
        }
    }
    let Some(log) = document.get_element_by_id("chat-log") else {
        return Ok(());
    };
    log.set_text_content(None);
    for line in &chat.tabs[chat.active].lines {
        let item = line_item(document, line)?;
        log.append_child(&item)?;
    }
    log.set_scroll_top(log.scroll_height());
    Ok(())
}

/// One line: time, name (a button that starts a direct message), text.
fn line_item(document: &Document, line: &Line) -> Result<Element, JsValue> {
    let li = document.create_element("li")?;
    if line.notice {
        li.set_class_name("notice");
    }
    let time = document.create_element("time")?;
    time.set_text_content(Some(&clock_of(line.time)));
    li.append_child(&time)?;
    if !line.from.is_empty() {
        let name = document.create_element("button")?;
        name.set_attribute("type", "button")?;
        name.set_class_name("who");
        name.set_attribute("data-name", &line.from)?;
        let mark = if line.claimed { " ✓" } else { "" };
        name.set_text_content(Some(&format!("{}{mark}", line.from)));
        li.append_child(&name)?;
    }
    let text = document.create_element("span")?;
    text.set_text_content(Some(&line.text));
    li.append_child(&text)?;
    Ok(li)
}

/// `HH:MM` in the player's own time zone.
fn clock_of(ms: u64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// The names this browser muted.
pub fn load_muted(window: &Window) -> Vec<String> {
    let stored = (window.local_storage().ok().flatten())
        .and_then(|s| s.get_item(MUTED_KEY).ok().flatten())
        .unwrap_or_default();
    let parsed = js_sys::JSON::parse(&stored).unwrap_or(JsValue::NULL);
    if !js_sys::Array::is_array(&parsed) {
        return Vec::new(); // nothing stored yet, or something else under our key
    }
    js_sys::Array::from(&parsed)
        .iter()
        .filter_map(|v| v.as_string())
        .collect()
}

pub fn save_muted(window: &Window, chat: &Chat) {
    let list: js_sys::Array = chat.muted.iter().map(|n| JsValue::from_str(n)).collect();
    if let (Some(storage), Ok(json)) = (
        window.local_storage().ok().flatten(),
        js_sys::JSON::stringify(&list),
    ) {
        let _ = storage.set_item(MUTED_KEY, &String::from(json));
    }
}
