//! Between the game and the store: finished runs are queued here by the tick (which
//! never waits), saved by one task, and announced only once committed.

use super::bus::Announcement;
use super::race::{Best, Finished};
use super::{Game, ws_binary};
use crate::store::{NewRun, Store, StoreError};
use shared::protocol::{GhostRun, Message, RaceEvent, RunResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Finished runs waiting to be saved; past this the disk is hopelessly slow and a run
/// is reported as not saved rather than queued without bound.
const QUEUE: usize = 256;

/// A run to save, and who to tell.
struct Job {
    player: u16,
    run: NewRun,
}

/// What the game starts with: every name's best run and the record's flight.
#[derive(Default)]
pub struct Loaded {
    pub bests: HashMap<String, Best>,
    pub ghost: Option<GhostRun>,
}

pub struct Records {
    store: Option<Store>,
    course: String,
    queue: Option<mpsc::Sender<Job>>,
    waiting: Mutex<Option<mpsc::Receiver<Job>>>,
    pub saved: AtomicU64,
    pub failed: AtomicU64,
}

/// The course's name on the boards.
pub fn course_name(id: u64) -> String {
    format!("{id:016x}")
}

impl Records {
    /// Loads what the game needs from `store` for course `id`.
    pub async fn open(store: Option<Store>, id: u64) -> Result<(Records, Loaded), StoreError> {
        let course = course_name(id);
        let mut loaded = Loaded::default();
        if let Some(store) = &store {
            loaded.bests = (store.bests(&course).await?.into_iter())
                .map(|(name, b)| {
                    let best = Best {
                        time: b.time,
                        splits: b.splits,
                    };
                    (name, best)
                })
                .collect();
            loaded.ghost = store.record(&course).await?.map(|r| GhostRun {
                name: r.name,
                time: r.time,
                samples: r.samples,
            });
        }
        let (queue, waiting) = match store {
            Some(_) => {
                let (tx, rx) = mpsc::channel(QUEUE);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let records = Records {
            store,
            course,
            queue,
            waiting: Mutex::new(waiting),
            saved: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        };
        Ok((records, loaded))
    }

    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    pub fn course(&self) -> &str {
        &self.course
    }

    /// Starts the task that saves runs (once).
    pub fn start(&self, game: Arc<Game>) {
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let (Some(store), Some(rx)) = (self.store.clone(), waiting) {
            tokio::spawn(saver(game, store, rx));
        }
    }

    /// Queues `run` of player `player` (named `name`) to be saved; never waits. `false`:
    /// it cannot be (no database, or too many waiting).
    pub fn save(&self, player: u16, name: &str, run: Finished) -> bool {
        let Some(queue) = &self.queue else {
            return false;
        };
        let finished_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let job = Job {
            player,
            run: NewRun {
                course: self.course.clone(),
                name: name.to_owned(),
                time: run.time,
                splits: run.splits,
                finished_at,
                samples: run.samples,
            },
        };
        let queued = queue.try_send(job).is_ok();
        if !queued {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }
}

/// Saves runs one at a time, in the order they finished; announces each once committed.
async fn saver(game: Arc<Game>, store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(job) = rx.recv().await {
        match store.save_run(&job.run).await {
            Ok(saved) => {
                game.records.saved.fetch_add(1, Ordering::Relaxed);
                tracing::info!(name = %job.run.name, ticks = job.run.time, rank = saved.rank, record = saved.record, "run saved");
                game.announce(job.run, saved);
            }
            Err(e) => {
                game.records.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, name = %job.run.name, ticks = job.run.time, "run not saved");
                game.with_player(job.player, |p| {
                    let _ = p
                        .out
                        .try_send(ws_binary(&Message::Race(RaceEvent::NotSaved)));
                });
            }
        }
    }
}

impl Game {
    /// Tells everyone about a saved run: this room at once, the others through the bus.
    fn announce(&self, run: NewRun, saved: crate::store::Saved) {
        let best = saved.personal_best.then(|| {
            let best = Best {
                time: run.time,
                splits: run.splits,
            };
            (run.name.clone(), best)
        });
        let announcement = Announcement {
            from: self.room.clone(),
            result: RunResult {
                course: self.course_id,
                name: run.name.clone(),
                time: run.time,
                rank: saved.rank,
                record: saved.record,
            },
            best,
            ghost: saved.record.then(|| {
                Arc::new(GhostRun {
                    name: run.name,
                    time: run.time,
                    samples: run.samples,
                })
            }),
        };
        self.hear(&announcement);
        self.post_result(&announcement.result);
        self.bus.publish(announcement);
    }

    /// A saved run, from this room or another: every player here sees the result; on
    /// this room's course the name's best and, for a record, the ghost follow it.
    fn hear(&self, a: &Announcement) {
        let result = ws_binary(&Message::Result(a.result.clone()));
        let mut players = self.players();
        let ours = a.result.course == self.course_id;
        if ours && let Some((name, best)) = &a.best {
            players.bests.insert(name.clone(), best.clone());
        }
        let ghost = (a.ghost.as_ref()).filter(|_| ours).map(|ghost| {
            players.ghost = Some(ghost.clone());
            ws_binary(&Message::Ghost((**ghost).clone()))
        });
        for p in players.by_id.values_mut().filter(|p| p.welcomed) {
            let _ = p.out.try_send(result.clone());
            if let Some(g) = &ghost {
                let _ = p.out.try_send(g.clone());
                p.dirty = true;
            }
        }
    }

    /// Listens to the other rooms' announcements until the bus closes.
    pub(super) fn hear_others(
        self: &Arc<Self>,
        mut rx: tokio::sync::broadcast::Receiver<Arc<Announcement>>,
    ) {
        let game = self.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match rx.recv().await {
                    Ok(a) if a.from != game.room => game.hear(&a),
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, room = %game.room, "missed other rooms' results");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{GameConfig, race::Finished};
    use crate::ws::outbox::{self, Next};
    use shared::Viewport;
    use shared::protocol::{FrameEncoding, Hello, RenderMode, VERSION};

    /// A welcomed browser-side player named `name`, and its outbox's reading end.
    fn join(game: &Game, name: &str) -> (u16, String, outbox::Drain) {
        let (out, drain) = outbox::outbox(16);
        let hello = Hello {
            version: VERSION,
            mode: RenderMode::Client,
            width: 64,
            height: 48,
            encodings: FrameEncoding::Raw.bit(),
            name: name.into(),
        };
        let (id, name, ..) = game
            .join(&hello, Viewport::new(64, 48).unwrap(), out, None)
            .unwrap();
        game.with_player(id, |p| p.welcomed = true);
        (id, name, drain)
    }

    fn config() -> GameConfig {
        GameConfig {
            fps: 30,
            max_viewport: Viewport::new(160, 100).unwrap(),
            max_players: 4,
            render_threads: 1,
            video_ceiling: 2_850_000,
        }
    }

    #[tokio::test]
    async fn a_failing_database_tells_the_runner_and_the_game_goes_on() {
        let dir = std::env::temp_dir().join(format!("voxelcast-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = crate::store::sqlite_url(&dir);
        let config = config();
        let map = shared::mapgen::generate_sized(256, 3);
        let store = Store::open(&url).await.unwrap();
        let game = Game::new(config, map, Some(store)).await.unwrap();
        game.records.start(game.clone());
        let (id, name, mut drain) = join(&game, "runner");
        // The disk "fails": the table goes away behind the store's back.
        let other = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("DROP TABLE runs")
            .execute(&other)
            .await
            .unwrap();
        let run = Finished {
            time: 300,
            splits: vec![100, 300],
            samples: Vec::new(),
        };
        assert!(game.records.save(id, &name, run), "queued without waiting");
        let told = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match drain.next().await {
                    Next::Send(f) => {
                        if let Ok(Message::Race(RaceEvent::NotSaved)) = Message::decode(&f.payload)
                        {
                            return true;
                        }
                    }
                    _ => return false,
                }
            }
        })
        .await;
        assert_eq!(told, Ok(true), "the runner hears its run was not saved");
        assert_eq!(game.records.failed.load(Ordering::Relaxed), 1);
        assert_eq!(game.records.saved.load(Ordering::Relaxed), 0);
        // The game goes on.
        crate::game::tick::tick(&game, std::time::Instant::now());
        assert!(game.stats_json().contains("\"runs_not_saved\":1"));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Three rooms on one bus, two of them on the same map: a record set in one reaches
    /// every room's feed, and becomes the ghost (and the name's best) in the room that
    /// races the same course, not in the other.
    #[tokio::test]
    async fn a_record_in_one_room_reaches_every_room_and_the_same_course_follows_it() {
        let dir = std::env::temp_dir().join(format!("voxelcast-bus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&crate::store::sqlite_url(&dir)).await.unwrap();
        let config = config();
        let bus = crate::game::bus::Bus::default();
        let chat = crate::chat::Chat::new(Some(store.clone()), bus.clone());
        let mut rooms = Vec::new();
        for (id, seed) in [("a", 3), ("b", 3), ("c", 4)] {
            let room = crate::game::Room {
                id: id.into(),
                map_name: format!("seed {seed}"),
                bus: bus.clone(),
                chat: chat.clone(),
            };
            let map = shared::mapgen::generate_sized(256, seed);
            let game = Game::new_room(room, config.clone(), map, Some(store.clone()));
            rooms.push(game.await.unwrap());
        }
        let mut drains = Vec::new();
        for room in &rooms {
            room.records.start(room.clone());
            room.hear_others(room.bus.subscribe());
            room.listen_chat();
            let (id, _, drain) = join(room, &format!("in {}", room.room()));
            drains.push((id, drain));
        }
        let run = Finished {
            time: 300,
            splits: vec![100, 300],
            samples: vec![shared::protocol::GhostSample {
                x: 1.0,
                y: 2.0,
                altitude: 3.0,
                yaw: 0.0,
            }],
        };
        assert!(rooms[0].records.save(drains[0].0, "ace", run));
        // Every room's player hears the result and reads it on #race; a and b (one
        // course) get the ghost.
        for (i, (_, drain)) in drains.iter_mut().enumerate() {
            let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                let (mut result, mut ghost, mut line) = (None, false, None);
                while result.is_none() || line.is_none() || (i < 2 && !ghost) {
                    let Next::Send(f) = drain.next().await else {
                        break;
                    };
                    match Message::decode(&f.payload) {
                        Ok(Message::Result(r)) => result = Some(r),
                        Ok(Message::Ghost(g)) => ghost = g.name == "ace",
                        Ok(Message::Chat(l)) => line = Some(l),
                        _ => {}
                    }
                }
                (result, ghost, line)
            })
            .await
            .unwrap();
            let (result, ghost, line) = heard;
            let line = line.expect("a #race line");
            assert_eq!(line.channel, shared::protocol::Channel::Race);
            assert_eq!(line.flags, shared::protocol::chat_flags::SERVER);
            assert_eq!(line.text, "ace set the course record: 5.00 s");
            let result = result.expect("a result");
            assert_eq!(
                (result.name.as_str(), result.time, result.record),
                ("ace", 300, true)
            );
            assert_eq!(ghost, i < 2, "room {i}: the ghost only on the same course");
        }
        assert_eq!(rooms[1].record(), Some(("ace".into(), 300)));
        assert_eq!(rooms[2].record(), None);
        assert!(rooms[1].players().bests.contains_key("ace"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
