//! `cargo xtask cluster`: the whole stack on loopback — redis-server, PostgreSQL, three
//! server processes (p1, p2, p3, two rooms each) and nginx in front with
//! `deploy/nginx.conf` — all from Debian packages, in a temporary directory, on free
//! ports; prints the URL and stops everything on Ctrl-C.

use crate::server::Running;
use crate::setup::{self, run};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A child process stopped when dropped, with its own polite signal first (nginx's
/// master must not be killed outright, or its workers live on).
struct Guard(Child, &'static str);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", self.1, &self.0.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// PostgreSQL in a directory of its own, stopped when dropped.
struct Postgres {
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// initdb and start as the `postgres` user (PostgreSQL refuses root), trust auth on
    /// loopback only.
    fn start(dir: &Path) -> anyhow::Result<Postgres> {
        let port = free_port()?;
        std::fs::create_dir_all(dir)?;
        run(Command::new("chown").arg("postgres").arg(dir))?;
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/initdb"))
            .arg("-D")
            .arg(dir)
            .args(["-A", "trust", "-U", "voxelcast"])
            .stdout(Stdio::null()))?;
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/pg_ctl"))
            .arg("-D")
            .arg(dir)
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                dir.display()
            ))
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "start"])
            .stdout(Stdio::null()))?;
        Ok(Postgres {
            dir: dir.to_owned(),
            port,
        })
    }

    fn url(&self) -> String {
        format!("postgres://voxelcast@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/pg_ctl"))
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_for_port(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            bail!("{what} did not start on port {port}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// `deploy/nginx.conf` with this run's ports and paths, inside a minimal main config.
fn nginx_conf(dir: &Path, port: u16, servers: &[&str]) -> anyhow::Result<String> {
    let mut site = std::fs::read_to_string(crate::steps::root().join("deploy/nginx.conf"))
        .context("deploy/nginx.conf")?
        .replace(
            "/var/cache/nginx/voxelcast",
            &dir.join("cache").display().to_string(),
        )
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    for (i, addr) in servers.iter().enumerate() {
        site = site.replace(&format!("127.0.0.1:{}", 8081 + i), addr);
    }
    let d = dir.display();
    Ok(format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         worker_rlimit_nofile 65536;\nevents {{ worker_connections 30000; }}\nhttp {{\n\
         access_log {d}/access.log;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         {site}\n}}\n"
    ))
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The whole stack, stopped when dropped: fields drop in order, nginx first, then the
/// servers, PostgreSQL, Redis, and last the directory they all used.
pub struct Cluster {
    _nginx: Guard,
    pub servers: Vec<Running>,
    _postgres: Postgres,
    _redis_server: Guard,
    _dir: TempDir,
    pub redis_port: u16,
    /// nginx's port on loopback: the cluster's one address.
    pub port: u16,
    pub database: String,
}

impl Cluster {
    /// Starts redis-server, PostgreSQL, the server processes p1, p2, p3 (each with
    /// `args` besides its name, Redis and database) and nginx, in a directory of its own.
    pub fn start(binary: &Path, args: &[&str]) -> anyhow::Result<Cluster> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("voxelcast-cluster-{}-{n}", std::process::id()));
        std::fs::create_dir_all(dir.join("nginx"))?;
        let temp = TempDir(dir.clone());
        let redis_port = free_port()?;
        let redis_server = Guard(
            Command::new("redis-server")
                .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .context("redis-server")?,
            "TERM",
        );
        wait_for_port(redis_port, "redis-server")?;
        let postgres = Postgres::start(&dir.join("postgres"))?;
        let redis = format!("redis://127.0.0.1:{redis_port}");
        let database = postgres.url();
        let mut servers = Vec::new();
        for p in ["p1", "p2", "p3"] {
            let mut all = vec!["--process", p, "--redis", &redis, "--database", &database];
            all.extend_from_slice(args);
            servers.push(Running::start(binary, &all)?);
        }
        let addrs: Vec<&str> = servers.iter().map(|s| s.addr.as_str()).collect();
        let port = free_port()?;
        let conf = dir.join("nginx/nginx.conf");
        std::fs::write(&conf, nginx_conf(&dir.join("nginx"), port, &addrs)?)?;
        let nginx = Guard(
            Command::new("/usr/sbin/nginx")
                .arg("-p")
                .arg(dir.join("nginx"))
                .arg("-c")
                .arg(&conf)
                .spawn()
                .context("nginx")?,
            "QUIT",
        );
        wait_for_port(port, "nginx")?;
        Ok(Cluster {
            _nginx: nginx,
            servers,
            _postgres: postgres,
            _redis_server: redis_server,
            _dir: temp,
            redis_port,
            port,
            database,
        })
    }

    /// Fails if any server process has panicked.
    pub fn ensure_no_panics(&self) -> anyhow::Result<()> {
        self.servers.iter().try_for_each(Running::ensure_no_panics)
    }
}

/// The cluster test in `cargo xtask test`: `server/tests/deployed.rs` against a cluster
/// of one-room, two-seat processes (so rooms fill), told where everything is; then
/// `tests/browser/in-cluster.mjs` (not a `*.test.mjs`: the browser step would run it
/// without a cluster), a page in Chromium whose room's process dies.
pub fn check(binary: &Path, chromium: &str) -> anyhow::Result<()> {
    setup::postgres()?;
    setup::nginx()?;
    let cluster = Cluster::start(binary, &["--rooms", "1", "--max-players", "2"])?;
    let servers: Vec<String> = (cluster.servers.iter())
        .map(|s| format!("{}={}", s.addr, s.pid()))
        .collect();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(crate::steps::root())
        .args([
            "test",
            "-p",
            "server",
            "--test",
            "deployed",
            "--",
            "--ignored",
            "--test-threads=1",
        ])
        .env("VOXELCAST_CLUSTER", format!("127.0.0.1:{}", cluster.port))
        .env("VOXELCAST_CLUSTER_SERVERS", servers.join(","))
        .env(
            "VOXELCAST_CLUSTER_REDIS_PORT",
            cluster.redis_port.to_string(),
        );
    run(&mut cmd)?;
    // Then the page: its room's process killed, it finds another room by itself.
    let browser_tests = crate::steps::root().join("tests/browser");
    run(Command::new("node")
        .args(["--test", "in-cluster.mjs"])
        .current_dir(&browser_tests)
        .env(
            "VOXELCAST_CLUSTER_URL",
            format!("http://127.0.0.1:{}/", cluster.port),
        )
        .env("VOXELCAST_CLUSTER_SERVERS", servers.join(","))
        .env("CHROMIUM", chromium))?;
    cluster.ensure_no_panics()
}

pub fn cluster() -> anyhow::Result<()> {
    setup::wasm_target()?;
    setup::nasm()?;
    setup::redis()?;
    setup::postgres()?;
    setup::nginx()?;
    crate::steps::build_wasm()?;
    let binary = crate::steps::build_server()?;
    let cluster = Cluster::start(&binary, &["--rooms", "2"])?;
    let addrs: Vec<&str> = cluster.servers.iter().map(|s| s.addr.as_str()).collect();
    println!(
        "redis redis://127.0.0.1:{}, PostgreSQL {}, servers {addrs:?}",
        cluster.redis_port, cluster.database
    );
    println!(
        "voxelcast cluster is running: open http://127.0.0.1:{}/ (Ctrl-C stops it)",
        cluster.port
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::signal::ctrl_c())?;
    eprintln!("xtask: stopping the cluster");
    drop(cluster);
    Ok(())
}
