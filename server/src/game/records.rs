//! Between the game and the store: finished runs are queued here by the tick (which
//! never waits), saved by one task, and announced only once committed.

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
    /// Tells everyone about a saved run; updates the name's best and, for a record, the
    /// ghost that everyone racing follows.
    fn announce(&self, run: NewRun, saved: crate::store::Saved) {
        let result = ws_binary(&Message::Result(RunResult {
            course: self.course_id,
            name: run.name.clone(),
            time: run.time,
            rank: saved.rank,
            record: saved.record,
        }));
        let mut players = self.players();
        if saved.personal_best {
            let best = Best {
                time: run.time,
                splits: run.splits,
            };
            players.bests.insert(run.name.clone(), best);
        }
        let ghost = saved.record.then(|| {
            let ghost = Arc::new(GhostRun {
                name: run.name,
                time: run.time,
                samples: run.samples,
            });
            players.ghost = Some(ghost.clone());
            ws_binary(&Message::Ghost((*ghost).clone()))
        });
        for p in players.by_id.values_mut().filter(|p| p.welcomed) {
            let _ = p.out.try_send(result.clone());
            if let Some(g) = &ghost {
                let _ = p.out.try_send(g.clone());
                p.dirty = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{GameConfig, race::Finished};
    use crate::ws::outbox::{self, Next};
    use shared::Viewport;
    use shared::protocol::{FrameEncoding, Hello, RenderMode, VERSION};

    #[tokio::test]
    async fn a_failing_database_tells_the_runner_and_the_game_goes_on() {
        let dir = std::env::temp_dir().join(format!("voxelcast-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = crate::store::sqlite_url(&dir);
        let config = GameConfig {
            fps: 30,
            max_viewport: Viewport::new(160, 100).unwrap(),
            max_players: 4,
            render_threads: 1,
            video_ceiling: 2_850_000,
        };
        let map = shared::mapgen::generate_sized(256, 3);
        let store = Store::open(&url).await.unwrap();
        let game = Game::new(config, map, Some(store)).await.unwrap();
        game.records.start(game.clone());
        let (out, mut drain) = outbox::outbox(16);
        let hello = Hello {
            version: VERSION,
            mode: RenderMode::Client,
            width: 64,
            height: 48,
            encodings: FrameEncoding::Raw.bit(),
            name: "runner".into(),
        };
        let (id, name, _, _) = game
            .join(&hello, Viewport::new(64, 48).unwrap(), out, None)
            .unwrap();
        game.with_player(id, |p| p.welcomed = true);
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
}
