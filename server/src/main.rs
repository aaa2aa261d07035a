//! The voxelcast server binary: parses flags, then serves the game or renders a snapshot.

mod cli;
mod maps;
mod snapshot;
mod ws;

use clap::Parser;

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
    match args.command {
        Some(cli::Command::Snapshot(s)) => snapshot::run(&s, &args.map),
        None => anyhow::bail!("serving is not built yet"),
    }
}
