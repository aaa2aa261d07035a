//! The account box in the HUD: who this browser plays as, and claiming the name with a
//! password, signing in, changing the password, signing out (`/api/account…`). The
//! session lives in an `HttpOnly` cookie this code never sees; after signing in or
//! out the page reloads, so the game's socket carries the new cookie.

use crate::web::{element, fetch_json, get, post_json};
use web_sys::{Document, HtmlElement, HtmlInputElement, Window};

/// What the form is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Claim,
    SignIn,
    Password,
}

/// The account as the page knows it.
#[derive(Default)]
pub struct Account {
    /// Signed in as this name.
    pub name: Option<String>,
    pub mode: Option<Mode>,
}

/// Asks who this browser is and fills the box; `done` gets the answer.
pub fn refresh(window: &Window, document: &Document, done: impl FnOnce(Option<String>) + 'static) {
    let (window, document) = (window.clone(), document.clone());
    wasm_bindgen_futures::spawn_local(async move {
        match fetch_json(&window, "/api/account").await {
            Ok(json) => {
                let name = (get(&json, "signed_in").as_bool() == Some(true))
                    .then(|| get(&json, "name").as_string())
                    .flatten();
                show_state(&document, name.as_deref());
                done(name);
            }
            Err(e) => web_sys::console::warn_2(&"account unavailable".into(), &e),
        }
    });
}

fn show_state(document: &Document, name: Option<&str>) {
    let text = match name {
        Some(n) => format!("signed in as {n} ✓"),
        None => "playing as a guest".into(),
    };
    set(document, "account-state", &text);
    set(
        document,
        "account-btn",
        if name.is_some() {
            "Sign out"
        } else {
            "Claim this name"
        },
    );
    set(
        document,
        "account-switch",
        if name.is_some() {
            "Change password"
        } else {
            "I have an account: sign in"
        },
    );
    if let Ok(b) = element::<HtmlElement>(document, "account-switch") {
        b.set_hidden(false);
    }
}

fn set(document: &Document, id: &str, text: &str) {
    if let Some(e) = document.get_element_by_id(id) {
        e.set_text_content(Some(text));
    }
}

/// Shows the form for `mode` (`None` hides it); `name`: the name to offer.
pub fn show_form(document: &Document, mode: Option<Mode>, name: &str) {
    let Ok(form) = element::<HtmlElement>(document, "account-form") else {
        return;
    };
    form.set_hidden(mode.is_none());
    let Some(mode) = mode else {
        return;
    };
    let field = |id: &str| element::<HtmlInputElement>(document, id).ok();
    if let Some(n) = field("account-name") {
        n.set_hidden(mode == Mode::Password);
        if n.value().is_empty() {
            n.set_value(name);
        }
    }
    if let Some(p) = field("account-password") {
        p.set_placeholder(match mode {
            Mode::Claim => "new password (8 or more)",
            Mode::SignIn => "password",
            Mode::Password => "current password",
        });
        let _ = p.set_attribute(
            "autocomplete",
            if mode == Mode::Claim {
                "new-password"
            } else {
                "current-password"
            },
        );
    }
    if let Some(p) = field("account-new") {
        p.set_hidden(mode != Mode::Password);
    }
    set(
        document,
        "account-submit",
        match mode {
            Mode::Claim => "Claim",
            Mode::SignIn => "Sign in",
            Mode::Password => "Change",
        },
    );
    set(document, "account-why", "");
}

/// Sends the form; on success the page reloads (a new cookie, or none), or for a
/// password change says so.
pub fn submit(window: &Window, document: &Document, mode: Mode) {
    let value = |id: &str| {
        element::<HtmlInputElement>(document, id)
            .map(|i| i.value())
            .unwrap_or_default()
    };
    let body = js_sys::Object::new();
    let put = |k: &str, v: String| {
        let _ = js_sys::Reflect::set(&body, &k.into(), &v.into());
    };
    let url = match mode {
        Mode::Claim | Mode::SignIn => {
            put("name", value("account-name"));
            put("password", value("account-password"));
            if mode == Mode::Claim {
                "/api/account/claim"
            } else {
                "/api/account/signin"
            }
        }
        Mode::Password => {
            put("old", value("account-password"));
            put("new", value("account-new"));
            "/api/account/password"
        }
    };
    let (window, document) = (window.clone(), document.clone());
    wasm_bindgen_futures::spawn_local(async move {
        let why = match post_json(&window, url, &body).await {
            Ok((200..=201, _)) if mode == Mode::Password => "password changed".to_owned(),
            Ok((200..=201, _)) => {
                let _ = window.location().reload();
                return;
            }
            Ok((_, json)) => get(&json, "error")
                .as_string()
                .unwrap_or_else(|| "that did not work".into()),
            Err(e) => format!("{e:?}"),
        };
        set(&document, "account-why", &why); // text, never markup
        for id in ["account-password", "account-new"] {
            if let Ok(i) = element::<HtmlInputElement>(&document, id) {
                i.set_value("");
            }
        }
    });
}

/// Signs out and reloads as a guest.
pub fn sign_out(window: &Window) {
    let window = window.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = post_json(
            &window,
            "/api/account/signout",
            &js_sys::Object::new().into(),
        )
        .await;
        let _ = window.location().reload();
    });
}
