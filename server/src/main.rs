//! The voxelcast server binary: parses flags, then serves the game or renders a snapshot.

use anyhow::Context;
use clap::Parser;
use server::{cli, game, http, maps, net, snapshot, ws};
use std::time::Duration;

fn main() -> std::process::ExitCode {
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: cli::Args) -> anyhow::Result<()> {
    match &args.command {
        Some(cli::Command::Snapshot(s)) => snapshot::run(s, &args.map),
        None => serve(&args),
    }
}

fn serve(args: &cli::Args) -> anyhow::Result<()> {
    let s = &args.serve;
    let www = s
        .www
        .canonicalize()
        .with_context(|| format!("web root {} not found", s.www.display()))?;
    let config = net::NetConfig {
        www,
        max_connections: s.max_connections,
        limits: http::request::Limits::default(),
        head_timeout: Duration::from_secs(s.head_timeout),
        idle_timeout: Duration::from_secs(s.idle_timeout),
        allowed_origins: s.allowed_origins.clone(),
        echo: s.echo,
        echo_ws: ws::conn::WsConfig {
            max_message: s.echo_max_message,
            ..Default::default()
        },
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let game_config = game::GameConfig {
        fps: s.fps,
        max_viewport: s.max_viewport,
        max_players: s.max_players,
        render_threads: s.render_threads.unwrap_or(cores),
        video_ceiling: s.video_kbps * 1000,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(s.addr)
            .await
            .with_context(|| format!("cannot listen on {}", s.addr))?;
        let addr = listener.local_addr()?;
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let url = match &s.database {
            Some(url) => url.clone(),
            None => {
                std::fs::create_dir_all(&s.data).with_context(|| {
                    format!("cannot create the data directory {}", s.data.display())
                })?;
                server::store::sqlite_url(&s.data)
            }
        };
        let store = server::store::Store::open(&url).await?;
        let bus = game::bus::Bus::default();
        let chat = server::chat::Chat::new(Some(store.clone()), bus.clone());
        let mut rooms = Vec::new();
        for i in 0..s.rooms {
            let (map, map_name) = maps::for_room(&args.map, i)?;
            let room = game::Room {
                id: match &s.process {
                    Some(p) => format!("{p}-r{}", i + 1),
                    None => format!("r{}", i + 1),
                },
                map_name,
                bus: bus.clone(),
                chat: chat.clone(),
            };
            let config = game_config.clone();
            rooms.push(game::Game::new_room(room, config, map, Some(store.clone())).await?);
        }
        let cluster = match &s.redis {
            Some(url) => {
                let process = s.process.clone().unwrap_or_else(|| "p1".into());
                Some(std::sync::Arc::new(server::cluster::Cluster::new(
                    url, &process,
                )?))
            }
            None => None,
        };
        let lobby = std::sync::Arc::new(game::lobby::Lobby::new(rooms, cluster, chat));
        lobby.start(shutdown.clone());
        let admin_token = match &s.admin_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .trim()
                    .to_owned(),
            )
            .filter(|t| t.len() >= 16)
            .map(Some)
            .with_context(|| {
                format!(
                    "{}: an operator token is 16 characters at least",
                    path.display()
                )
            })?,
            None => None,
        };
        let endpoint = game::Endpoint {
            lobby,
            ws: ws::conn::WsConfig::default(),
            accounts: std::sync::Arc::new(server::accounts::Accounts::new(Some(store.clone()))),
            admin_token,
            allowed_origins: s.allowed_origins.clone(),
        };
        let server = net::Server::new(config, endpoint, shutdown);
        println!("voxelcast is running: open http://{addr}/");
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            let _ = stop.send(true);
        });
        server.run(listener).await;
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
