//! Against a real SQLite file in a temporary directory.

use super::*;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "voxelcast-store-{tag}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(name: &str, time: u32, at: i64) -> NewRun {
    NewRun {
        course: "c1".into(),
        name: name.into(),
        time,
        splits: vec![time / 3, 2 * time / 3, time],
        finished_at: at,
        samples: (0..=time / 4)
            .map(|i| GhostSample {
                x: i as f32,
                y: 2.0 * i as f32,
                altitude: 100.0,
                yaw: 0.5,
            })
            .collect(),
    }
}

#[tokio::test]
async fn runs_rank_records_and_survive_reopening() {
    let dir = temp_dir("board");
    let url = sqlite_url(&dir);
    let store = Store::open(&url).await.unwrap();
    let saved = store.save_run(&run("ann", 900, 1_000)).await.unwrap();
    assert_eq!(
        saved,
        Saved {
            rank: 1,
            record: true,
            personal_best: true
        }
    );
    let saved = store.save_run(&run("bob", 1000, 2_000)).await.unwrap();
    assert_eq!((saved.rank, saved.record), (2, false));
    // Bob beats the record: first; Ann's slower run keeps her best.
    let saved = store.save_run(&run("bob", 800, 3_000)).await.unwrap();
    assert_eq!(
        (saved.rank, saved.record, saved.personal_best),
        (1, true, true)
    );
    let saved = store.save_run(&run("ann", 950, 4_000)).await.unwrap();
    assert_eq!(
        (saved.rank, saved.record, saved.personal_best),
        (2, false, false)
    );
    // Another course is another board.
    let other = NewRun {
        course: "c2".into(),
        ..run("cy", 10, 5_000)
    };
    assert_eq!(store.save_run(&other).await.unwrap().rank, 1);
    drop(store);

    let store = Store::open(&url).await.unwrap();
    let board = store.leaderboard("c1", 0, 10).await.unwrap();
    let names: Vec<(&str, u32)> = board.iter().map(|e| (e.name.as_str(), e.time)).collect();
    assert_eq!(names, [("bob", 800), ("ann", 900)]);
    // "Today": runs from 2.5 s on only.
    let today = store.leaderboard("c1", 2_500, 10).await.unwrap();
    let names: Vec<(&str, u32)> = today.iter().map(|e| (e.name.as_str(), e.time)).collect();
    assert_eq!(names, [("bob", 800), ("ann", 950)]);
    assert_eq!(store.best_of("c1", "ann").await.unwrap(), Some((900, 2)));
    assert_eq!(store.best_of("c1", "zed").await.unwrap(), None);
    let bests = store.bests("c1").await.unwrap();
    assert_eq!(bests["ann"].time, 900);
    assert_eq!(bests["ann"].splits, [300, 600, 900]);
    let record = store.record("c1").await.unwrap().unwrap();
    assert_eq!((record.name.as_str(), record.time), ("bob", 800));
    assert_eq!(record.samples, run("bob", 800, 0).samples);
    assert_eq!(store.count("c1").await.unwrap(), 4);
    assert_eq!(store.record("nothing").await.unwrap(), None);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_databases_give_one_clear_error() {
    // A directory that does not exist.
    let missing = std::env::temp_dir().join("voxelcast-no-such-dir/deeper");
    let err = Store::open(&sqlite_url(&missing)).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot open the database"),
        "{err}"
    );
    // A file that is not a database.
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("voxelcast.db"), vec![0x5a; 8192]).unwrap();
    let err = Store::open(&sqlite_url(&dir)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Open { .. } | StoreError::Migrate { .. }),
        "{err}"
    );
    // A schema from a newer server.
    let dir2 = temp_dir("newer");
    let store = Store::open(&sqlite_url(&dir2)).await.unwrap();
    sqlx::query("INSERT INTO schema_version (version) VALUES (99)")
        .execute(&store.pool)
        .await
        .unwrap();
    drop(store);
    let err = Store::open(&sqlite_url(&dir2)).await.unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    for d in [dir, dir2] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn blobs_and_splits_round_trip_and_damage_is_contained() {
    let samples = run("x", 40, 0).samples;
    assert_eq!(parse_samples(&samples_blob(&samples)), samples);
    let mut blob = samples_blob(&samples);
    blob[16 * 3..16 * 3 + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    blob.push(7); // a torn tail
    assert_eq!(parse_samples(&blob), samples[..3]);
    assert_eq!(parse_splits(&splits_text(&[1, 20, 300])), [1, 20, 300]);
    assert_eq!(parse_splits("1,x,3"), [1, 3]);
    assert_eq!(
        redact("postgres://user:secret@db:5432/vc"),
        "postgres://…@db:5432/vc"
    );
}

#[tokio::test]
async fn chat_history_keeps_the_last_messages_per_channel() {
    let dir = temp_dir("chat");
    let store = Store::open(&sqlite_url(&dir)).await.unwrap();
    for i in 0..150 {
        let id = (store.save_chat("world:r1", "ann", 0, i, &format!("w{i}")))
            .await
            .unwrap();
        assert!(id > 0);
    }
    store.save_chat("global", "bob", 2, 7, "<g>").await.unwrap();
    let world = store.chat_history("world:r1", CHAT_KEEP).await.unwrap();
    assert_eq!(world.len(), 100);
    assert_eq!(world[0].body, "w50", "the last hundred, oldest first");
    assert_eq!(world[99].body, "w149");
    assert!(world.windows(2).all(|w| w[0].id < w[1].id));
    let global = store.chat_history("global", CHAT_KEEP).await.unwrap();
    assert_eq!(
        global,
        [StoredLine {
            id: global[0].id,
            name: "bob".into(),
            flags: 2,
            sent_at: 7,
            body: "<g>".into(),
        }]
    );
    // Pruned: at most a prune interval beyond the hundred kept.
    let kept: i64 = sqlx::query("SELECT COUNT(*) FROM chat WHERE channel = 'world:r1'")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!((100..132).contains(&kept), "{kept}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn accounts_and_sessions_expire_and_are_revoked() {
    let dir = temp_dir("accounts");
    let store = Store::open(&sqlite_url(&dir)).await.unwrap();
    let ace = Account {
        key: "ace".into(),
        name: "Ace".into(),
        hash: "h1".into(),
    };
    assert!(store.create_account(&ace, 1).await.unwrap());
    let again = Account {
        name: "ace".into(),
        ..ace.clone()
    };
    assert!(
        !store.create_account(&again, 2).await.unwrap(),
        "taken, any case"
    );
    assert_eq!(store.account("ace").await.unwrap(), Some(ace.clone()));
    assert!(store.is_claimed("Ace").await.unwrap());
    assert!(
        !store.is_claimed("ace").await.unwrap(),
        "the exact name is marked"
    );
    store.create_session("t1", "ace", 10, 100).await.unwrap();
    store.create_session("t2", "ace", 10, 1000).await.unwrap();
    assert_eq!(store.session("t1", 50).await.unwrap(), Some(ace.clone()));
    assert_eq!(store.session("t1", 100).await.unwrap(), None, "expired");
    assert_eq!(store.session("nope", 50).await.unwrap(), None);
    // A new password ends every other session.
    store.set_password("ace", "h2", "t2").await.unwrap();
    store.create_session("t3", "ace", 10, 1000).await.unwrap();
    assert_eq!(store.session("t2", 50).await.unwrap().unwrap().hash, "h2");
    store.set_password("ace", "h3", "t3").await.unwrap();
    assert_eq!(store.session("t2", 50).await.unwrap(), None);
    assert!(store.session("t3", 50).await.unwrap().is_some());
    store.delete_session("t3", 50).await.unwrap();
    assert_eq!(store.session("t3", 50).await.unwrap(), None, "signed out");
    store.create_session("t4", "ace", 10, 1000).await.unwrap();
    store.create_session("t5", "ace", 10, 1000).await.unwrap();
    assert_eq!(store.delete_sessions_of("ace").await.unwrap(), 2, "revoked");
    // The board marks claimed names.
    store.save_run(&run("Ace", 500, 1)).await.unwrap();
    store.save_run(&run("zed", 600, 1)).await.unwrap();
    let board = store.leaderboard("c1", 0, 10).await.unwrap();
    let marks: Vec<(&str, bool)> = board.iter().map(|e| (e.name.as_str(), e.claimed)).collect();
    assert_eq!(marks, [("Ace", true), ("zed", false)]);
    let _ = std::fs::remove_dir_all(dir);
}
