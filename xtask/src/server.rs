//! A server process for the end-to-end steps, stopped when dropped.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Running {
    child: Child,
    /// `host:port` the server listens on.
    pub addr: String,
    /// Panics the server reported on stderr. A panic ends only the task it happens in,
    /// so a client may not notice one: the steps check this count instead.
    panics: Arc<AtomicUsize>,
    /// Its own data directory (records), removed when it stops; `None` when the caller
    /// passed `--data`.
    data: Option<std::path::PathBuf>,
}

impl Running {
    /// Starts the server on a free loopback port and waits until it listens.
    /// Without `--data` in `extra`, it keeps its records in a fresh directory of its own.
    pub fn start(binary: &Path, extra: &[&str]) -> anyhow::Result<Running> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let data = (!extra.contains(&"--data")).then(|| {
            let n = N.fetch_add(1, Ordering::Relaxed);
            std::env::temp_dir().join(format!("voxelcast-xtask-{}-{n}", std::process::id()))
        });
        let mut cmd = Command::new(binary);
        cmd.args(["--addr", "127.0.0.1:0", "--www"])
            .arg(crate::steps::root().join("www"));
        if let Some(dir) = &data {
            cmd.arg("--data").arg(dir);
        }
        let mut child = cmd
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let panics = Arc::new(AtomicUsize::new(0));
        let stderr = child.stderr.take().context("no stderr")?;
        let counted = Arc::clone(&panics);
        // Passed through as it comes, counting panics.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("panicked at") {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
                eprintln!("{line}");
            }
        });
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
        Ok(Running {
            child,
            addr,
            panics,
            data,
        })
    }

    /// Fails if the server has panicked anywhere so far.
    pub fn ensure_no_panics(&self) -> anyhow::Result<()> {
        match self.panics.load(Ordering::Relaxed) {
            0 => Ok(()),
            n => bail!("the server panicked {n} time(s): see its output above"),
        }
    }
}

impl Running {
    /// The process id (for a test that kills it with -9).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process, KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("VmRSS value")?
            .parse()?)
    }

    /// CPU time (user + system) the server process has used, seconds.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.child.id())
    }

    /// One counter of the server's `/stats`.
    pub fn stat(&self, key: &str) -> anyhow::Result<u64> {
        let stats: serde_json::Value = serde_json::from_str(&self.http_get("/stats")?)?;
        stats[key]
            .as_u64()
            .with_context(|| format!("no {key} in /stats"))
    }

    /// A GET over plain HTTP/1.1; returns the body.
    pub fn http_get(&self, path: &str) -> anyhow::Result<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr)?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or(out))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM first, so the graceful shutdown path runs too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let mut stopped = false;
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                stopped = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(dir) = &self.data {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// CPU time (user + system) process `pid` has used, seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which is in parentheses): utime is the 14th field.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("stat format")?.parse::<f64>()?)
    };
    Ok((field(11)? + field(12)?) / 100.0)
}
