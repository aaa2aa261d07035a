//! The game's JSON endpoints: `GET /api/course` and `GET /api/leaderboard`
//! (docs/PROTOCOL.md, "HTTP endpoints"). Queries are checked first: anything unknown or
//! malformed is a 400 with the reason, never a guess.

use super::Game;
use crate::http::query;
use serde_json::json;

/// Most lines a board may ask for.
const MAX_LIMIT: u32 = 50;

/// An answer: the network layer's, so it goes out as it is.
pub use crate::net::ApiReply as Reply;

pub(crate) fn reply(status: u16, body: serde_json::Value) -> Reply {
    Reply {
        headers: Vec::new(),
        status,
        content_type: "application/json",
        cache: "no-store",
        etag: None,
        body: (body.to_string() + "\n").into(),
    }
}

pub(crate) fn bad(why: impl std::fmt::Display) -> Reply {
    reply(400, json!({ "error": why.to_string() }))
}

pub(crate) fn not_found(why: impl std::fmt::Display) -> Reply {
    reply(404, json!({ "error": why.to_string() }))
}

/// What `/api/leaderboard` was asked.
#[derive(Debug, PartialEq, Eq)]
struct BoardQuery {
    course: Option<String>,
    name: Option<String>,
    limit: u32,
}

fn board_query(q: &str) -> Result<BoardQuery, String> {
    let mut out = BoardQuery {
        course: None,
        name: None,
        limit: 10,
    };
    for (k, v) in query::parse(q).map_err(|e| e.to_string())? {
        match k.as_str() {
            "course" => {
                if v.len() != 16 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err("course is 16 hex digits".into());
                }
                out.course = Some(v.to_ascii_lowercase());
            }
            "name" => {
                if v.is_empty() || v.chars().count() > super::names::MAX_CHARS {
                    return Err(format!(
                        "name is 1 to {} characters",
                        super::names::MAX_CHARS
                    ));
                }
                out.name = Some(v);
            }
            "limit" => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => out.limit = n,
                _ => return Err(format!("limit is 1 to {MAX_LIMIT}")),
            },
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    Ok(out)
}

/// Milliseconds since the epoch at the start of today (UTC).
fn start_of_today() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    now - now % 86_400_000
}

impl Game {
    /// Answers `GET /api/…` and `GET /map/…`; `None` for a path that is not ours.
    pub async fn api(&self, path: &str, q: &str) -> Option<Reply> {
        if let Some(id) = path.strip_prefix("/map/") {
            return Some(self.map_reply(id));
        }
        match path {
            "/api/course" => Some(self.course_json(q)),
            "/api/overview.png" => Some(Reply {
                headers: Vec::new(),
                status: 200,
                content_type: "image/png",
                // The map never changes while the server runs.
                cache: "public, max-age=3600",
                etag: Some(format!("\"o{:016x}\"", self.map_id)),
                body: self.overview.clone(),
            }),
            "/api/leaderboard" => Some(self.leaderboard_json(q).await),
            _ => None,
        }
    }

    /// The map for browser-side rendering (`Map::to_compressed`), named by its hash: the
    /// same name is always the same bytes, so caches keep it for good.
    fn map_reply(&self, id: &str) -> Reply {
        if id != format!("{:016x}", self.map_id) {
            return not_found("no such map here");
        }
        Reply {
            headers: Vec::new(),
            status: 200,
            content_type: "application/octet-stream",
            cache: "public, max-age=31536000, immutable",
            etag: Some(format!("\"{id}\"")),
            body: self.map_bytes.clone(),
        }
    }

    fn course_json(&self, q: &str) -> Reply {
        if !q.is_empty() {
            return bad("this endpoint takes no parameters");
        }
        let gates: Vec<_> = (self.course.gates.iter())
            .map(|g| {
                json!({
                    "x": g.x, "y": g.y, "altitude": g.altitude,
                    "yaw": g.yaw, "radius": g.radius,
                })
            })
            .collect();
        reply(
            200,
            json!({
                "course": self.records.course(),
                "tick_hz": super::TICK_HZ,
                "gates": gates,
            }),
        )
    }

    async fn leaderboard_json(&self, q: &str) -> Reply {
        let query = match board_query(q) {
            Ok(query) => query,
            Err(why) => return bad(why),
        };
        let Some(store) = self.records.store() else {
            return reply(503, json!({ "error": "this server keeps no records" }));
        };
        let course = query.course.as_deref().unwrap_or(self.records.course());
        let lines = |entries: Vec<crate::store::Entry>| -> Vec<serde_json::Value> {
            (entries.into_iter().enumerate())
                .map(|(i, e)| {
                    json!({
                        "rank": i + 1,
                        "name": e.name,
                        "ticks": e.time,
                        "seconds": e.time as f64 / super::TICK_HZ as f64,
                        "finished_at": e.finished_at,
                        "claimed": e.claimed,
                    })
                })
                .collect()
        };
        let answer = async {
            let all = store.leaderboard(course, 0, query.limit).await?;
            let today = store
                .leaderboard(course, start_of_today(), query.limit)
                .await?;
            let you = match &query.name {
                Some(name) => store.best_of(course, name).await?,
                None => None,
            };
            Ok::<_, crate::store::StoreError>((all, today, you))
        };
        match answer.await {
            Ok((all, today, you)) => reply(
                200,
                json!({
                    "course": course,
                    "tick_hz": super::TICK_HZ,
                    "all_time": lines(all),
                    "today": lines(today),
                    "you": match (&query.name, you) {
                        (Some(name), Some((ticks, rank))) => json!({
                            "name": name, "ticks": ticks, "rank": rank,
                            "seconds": ticks as f64 / super::TICK_HZ as f64,
                        }),
                        (Some(name), None) => json!({ "name": name, "ticks": null, "rank": null }),
                        _ => serde_json::Value::Null,
                    },
                }),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "leaderboard unavailable");
                reply(503, json!({ "error": "the records are unavailable" }))
            }
        }
    }
}

/// The map from above for the page's minimap: its colours, `SIZE` pixels a side at
/// most (every cell, or every n-th), as a PNG.
pub fn overview_png(map: &shared::Map) -> Vec<u8> {
    const SIZE: u32 = 256;
    let step = (map.width().max(map.height()) / SIZE).max(1);
    let (w, h) = (map.width() / step, map.height() / step);
    let palette = map.palette();
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| palette.0[map.at((x * step) as i64, (y * step) as i64).1 as usize])
        .collect();
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let written = enc
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb));
    if let Err(e) = written {
        tracing::error!(error = %e, "cannot make the minimap picture");
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_is_the_colour_map_from_above() {
        let map = shared::mapgen::generate_sized(512, 4);
        let png = overview_png(&map);
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!((info.width, info.height), (256, 256));
        // Pixel (10, 20) is cell (20, 40)'s colour.
        let want = map.palette().0[map.at(20, 40).1 as usize];
        let at = (20 * 256 + 10) * 3;
        assert_eq!(rgb[at..at + 3], want);
    }

    #[test]
    fn board_queries_are_checked() {
        assert_eq!(
            board_query("course=00000000000000FF&name=Ann+B&limit=3"),
            Ok(BoardQuery {
                course: Some("00000000000000ff".into()),
                name: Some("Ann B".into()),
                limit: 3
            })
        );
        assert_eq!(board_query("").map(|q| q.limit), Ok(10));
        for bad in [
            "course=12",
            "course=zz00000000000000",
            "limit=0",
            "limit=51",
            "limit=ten",
            "name=",
            "name=abcdefghijklmnopq",
            "name=%ff",
            "colour=red",
            "limit=1&limit=2",
        ] {
            assert!(board_query(bad).is_err(), "{bad}");
        }
    }
}
