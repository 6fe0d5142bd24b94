//! The `gamelift-streams-gateway` command: parses flags and runs the chosen server
//! until SIGINT or SIGTERM.

use std::io::Write;

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use gamelift_streams_gateway::api::replay::{Idempotency, Stored};
use gamelift_streams_gateway::api::stages::StagesGateway;
use gamelift_streams_gateway::api::Gateway;
use gamelift_streams_gateway::config::{Cli, Command, ServeConfig};
use gamelift_streams_gateway::fleet::schedule::FleetSchedule;
use gamelift_streams_gateway::fleet::terminations::{self, FleetTerminations};
use gamelift_streams_gateway::fleet::{outcomes::FleetOutcomes, pacing::FleetPacing, reads::FleetReads, Fleet};
use gamelift_streams_gateway::server::Services;
use gamelift_streams_gateway::sessions::idempotency::{IdempotencyStore, OutcomeStore};
use gamelift_streams_gateway::sessions::watch::budget::{PollBudget, PollSchedule};
use gamelift_streams_gateway::sessions::watch::shared::{NotShared, PollResults};
use gamelift_streams_gateway::sessions::watch::Watches;
use gamelift_streams_gateway::sessions::{client, GameLiftStreams, Resilience, Sender, Sessions};
use gamelift_streams_gateway::stages::shared::SharedStageReads;
use gamelift_streams_gateway::stages::watch::StageWatches;
use gamelift_streams_gateway::stages::StageReads;
use gamelift_streams_gateway::telemetry::{self, Telemetry, TelemetryConfig};
use gamelift_streams_gateway::{emulator, server};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let from_env = TelemetryConfig::from_env(cli.log_format, |name| std::env::var(name).ok())?;
    let telemetry = telemetry::init(&TelemetryConfig { wire_logs: cli.log_wire_unsafe, ..from_env })?;
    match cli.command {
        Command::Serve(args) => serve(args.to_config()?, &telemetry).await?,
        Command::Emulator(args) => {
            let config = args.to_config()?;
            let mut signals = Signals::register()?;
            let handle = emulator::start(args.listen, config)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            announce(&format!("emulator listening on {}", handle.endpoint_url()))?;
            signals.next().await;
            tracing::info!("emulator stopping");
            handle.shutdown().await;
        }
    }
    telemetry.shutdown().await;
    Ok(())
}

async fn serve(mut config: ServeConfig, telemetry: &Telemetry) -> anyhow::Result<()> {
    let mut signals = Signals::register()?;
    let embedded = match config.emulator.take() {
        Some(emulator_config) => {
            let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let handle = emulator::start(loopback, emulator_config).await.context("cannot start the emulator")?;
            config.aws.endpoint_url = Some(handle.endpoint_url());
            Some(handle)
        }
        None => None,
    };
    let clients = client::connect(&config.aws).await?;
    let (sdk, endpoint) = (clients.streams.clone(), clients.streams_endpoint.clone());
    let region = sdk.config().region().map_or_else(|| "default".to_string(), ToString::to_string);
    let fleet = match &config.fleet {
        Some(fleet) => Some(Fleet::join(fleet, &region).await?),
        None => None,
    };
    let mut resilience = Resilience::new(config.retry.clone());
    let mut outcomes: Arc<dyn OutcomeStore<Stored>> = Arc::new(IdempotencyStore::new(config.idempotency.clone()));
    let mut results: Arc<dyn PollResults> = Arc::new(NotShared);
    let mut schedule: Arc<dyn PollSchedule> = Arc::new(PollBudget::new(config.watch.poll_share));
    let mut fleet_metrics = None;
    let mut fleet_reads = None;
    if let Some(fleet) = &fleet {
        let pacing = Arc::new(FleetPacing::new(fleet.clone(), &config.retry.ceilings));
        let reads = Arc::new(FleetReads::new(fleet.clone()));
        resilience = resilience.with_pacing(pacing.clone());
        outcomes = Arc::new(FleetOutcomes::new(fleet.clone(), config.idempotency.clone()));
        results = reads.clone();
        schedule = Arc::new(FleetSchedule::new(fleet.clone(), config.watch.poll_share));
        fleet_metrics = Some(telemetry::metrics::register_fleet(fleet, &pacing, &reads));
        fleet_reads = Some(reads);
        tracing::info!(members = fleet.members(), degraded = fleet.degraded(), "fleet mode on");
    }
    let resilience = Arc::new(resilience);
    let sessions = Sessions::new(sdk, resilience.clone()).reaching(&endpoint);
    let stage_calls = Sender::new("IVSRealTime", clients.ivs, resilience).reaching(&clients.ivs_endpoint);
    let idempotency = Arc::new(Idempotency::new(config.idempotency_namespace.clone(), outcomes));
    let upstream: Arc<dyn GameLiftStreams> = Arc::new(sessions.clone());
    let watches = Watches::sharing(upstream.clone(), config.watch.clone(), schedule, results);
    if let Some(reads) = &fleet_reads {
        reads.push_changes_to(watches.clone());
    }
    let mut gateway_service = Gateway::new(upstream, idempotency.clone(), watches);
    if let Some(fleet) = &fleet {
        let store = Arc::new(FleetTerminations::new(fleet.clone()));
        gateway_service = gateway_service.keeping_terminations_in(store, terminations::SWEEP);
    }
    let _metrics = telemetry::metrics::register(&sessions, &idempotency, &gateway_service);
    if let Some(max_age) = config.fleet.as_ref().and_then(|f| f.recent_gets) {
        gateway_service = gateway_service.answering_gets_from_recent_polls(max_age);
    }
    let mut stage_reads: Arc<dyn StageReads> = Arc::new(stage_calls.clone());
    if let Some(reads) = &fleet_reads {
        stage_reads = Arc::new(SharedStageReads::new(stage_reads, reads.clone(), config.stage_watch.interval));
    }
    let stage_watches = StageWatches::new(stage_reads, config.stage_watch.clone());
    let _stage_metrics = telemetry::metrics::register_stages(&stage_watches);
    let stages = StagesGateway::new(stage_calls, idempotency.clone(), stage_watches);
    let services = Services { streams: gateway_service, stages: Some(stages) };
    let mut gateway = server::start_with(&config.listen, services, config.access.clone(), config.limits)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    announce(&format!("gateway listening on {}", gateway.local_addr()))?;
    if let Some(e) = &embedded {
        announce(&format!("emulator listening on {}", e.endpoint_url()))?;
    }
    if let Some(addr) = config.metrics_listen {
        let bound = telemetry::prometheus::serve(addr, telemetry.registry().clone())
            .await
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        announce(&format!("metrics listening on http://{bound}/metrics"))?;
    }
    if let Some(addr) = gateway.health_addr() {
        announce(&format!("health listening on {addr}"))?;
    }
    until_signal(&mut signals, gateway.stopped()).await?;
    if !config.shutdown_delay.is_zero() {
        tracing::info!(delay_seconds = config.shutdown_delay.as_secs_f64(), "serving on before draining");
        tokio::select! {
            _ = tokio::time::sleep(config.shutdown_delay) => {}
            _ = signals.next() => tracing::info!("second signal: draining now"),
        }
    }
    tracing::info!(grace_seconds = config.drain.as_secs_f64(), "draining");
    gateway.drain(config.drain).await;
    if let Some(fleet) = fleet {
        fleet.leave().await;
    }
    drop(fleet_metrics);
    if let Some(e) = embedded {
        e.shutdown().await;
    }
    Ok(())
}

/// Waits for SIGTERM or SIGINT; a server that stops first (`stopped`
/// resolves) is logged and made the process's error, so that it exits
/// non-zero instead of running on without a server.
async fn until_signal(signals: &mut Signals, stopped: impl std::future::Future<Output = String>) -> anyhow::Result<()> {
    tokio::select! {
        _ = signals.next() => Ok(()),
        why = stopped => {
            tracing::error!(reason = %why, "the gRPC server stopped serving; exiting");
            anyhow::bail!("{why}")
        }
    }
}

/// Prints the first stdout line, which scripts and tests wait for.
fn announce(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// SIGTERM and SIGINT, registered before anything is announced (so a signal
/// sent right after the announcement is never lost).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    /// Resolves at the next SIGTERM or SIGINT.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_stops_by_itself_is_an_error() {
        let mut signals = Signals::register().expect("signals");
        let err = until_signal(&mut signals, async { "the server failed: boom".to_string() }).await;
        assert_eq!(err.expect_err("not a clean stop").to_string(), "the server failed: boom");
    }
}
