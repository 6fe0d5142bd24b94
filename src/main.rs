//! The `gamelift-streams-gateway` command: parses flags and runs the chosen server
//! until SIGINT or SIGTERM.

use std::io::Write;

use anyhow::Context;
use clap::Parser;
use gamelift_streams_gateway::config::{Cli, Command};
use gamelift_streams_gateway::emulator;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Emulator(args) => {
            let config = args.to_config()?;
            let handle = emulator::start(args.listen, config)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            announce(&format!("emulator listening on {}", handle.endpoint_url()))?;
            shutdown_signal().await?;
            tracing::info!("emulator stopping");
            handle.shutdown().await;
        }
    }
    Ok(())
}

/// Prints the first stdout line, which scripts and tests wait for.
fn announce(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}
