//! `cargo xtask`: the one entry point for building, playing, testing and benchmarking, so
//! a fresh machine needs nothing but cargo and these files.

mod chat_load;
mod cluster;
mod cluster_load;
mod conformance;
mod load;
mod server;
mod setup;
mod steps;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build everything and start the game; flags after `--` go to the server.
    Play {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        server_args: Vec<String>,
    },
    /// Install what is missing, then run every check and test (what CI runs).
    Test,
    /// Build the wasm client into www/pkg.
    Wasm,
    /// Start redis, PostgreSQL, three servers and nginx on loopback; Ctrl-C stops them.
    /// With --check: run the cluster tests against such a stack and stop it.
    Cluster {
        #[arg(long)]
        check: bool,
    },
    /// Run the benchmarks (all, or the named ones).
    Bench {
        /// render, flight, echo, echo-memory, wasm, latency, video, scale, connections, chat, cluster
        which: Vec<String>,
    },
    /// Run every fuzz target for a while.
    Fuzz {
        #[arg(long, default_value_t = 60)]
        seconds: u32,
    },
}

/// `cargo xtask cluster --check`: what the test command's cluster step runs, alone.
fn cluster_check() -> anyhow::Result<()> {
    setup::wasm_target()?;
    setup::nasm()?;
    setup::redis()?;
    let chromium = setup::chromium()?;
    setup::node_modules(&steps::root().join("tests/browser"))?;
    steps::build_wasm()?;
    cluster::check(&steps::build_server()?, &chromium)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Play { server_args } => steps::play(&server_args),
        Command::Test => steps::test(),
        Command::Wasm => setup::wasm_target().and_then(|()| steps::build_wasm()),
        Command::Cluster { check: false } => cluster::cluster(),
        Command::Cluster { check: true } => cluster_check(),
        Command::Bench { which } => steps::bench(&which),
        Command::Fuzz { seconds } => steps::fuzz(seconds),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
