//! The steps behind each `cargo xtask` command.

use crate::setup::{self, run};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Builds the client for wasm32 and generates its JS bindings into `www/pkg`.
pub fn build_wasm() -> anyhow::Result<()> {
    run(cargo().args([
        "build",
        "--profile",
        "wasm",
        "-p",
        "client",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    let wasm = root().join("target/wasm32-unknown-unknown/wasm/client.wasm");
    let out = root().join("www/pkg");
    eprintln!(
        "xtask: wasm-bindgen {} -> {}",
        wasm.display(),
        out.display()
    );
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .typescript(false)
        .generate(&out)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))?;
    Ok(())
}

pub fn build_server() -> anyhow::Result<PathBuf> {
    run(cargo().args(["build", "--release", "-p", "server"]))?;
    Ok(root().join("target/release/server"))
}

pub fn play(server_args: &[String]) -> anyhow::Result<()> {
    setup::wasm_target()?;
    setup::nasm()?;
    build_wasm()?;
    let server = build_server()?;
    let www = root().join("www");
    let mut cmd = Command::new(server);
    cmd.arg("--www").arg(&www);
    // Records under target/ unless the player says where.
    if !server_args
        .iter()
        .any(|a| a == "--data" || a.starts_with("--data="))
    {
        cmd.arg("--data").arg(root().join("target/play-data"));
    }
    cmd.args(server_args);
    run(&mut cmd)
}

pub fn test() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    setup::wasm_target()?;
    setup::nasm()?;
    setup::redis()?;
    let chromium = setup::chromium()?;
    setup::kosoku()?;
    let browser_tests = root().join("tests/browser");
    setup::node_modules(&browser_tests)?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The fuzz crate is a workspace of its own, which the two above do not reach.
    let fuzz_crate = root().join("fuzz/Cargo.toml");
    run(cargo()
        .args(["fmt", "--all", "--check", "--manifest-path"])
        .arg(&fuzz_crate))?;
    run(cargo()
        .args(["clippy", "--bins", "--manifest-path"])
        .arg(&fuzz_crate)
        .args(["--", "-D", "warnings"]))?;
    run(cargo().args([
        "clippy",
        "-p",
        "shared",
        "-p",
        "client",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["test", "--workspace"]))?;
    build_wasm()?;
    let server = build_server()?;
    let running = crate::server::Running::start(&server, &["--echo"])?;
    crate::conformance::check(&running.addr)?;
    running.ensure_no_panics()?;
    // A second server with two small rooms, for the lobby's tests.
    let rooms = crate::server::Running::start(&server, &["--rooms", "2", "--max-players", "1"])?;
    // A third whose Redis is not there (port 9, discard): the page must say so.
    let alone = crate::server::Running::start(&server, &["--redis", "redis://127.0.0.1:9"])?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .current_dir(&browser_tests)
        .env("VOXELCAST_URL", format!("http://{}/", running.addr))
        .env("VOXELCAST_ROOMS_URL", format!("http://{}/", rooms.addr))
        .env("VOXELCAST_NO_REDIS_URL", format!("http://{}/", alone.addr))
        .env("CHROMIUM", &chromium))?;
    for s in [&running, &rooms, &alone] {
        s.ensure_no_panics()?;
    }
    drop(running);
    drop(rooms);
    drop(alone);
    crate::cluster::check(&server, &chromium)?;
    fuzz(10)?;
    eprintln!("xtask: all checks passed in {:.0?}", started.elapsed());
    // fmt, clippy (native; both with the fuzz crate), clippy (wasm32), cargo test, wasm
    // build, Autobahn, browser, cluster (Redis, PostgreSQL, nginx), fuzz.
    println!("xtask: 9 passed, 0 failed");
    Ok(())
}

pub fn bench(which: &[String]) -> anyhow::Result<()> {
    let all = which.is_empty();
    let want = |name: &str| all || which.iter().any(|w| w == name);
    setup::nasm()?;
    if want("render") {
        run(cargo().args(["bench", "-p", "shared", "--bench", "render"]))?;
    }
    if want("flight") {
        run(cargo().args(["bench", "-p", "shared", "--bench", "flight"]))?;
        // The same flight as video, beside the lossless encodings above.
        run(cargo().args(["bench", "-p", "server", "--bench", "video"]))?;
    }
    if want("race") {
        run(cargo().args(["bench", "-p", "server", "--bench", "race"]))?;
    }
    if want("echo") {
        run(cargo().args(["bench", "-p", "server", "--bench", "echo"]))?;
    }
    if want("echo-memory") {
        run(cargo().args(["bench", "-p", "server", "--bench", "echo", "--", "memory"]))?;
    }
    if want("wasm") {
        browser_bench("bench/wasm-vs-js.mjs")?;
    }
    let loads = [
        "latency",
        "scale",
        "connections",
        "video",
        "chat",
        "cluster",
    ];
    if loads.iter().any(|l| want(l)) {
        let server = build_server()?;
        if want("latency") {
            crate::load::latency(&server)?;
            browser_bench("bench/input-latency.mjs")?;
        }
        if want("video") {
            browser_bench("bench/video-decode.mjs")?;
        }
        if want("scale") {
            crate::load::scale(&server)?;
        }
        if want("connections") {
            crate::load::connections(&server, 10_000)?;
        }
        if want("chat") {
            crate::chat_load::chat(&server)?;
        }
        if want("cluster") {
            crate::cluster_load::cluster(&server)?;
        }
    }
    Ok(())
}

/// Runs a benchmark script in headless Chromium against a fresh release server.
fn browser_bench(script: &str) -> anyhow::Result<()> {
    setup::wasm_target()?;
    let chromium = setup::chromium()?;
    let browser = root().join("tests/browser");
    setup::node_modules(&browser)?;
    build_wasm()?;
    let running = crate::server::Running::start(&build_server()?, &[])?;
    run(Command::new("node")
        .arg(script)
        .current_dir(&browser)
        .env("VOXELCAST_URL", format!("http://{}/", running.addr))
        .env("CHROMIUM", &chromium))
}

pub const FUZZ_TARGETS: [&str; 5] = [
    "protocol_decode",
    "ws_receiver",
    "http_request",
    "map_decompress",
    "frame_decode",
];

/// Runs every fuzz target for `seconds` each; any crash fails.
pub fn fuzz(seconds: u32) -> anyhow::Result<()> {
    setup::cargo_fuzz()?;
    let dir = root().join("fuzz");
    for target in FUZZ_TARGETS {
        run(Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .current_dir(&dir))?;
    }
    Ok(())
}
