//! The rooms panel: fetched from `GET /api/rooms`, written as text nodes and links that
//! reload the page into a room (`/?room=<id>`, the player's name kept); and the count
//! of players in every room for the HUD.

use crate::race::clock;
use crate::web::{fetch_json, get};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Response, Window};

/// Why `/api/join` gave no room.
pub enum Refusal {
    /// Every room (or the one asked for) is full: the text says so.
    Full(String),
    Other(JsValue),
}

/// Asks `/api/join` where to play: the room, and the seat held there (with Redis).
pub async fn join(window: &Window) -> Result<(String, Option<String>), Refusal> {
    let answer = async {
        let response: Response = JsFuture::from(window.fetch_with_str("/api/join"))
            .await?
            .dyn_into()?;
        let status = response.status();
        Ok::<_, JsValue>((status, JsFuture::from(response.json()?).await?))
    };
    let (status, json) = answer.await.map_err(Refusal::Other)?;
    match (status, get(&json, "room").as_string()) {
        (200, Some(room)) => Ok((room, get(&json, "seat").as_string())),
        (409, _) => Err(Refusal::Full(
            get(&json, "error").as_string().unwrap_or_default(),
        )),
        _ => Err(Refusal::Other(format!("/api/join: HTTP {status}").into())),
    }
}

/// Fetches the rooms and fills the panel (`here`: the room this page is in, marked);
/// failures are logged and leave the panel as it was.
pub fn refresh(window: &Window, document: &Document, here: String, name: String) {
    let (window, document) = (window.clone(), document.clone());
    wasm_bindgen_futures::spawn_local(async move {
        match fetch_json(&window, "/api/rooms").await {
            Ok(json) => fill(&document, &json, &here, &name),
            Err(e) => web_sys::console::warn_2(&"rooms unavailable".into(), &e),
        }
    });
}

/// The link that puts a player into room `id` (empty: the server picks one) under
/// `name` (empty: the server picks one).
pub fn room_link(id: &str, name: &str) -> String {
    let mut params = Vec::new();
    if !id.is_empty() {
        params.push(format!("room={}", js_sys::encode_uri_component(id)));
    }
    if !name.is_empty() {
        params.push(format!("name={}", js_sys::encode_uri_component(name)));
    }
    match params.is_empty() {
        true => "/".into(),
        false => format!("/?{}", params.join("&")),
    }
}

fn fill(document: &Document, json: &wasm_bindgen::JsValue, here: &str, name: &str) {
    let total = get(json, "players").as_f64().unwrap_or(0.0);
    if let Some(el) = document.get_element_by_id("hud-all") {
        el.set_text_content(Some(&format!("{total:.0}")));
    }
    // With Redis away, only this server's rooms are known: say so, play goes on.
    if let Some(note) = document.get_element_by_id("lobby-note") {
        let down = get(json, "redis").as_string().as_deref() == Some("down");
        let text = "The cluster's registry (Redis) is unavailable: only this server's rooms \
                    are listed. Play goes on.";
        note.set_text_content(down.then_some(text));
        let _ = note.toggle_attribute_with_force("hidden", !down);
    }
    let Some(list) = document.get_element_by_id("lobby-list") else {
        return;
    };
    list.set_text_content(None);
    let rooms: js_sys::Array = get(json, "rooms").dyn_into().unwrap_or_default();
    for room in rooms.iter() {
        let id = get(&room, "id").as_string().unwrap_or_default();
        let players = get(&room, "players").as_f64().unwrap_or(0.0);
        let capacity = get(&room, "capacity").as_f64().unwrap_or(0.0);
        let map = get(&room, "map").as_string().unwrap_or_default();
        let record = get(&room, "record");
        let record = match (
            get(&record, "name").as_string(),
            get(&record, "seconds").as_f64(),
        ) {
            (Some(who), Some(s)) => format!("record {} by {who}", clock(s)),
            _ => "no record yet".to_owned(),
        };
        let full = players >= capacity;
        let line = format!("{id} · {map} · {players:.0}/{capacity:.0} players · {record}");
        let (Ok(li), Ok(link)) = (document.create_element("li"), document.create_element("a"))
        else {
            continue;
        };
        li.set_text_content(Some(&format!("{line} "))); // text, never markup
        let label = match (id == here, full) {
            (true, _) => "you are here",
            (false, true) => "full",
            (false, false) => "join",
        };
        link.set_text_content(Some(label));
        if id != here && !full {
            let _ = link.set_attribute("href", &room_link(&id, name));
        }
        let _ = li.append_child(&link);
        let _ = li.set_attribute("data-room", &id);
        let _ = list.append_child(&li);
    }
}
