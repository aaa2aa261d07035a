//! Installs what the build and the tests need and is missing; fails loudly when it cannot.

use anyhow::{Context, bail};
use std::process::Command;

/// Runs a command, failing with its command line if it does not succeed.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let line = format!("{cmd:?}");
    eprintln!("xtask: $ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {line}"))?;
    if !status.success() {
        bail!("{line} failed with {status}");
    }
    Ok(())
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn wasm_target() -> anyhow::Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

/// Installs Debian packages when `probe` (a file the package ships) is missing.
fn debian(probe: &str, packages: &[&str]) -> anyhow::Result<()> {
    if std::path::Path::new(probe).exists() {
        return Ok(());
    }
    if !succeeds(Command::new("apt-get").arg("--version")) {
        bail!("{probe} is missing and apt-get is not available: install {packages:?} by hand");
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y"])
        .args(packages))?;
    Ok(())
}

/// Debian's Chromium for the browser tests.
pub fn chromium() -> anyhow::Result<String> {
    const PATH: &str = "/usr/bin/chromium";
    debian(PATH, &["chromium", "chromium-driver"])?;
    Ok(PATH.into())
}

/// PostgreSQL 15, for `cargo xtask cluster`.
pub fn postgres() -> anyhow::Result<()> {
    debian("/usr/lib/postgresql/15/bin/initdb", &["postgresql"])
}

/// nginx, for `cargo xtask cluster`.
pub fn nginx() -> anyhow::Result<()> {
    debian("/usr/sbin/nginx", &["nginx"])
}

/// redis-server, for the tests of rooms across processes.
pub fn redis() -> anyhow::Result<()> {
    debian("/usr/bin/redis-server", &["redis-server"])
}

/// nasm, before the server builds: the `openh264` crate assembles its fast paths with it
/// (≈ 3x faster video encoding than its plain C fallback).
pub fn nasm() -> anyhow::Result<()> {
    debian("/usr/bin/nasm", &["nasm"])
}

/// kosoku, the Autobahn conformance runner, from PyPI.
pub fn kosoku() -> anyhow::Result<()> {
    if !succeeds(Command::new("kosoku").arg("--help")) {
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", "kosoku"]))?;
    }
    if !succeeds(Command::new("kosoku").arg("--help")) {
        bail!("kosoku is still not on PATH after pip install");
    }
    Ok(())
}

/// npm packages of the browser tests (playwright-core, ws), from the committed lock file.
pub fn node_modules(dir: &std::path::Path) -> anyhow::Result<()> {
    if !succeeds(Command::new("node").arg("--version")) {
        bail!("node is missing: install Node.js 20 or later");
    }
    if !dir.join("node_modules").exists() {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir))?;
    }
    Ok(())
}

/// cargo-fuzz on the nightly toolchain.
pub fn cargo_fuzz() -> anyhow::Result<()> {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"]))?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    if !succeeds(Command::new("cargo").args(["fuzz", "--version"])) {
        run(Command::new("cargo").args(["install", "cargo-fuzz"]))?;
    }
    Ok(())
}
