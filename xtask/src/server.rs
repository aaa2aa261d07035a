//! A server process for the end-to-end steps, stopped when dropped.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Running {
    child: Child,
    /// `host:port` the server listens on.
    pub addr: String,
}

impl Running {
    /// Starts the server on a free loopback port and waits until it listens.
    pub fn start(binary: &Path, extra: &[&str]) -> anyhow::Result<Running> {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--www"])
            .arg(crate::steps::root().join("www"))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        // "voxelcast is running: open http://127.0.0.1:PORT/"
        let Some(addr) = line
            .trim()
            .strip_prefix("voxelcast is running: open http://")
        else {
            let _ = child.kill();
            bail!("server did not start: {line:?}");
        };
        let addr = addr.trim_end_matches('/').to_owned();
        eprintln!("xtask: server listening on {addr}");
        Ok(Running { child, addr })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM first, so the graceful shutdown path runs too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
