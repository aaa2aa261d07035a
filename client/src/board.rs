//! The leaderboard panel: fetched from `GET /api/leaderboard` and written into the page
//! as text nodes only (names are never parsed as markup).

use crate::race::clock;
use crate::web::{fetch_json, get};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Window};

/// Fetches the board of this course (with `name`'s best and rank) and fills the panel;
/// failures are logged and leave the panel as it was.
pub fn refresh(window: &Window, document: &Document, course: u64, name: &str) {
    let query = js_sys::encode_uri_component(name);
    let url = format!("/api/leaderboard?course={course:016x}&name={query}");
    let (window, document) = (window.clone(), document.clone());
    wasm_bindgen_futures::spawn_local(async move {
        match fetch_json(&window, &url).await {
            Ok(json) => fill(&document, &json),
            Err(e) => web_sys::console::warn_2(&"leaderboard unavailable".into(), &e),
        }
    });
}

fn fill(document: &Document, json: &JsValue) {
    for (id, key) in [("board-all", "all_time"), ("board-today", "today")] {
        let Some(list) = document.get_element_by_id(id) else {
            continue;
        };
        list.set_text_content(None);
        let entries: js_sys::Array = get(json, key).dyn_into().unwrap_or_default();
        let lines: Vec<String> = entries
            .iter()
            .map(|e| {
                let name = get(&e, "name").as_string().unwrap_or_default();
                let seconds = get(&e, "seconds").as_f64().unwrap_or(0.0);
                // A claimed name: its owner flew this.
                let mark = if get(&e, "claimed").as_bool() == Some(true) {
                    " ✓"
                } else {
                    ""
                };
                format!("{name}{mark} {}", clock(seconds))
            })
            .collect();
        let empty = ["no runs yet".to_owned()];
        let lines = if lines.is_empty() { &empty[..] } else { &lines };
        for line in lines {
            if let Ok(li) = document.create_element("li") {
                li.set_text_content(Some(line));
                let _ = list.append_child(&li);
            }
        }
    }
    let you = get(json, "you");
    let text = match (get(&you, "seconds").as_f64(), get(&you, "rank").as_f64()) {
        (Some(s), Some(rank)) => format!("Your best: {} (#{rank})", clock(s)),
        _ => "No finished run of yours yet".to_owned(),
    };
    if let Some(p) = document.get_element_by_id("board-you") {
        p.set_text_content(Some(&text));
    }
}
