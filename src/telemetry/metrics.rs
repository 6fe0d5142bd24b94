//! The gateway's own metrics, read at each collection from the counters the
//! retry layer, the idempotency store and the watches keep: nothing on the
//! call path records twice.

use std::sync::Arc;

use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};
use opentelemetry::KeyValue;

use crate::api::replay::Idempotency;
use crate::api::Gateway;
use crate::fleet::pacing::FleetPacing;
use crate::fleet::reads::FleetReads;
use crate::fleet::Fleet;
use crate::sessions::Sessions;
use crate::stages::watch::StageWatches;

/// The registered instruments; collection stops when they are dropped.
pub struct GatewayMetrics {
    _counters: Vec<ObservableCounter<u64>>,
    _seconds: Vec<ObservableCounter<f64>>,
    _gauges: Vec<ObservableGauge<f64>>,
}

type Observed<T> = Vec<(T, Vec<KeyValue>)>;

fn counter(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
    read: impl Fn() -> Observed<u64> + Send + Sync + 'static,
) -> ObservableCounter<u64> {
    meter
        .u64_observable_counter(name)
        .with_description(description)
        .with_callback(move |observer| {
            for (value, labels) in read() {
                observer.observe(value, &labels);
            }
        })
        .build()
}

fn gauge(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
    read: impl Fn() -> Observed<f64> + Send + Sync + 'static,
) -> ObservableGauge<f64> {
    meter
        .f64_observable_gauge(name)
        .with_description(description)
        .with_callback(move |observer| {
            for (value, labels) in read() {
                observer.observe(value, &labels);
            }
        })
        .build()
}

/// One observation per `(label value, value)` pair, labelled `key`.
fn by<T>(key: &'static str, pairs: impl IntoIterator<Item = (&'static str, T)>) -> Observed<T> {
    pairs.into_iter().map(|(label, value)| (value, vec![KeyValue::new(key, label)])).collect()
}

fn op(op: &str) -> KeyValue {
    KeyValue::new("operation", op.to_string())
}

/// Registers the gateway's metrics over `sessions`, `idempotency` and
/// `gateway`'s watches and deferred terminations.
pub fn register(sessions: &Sessions, idempotency: &Arc<Idempotency>, gateway: &Gateway) -> GatewayMetrics {
    let meter = super::meter();
    let watches = gateway.watches();
    let s = sessions.clone();
    let aws_calls = counter(
        &meter,
        "gls_gateway.aws.calls",
        "HTTP attempts to GameLift Streams and IVS Real-Time, by operation and outcome (Success or the error)",
        move || {
            let stats = s.resilience().stats();
            stats
                .counters
                .outcomes
                .iter()
                .map(|((o, outcome), n)| (*n, vec![op(o), KeyValue::new("outcome", *outcome)]))
                .collect()
        },
    );
    let s = sessions.clone();
    let retries = counter(
        &meter,
        "gls_gateway.aws.retries",
        "Retries, by operation and reason (throttled, server_error, timeout, connection)",
        move || {
            let stats = s.resilience().stats();
            stats
                .counters
                .retries
                .iter()
                .map(|((o, reason), n)| (*n, vec![op(o), KeyValue::new("reason", *reason)]))
                .collect()
        },
    );
    let s = sessions.clone();
    let throttles =
        counter(&meter, "gls_gateway.aws.throttles", "ThrottlingExceptions received, by operation", move || {
            s.resilience().stats().counters.throttles.iter().map(|(o, n)| (*n, vec![op(o)])).collect()
        });
    let s = sessions.clone();
    let give_ups = counter(
        &meter,
        "gls_gateway.aws.give_ups",
        "Calls that failed, by operation and why retrying stopped",
        move || {
            let stats = s.resilience().stats();
            stats
                .counters
                .give_ups
                .iter()
                .map(|((o, why), n)| (*n, vec![op(o), KeyValue::new("reason", *why)]))
                .collect()
        },
    );
    let i = idempotency.clone();
    let idempotent = counter(
        &meter,
        "gls_gateway.idempotency.calls",
        "Calls with a request_id that joined a call in flight, replayed a kept outcome, or were refused (conflict)",
        move || {
            let stats = i.stats();
            by("result", [("join", stats.joins), ("replay", stats.replays), ("conflict", stats.conflicts)])
        },
    );
    let w = watches.clone();
    let poll_calls =
        counter(&meter, "gls_gateway.watch.poll_calls", "Calls the watch pollers made, by operation", move || {
            w.stats().poll_calls.into_iter().map(|(o, n)| (n, vec![op(&o)])).collect()
        });

    let s = sessions.clone();
    let budget = gauge(
        &meter,
        "gls_gateway.retry_budget.tokens",
        "Retry-budget tokens left (and the capacity, with level=capacity)",
        move || {
            let stats = s.resilience().stats();
            by("level", [("available", f64::from(stats.budget_level)), ("capacity", f64::from(stats.budget_capacity))])
        },
    );
    let s = sessions.clone();
    let rates = gauge(
        &meter,
        "gls_gateway.rate_limit.rate",
        "Send rate each operation's limiter allows now, requests per second",
        move || s.resilience().stats().limiter_rates.iter().map(|(o, r)| (*r, vec![op(o)])).collect(),
    );
    let w = watches.clone();
    let watch_state = gauge(
        &meter,
        "gls_gateway.watch.active",
        "Open watch subscriptions (kind=watchers), watched sessions and running pollers",
        move || {
            let stats = w.stats();
            let counts =
                [("watchers", stats.watchers), ("sessions", stats.watched_sessions), ("pollers", stats.pollers)];
            by("kind", counts.map(|(kind, n)| (kind, n as f64)))
        },
    );
    let w = watches.clone();
    let watch_lag = gauge(
        &meter,
        "gls_gateway.watch.oldest_read_age_seconds",
        "Seconds since the watched session read least recently was read (never read: since it was first \
         watched); 0 with nothing watched. Grows while polls fail or wait for the quota",
        move || vec![(w.stats().oldest_read.as_secs_f64(), Vec::new())],
    );
    let d = gateway.deferrals().clone();
    let deferred = counter(
        &meter,
        "gls_gateway.terminations.deferred",
        "Terminations of sessions still ACTIVATING: recorded here (result=accepted) or taken over here from a \
         sidecar that stopped working on them (adopted), then sent when the session left ACTIVATING \
         (terminated), not needed because it ended first (ended_first), or given up (failed)",
        move || {
            let s = d.stats();
            by(
                "result",
                [
                    ("accepted", s.accepted),
                    ("adopted", s.adopted),
                    ("terminated", s.terminated),
                    ("ended_first", s.ended_first),
                    ("failed", s.failed),
                ],
            )
        },
    );
    let d = gateway.deferrals().clone();
    let deferred_pending = gauge(
        &meter,
        "gls_gateway.terminations.deferred_pending",
        "Terminations waiting here for their session to leave ACTIVATING",
        move || vec![(d.stats().pending as f64, Vec::new())],
    );
    GatewayMetrics {
        _counters: vec![aws_calls, retries, throttles, give_ups, idempotent, poll_calls, deferred],
        _seconds: Vec::new(),
        _gauges: vec![budget, rates, watch_state, watch_lag, deferred_pending],
    }
}

/// Registers the metrics of fleet mode over `fleet`, its send budget and its
/// shared poll results.
/// The Stages service's watches: open watches and running stage pollers.
pub fn register_stages(watches: &StageWatches) -> GatewayMetrics {
    let meter = super::meter();
    let w = watches.clone();
    let active = gauge(
        &meter,
        "gls_gateway.stage_watch.active",
        "WatchStageParticipants: open watches (kind=watchers) and running stage pollers (kind=pollers)",
        move || by("kind", [("watchers", w.watchers() as f64), ("pollers", w.pollers() as f64)]),
    );
    GatewayMetrics { _counters: Vec::new(), _seconds: Vec::new(), _gauges: vec![active] }
}

pub fn register_fleet(fleet: &Arc<Fleet>, pacing: &Arc<FleetPacing>, reads: &Arc<FleetReads>) -> GatewayMetrics {
    let meter = super::meter();
    let f = fleet.clone();
    let state = gauge(
        &meter,
        "gls_gateway.fleet.state",
        "Fleet mode: live members at the last heartbeat that reached Redis (kind=members); the members this sidecar divides each ceiling by when it paces alone: the most seen recently, at least the expected (kind=assumed_members); 1 while serving locally because Redis failed (kind=degraded); leases held for idempotency keys whose call runs here and for poll reads made here (kind=idempotency_leases, read_leases); writes waiting for Redis to answer again (kind=outbox)",
        move || {
            let stats = f.stats();
            by(
                "kind",
                [
                    ("members", stats.members as f64),
                    ("assumed_members", stats.assumed_members as f64),
                    ("degraded", f64::from(u8::from(stats.degraded))),
                    ("idempotency_leases", stats.idempotency_leases as f64),
                    ("read_leases", stats.read_leases as f64),
                    ("outbox", stats.outbox as f64),
                ],
            )
        },
    );
    let f = fleet.clone();
    let repairs = meter
        .u64_observable_counter("gls_gateway.fleet.repairs")
        .with_description("Bad values found in Redis and repaired (a value of the wrong type, out of range, not finite, or unreadable), by what they were (members, pace, poll schedule, outcome, poll result, pending termination); writes dropped from a full outbox (what=outbox_dropped)")
        .with_callback(move |observer| {
            let stats = f.stats();
            for (what, n) in stats.repairs {
                observer.observe(n, &[KeyValue::new("what", what)]);
            }
            observer.observe(stats.outbox_dropped, &[KeyValue::new("what", "outbox_dropped")]);
        })
        .build();
    let f = fleet.clone();
    let redis = counter(
        &meter,
        "gls_gateway.fleet.redis.commands",
        "Redis commands of fleet mode, by result (ok, error: failed or timed out), and times the sidecar went local (result=degraded)",
        move || {
            let stats = f.stats();
            by("result", [("ok", stats.commands.saturating_sub(stats.errors)), ("error", stats.errors), ("degraded", stats.degradations)])
        },
    );
    let f = fleet.clone();
    let latency = meter
        .f64_observable_counter("gls_gateway.fleet.redis.wait")
        .with_unit("s")
        .with_description("Seconds spent waiting for Redis commands that answered")
        .with_callback(move |observer| observer.observe(f.stats().latency_seconds, &[]))
        .build();
    let p = pacing.clone();
    let budget = counter(
        &meter,
        "gls_gateway.fleet.budget.slots",
        "Send slots in fleet mode, by result: from the fleet's budget at once (now) or later (waited); given back to the fleet's budget unused, past the caller's deadline or abandoned (given_back); from this sidecar's own share while Redis was away (local)",
        move || {
            let stats = p.stats();
            by(
                "result",
                [
                    ("now", stats.slots.saturating_sub(stats.waits)),
                    ("waited", stats.waits),
                    ("given_back", stats.given_back),
                    ("local", stats.local),
                ],
            )
        },
    );
    let r = reads.clone();
    let poll_reads = counter(
        &meter,
        "gls_gateway.fleet.poll.reads",
        "Watch poll reads in fleet mode, by result (fresh: another sidecar's result; fetched: read upstream under this sidecar's fetch lease; busy: another sidecar held the lease)",
        move || {
            let stats = r.stats();
            by("result", [("fresh", stats.fresh), ("fetched", stats.fetched), ("busy", stats.busy)])
        },
    );
    GatewayMetrics {
        _counters: vec![redis, budget, poll_reads, repairs],
        _seconds: vec![latency],
        _gauges: vec![state],
    }
}
