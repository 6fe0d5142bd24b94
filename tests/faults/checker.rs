//! The checker of a fault run: reads the recorded [`History`] and what the
//! emulator holds at the end ([`Upstream`]) and lists every violation of the
//! fleet's invariants, with what a reader needs to find it in the logs (the
//! request_id or ARN, the sidecar, the time, the faults under way). It knows
//! nothing of how the history was made (no workload, no Redis, no process),
//! so the tests at the bottom feed it hand-made histories that break each
//! invariant: a checker that cannot fail is caught there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use gamelift_streams_gateway::proto::v1::{StreamSessionEventKind as Kind, StreamSessionStatus as Status};
use tonic::Code;

use super::history::{Answer, Call, Event, History, Op, StartParams, Stream, Target, Upstream};

/// What must hold of every run, whatever the faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// An OK carries the session (or connection) the request's ClientToken
    /// made upstream, the same on every answer.
    FalseSuccess,
    /// A request whose token made a session is never answered a final error;
    /// one that failed for good answers alike on every replay.
    FalseFailure,
    /// One session per ClientToken, and only the workload's tokens.
    DuplicateSession,
    /// Every stream follows the session lifecycle forward: statuses,
    /// `last_updated_at`, revisions.
    StatusBackwards,
    /// Each open watch delivers the terminal state of the sessions it watches.
    MissedTerminal,
    /// At most the quota + 1 calls of an operation in any sliding second.
    OverCeiling,
    /// Once the faults healed, every sidecar starts sessions again.
    NoProgress,
}

impl Invariant {
    pub const ALL: [Invariant; 7] = [
        Invariant::FalseSuccess,
        Invariant::FalseFailure,
        Invariant::DuplicateSession,
        Invariant::StatusBackwards,
        Invariant::MissedTerminal,
        Invariant::OverCeiling,
        Invariant::NoProgress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Invariant::FalseSuccess => "no false success",
            Invariant::FalseFailure => "no false failure",
            Invariant::DuplicateSession => "no duplicate session",
            Invariant::StatusBackwards => "no status going backwards",
            Invariant::MissedTerminal => "no missed terminal state",
            Invariant::OverCeiling => "at most ceiling + 1 calls in any sliding second",
            Invariant::NoProgress => "every sidecar serves again once Redis healed",
        }
    }
}

/// One violation, said so that it can be found in the logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub invariant: Invariant,
    /// Which way it was broken (violations of one rule are alike).
    pub rule: &'static str,
    pub detail: String,
}

/// Every violation of one run.
#[derive(Debug, Default)]
pub struct Report {
    pub violations: Vec<Violation>,
}

/// How many violations of one rule a report prints in full.
const PRINTED: usize = 3;

impl Report {
    fn add(&mut self, invariant: Invariant, rule: &'static str, detail: String) {
        self.violations.push(Violation { invariant, rule, detail });
    }

    /// How many violations of `invariant`.
    pub fn count(&self, invariant: Invariant) -> usize {
        self.violations.iter().filter(|v| v.invariant == invariant).count()
    }

    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// Every violation, unabridged.
    pub fn full(&self) -> String {
        self.violations.iter().map(|v| format!("{} / {}: {}\n", v.invariant.name(), v.rule, v.detail)).collect()
    }
}

/// Each invariant, and under a broken one each rule with its count and its
/// first few violations.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "checker: {} violation(s)", self.violations.len())?;
        for invariant in Invariant::ALL {
            let found: Vec<&Violation> = self.violations.iter().filter(|v| v.invariant == invariant).collect();
            if found.is_empty() {
                writeln!(f, "  ok    {}", invariant.name())?;
                continue;
            }
            writeln!(f, "  FAIL  {}: {}", invariant.name(), found.len())?;
            let mut rules: Vec<&str> = found.iter().map(|v| v.rule).collect();
            rules.dedup();
            rules.sort_unstable();
            rules.dedup();
            for rule in rules {
                let of_rule: Vec<&&Violation> = found.iter().filter(|v| v.rule == rule).collect();
                writeln!(f, "        {rule}: {}", of_rule.len())?;
                for v in of_rule.iter().take(PRINTED) {
                    writeln!(f, "          - {}", v.detail)?;
                }
                if of_rule.len() > PRINTED {
                    writeln!(f, "          … {} more in the run's report.txt", of_rule.len() - PRINTED)?;
                }
            }
        }
        Ok(())
    }
}

/// Checks `history` against `upstream`; `token_of` is the ClientToken the
/// sidecars derive from a StartStreamSession request_id.
pub fn check(history: &History, upstream: &Upstream, token_of: &dyn Fn(&str) -> String) -> Report {
    let mut report = Report::default();
    starts(history, upstream, token_of, &mut report);
    reconnects(history, &mut report);
    terminates(history, upstream, &mut report);
    duplicates(history, upstream, token_of, &mut report);
    for chain in chains(history) {
        lifecycle(history, &chain, &mut report);
    }
    terminals(history, upstream, &mut report);
    ceilings(upstream, &mut report);
    progress(history, &mut report);
    report
}

/// An op as a report says it.
fn said(history: &History, op: &Op) -> String {
    format!(
        "sidecar {} at {:.2}–{:.2} s [{}] answered {}",
        op.sidecar,
        op.invoked,
        op.completed,
        history.faults_at(op.invoked),
        op.answer.brief()
    )
}

fn code_and_reason(answer: &Answer) -> Option<(Code, &str)> {
    match answer {
        Answer::Err { code, reason, .. } => Some((*code, reason.as_str())),
        Answer::Ok { .. } => None,
    }
}

fn request_id(call: &Call) -> &str {
    match call {
        Call::Start { request_id, .. } | Call::Reconnect { request_id, .. } | Call::Terminate { request_id, .. } => {
            request_id
        }
    }
}

/// The ops `wanted` picks, by request_id, each in the order they were sent.
fn by_request_id(history: &History, wanted: fn(&Call) -> bool) -> BTreeMap<&str, Vec<&Op>> {
    let mut ids: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| wanted(&op.call)) {
        ids.entry(request_id(&op.call)).or_default().push(op);
    }
    for ops in ids.values_mut() {
        ops.sort_by(|a, b| a.invoked.total_cmp(&b.invoked));
    }
    ids
}

fn start_params(call: &Call) -> StartParams {
    match call {
        Call::Start { params, .. } => *params,
        _ => unreachable!("a StartStreamSession"),
    }
}

/// No false success and no false failure of StartStreamSession.
fn starts(history: &History, upstream: &Upstream, token_of: &dyn Fn(&str) -> String, report: &mut Report) {
    let starts = by_request_id(history, |c| matches!(c, Call::Start { .. }));
    for (id, ops) in starts {
        let made = upstream.tokens.get(&token_of(id));
        let mut failed_for_good: Option<&Op> = None;
        for op in ops {
            let other = start_params(&op.call) == StartParams::Other;
            match &op.answer {
                Answer::Ok { arn, .. } if arn.is_empty() => report.add(
                    Invariant::FalseSuccess,
                    "OK without a session",
                    format!("start {id}: OK without a session: {}", said(history, op)),
                ),
                Answer::Ok { .. } if other => report.add(
                    Invariant::FalseSuccess,
                    "OK to a request_id reused with other parameters",
                    format!("start {id} reused with other parameters: {}", said(history, op)),
                ),
                Answer::Ok { arn, .. } => match made {
                    None => report.add(
                        Invariant::FalseSuccess,
                        "OK though the ClientToken made no session",
                        format!("start {id}: its ClientToken made no session, yet {}", said(history, op)),
                    ),
                    Some(made) if made != arn => report.add(
                        Invariant::FalseSuccess,
                        "OK with another session than the ClientToken's",
                        format!("start {id}: its ClientToken made {made}, yet {}", said(history, op)),
                    ),
                    Some(_) => {}
                },
                answer if answer.is_transient() => {}
                answer if other => {
                    if code_and_reason(answer) != Some((Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED")) {
                        report.add(
                            Invariant::FalseFailure,
                            "a reused request_id not refused with IDEMPOTENCY_KEY_REUSED",
                            format!(
                                "start {id} reused with other parameters: not IDEMPOTENCY_KEY_REUSED: {}",
                                said(history, op)
                            ),
                        );
                    }
                }
                _ => match (made, failed_for_good) {
                    (Some(made), _) => report.add(
                        Invariant::FalseFailure,
                        "a final error though the ClientToken made a session",
                        format!("start {id}: its ClientToken made {made}, yet {}", said(history, op)),
                    ),
                    (None, None) => failed_for_good = Some(op),
                    (None, Some(first)) if code_and_reason(&first.answer) != code_and_reason(&op.answer) => {
                        report.add(
                            Invariant::FalseFailure,
                            "a failure for good answered otherwise on a replay",
                            format!(
                                "start {id} failed for good ({}), then a replay: {}",
                                said(history, first),
                                said(history, op)
                            ),
                        );
                    }
                    (None, Some(_)) => {}
                },
            }
        }
    }
}

/// CreateStreamSessionConnection: one signal response per request_id, and
/// no final error for a request_id once it created its connection (an
/// earlier error was true when answered: the session could not take one).
fn reconnects(history: &History, report: &mut Report) {
    let reconnects = by_request_id(history, |c| matches!(c, Call::Reconnect { .. }));
    for (id, ops) in reconnects {
        let oks: Vec<&Op> = ops.iter().copied().filter(|op| matches!(op.answer, Answer::Ok { .. })).collect();
        let signals: BTreeSet<&str> = oks
            .iter()
            .filter_map(|op| match &op.answer {
                Answer::Ok { signal_response, .. } => Some(signal_response.as_str()),
                Answer::Err { .. } => None,
            })
            .collect();
        if signals.contains("") {
            report.add(
                Invariant::FalseSuccess,
                "a reconnect OK without a signal response",
                format!("reconnect {id}: OK without a signal response"),
            );
        }
        if signals.len() > 1 {
            let answers: Vec<String> = oks.iter().map(|op| said(history, op)).collect();
            report.add(
                Invariant::FalseSuccess,
                "a reconnect answered with two signal responses",
                format!("reconnect {id}: {} signal responses: {}", signals.len(), answers.join("; ")),
            );
        }
        let Some(ok) = oks.iter().min_by(|a, b| a.completed.total_cmp(&b.completed)) else { continue };
        // Sent once the connection was known made: a replay must answer it.
        let after = ops.iter().filter(|op| op.invoked > ok.completed);
        for op in after.filter(|op| !op.answer.is_transient() && !matches!(op.answer, Answer::Ok { .. })) {
            report.add(
                Invariant::FalseFailure,
                "a reconnect failed after its connection was made",
                format!("reconnect {id} made its connection ({}), yet {}", said(history, ok), said(history, op)),
            );
        }
    }
}

/// TerminateStreamSession of a session that exists never fails for good
/// (ended sessions terminate again, ACTIVATING ones are deferred).
fn terminates(history: &History, upstream: &Upstream, report: &mut Report) {
    for op in &history.ops {
        let Call::Terminate { request_id, arn } = &op.call else { continue };
        let final_error = !op.answer.is_transient() && !matches!(op.answer, Answer::Ok { .. });
        if final_error && upstream.sessions.contains_key(arn) {
            report.add(
                Invariant::FalseFailure,
                "a terminate of an existing session failed",
                format!("terminate {request_id} of {arn}, which exists: {}", said(history, op)),
            );
        }
    }
}

/// Every session upstream was made by a ClientToken of the workload's request_ids.
fn duplicates(history: &History, upstream: &Upstream, token_of: &dyn Fn(&str) -> String, report: &mut Report) {
    let workload: BTreeSet<String> = history
        .ops
        .iter()
        .filter_map(|op| match &op.call {
            Call::Start { request_id, .. } => Some(token_of(request_id)),
            _ => None,
        })
        .collect();
    for (token, arn) in &upstream.tokens {
        if !workload.contains(token) {
            report.add(
                Invariant::DuplicateSession,
                "a session of a ClientToken of no request_id",
                format!("session {arn} was made by ClientToken {token}, of no request_id of the workload"),
            );
        }
    }
    let made: BTreeSet<&String> = upstream.tokens.values().collect();
    for arn in upstream.sessions.keys().filter(|arn| !made.contains(arn)) {
        report.add(
            Invariant::DuplicateSession,
            "a session without a ClientToken",
            format!("session {arn} was started without a ClientToken (a second session for some request?)"),
        );
    }
    let mut per_arn: HashMap<&String, usize> = HashMap::new();
    for arn in upstream.tokens.values() {
        *per_arn.entry(arn).or_default() += 1;
    }
    for (arn, n) in per_arn.into_iter().filter(|(_, n)| *n > 1) {
        report.add(
            Invariant::DuplicateSession,
            "a session of several ClientTokens",
            format!("session {arn} is the session of {n} ClientTokens"),
        );
    }
}

/// The streams of each watcher, in the order they were opened.
fn chains(history: &History) -> Vec<Vec<usize>> {
    let mut by_watcher: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, stream) in history.streams.iter().enumerate() {
        by_watcher.entry(stream.watcher).or_default().push(i);
    }
    for chain in by_watcher.values_mut() {
        chain.sort_by(|a, b| history.streams[*a].opened.total_cmp(&history.streams[*b].opened));
    }
    by_watcher.into_values().collect()
}

fn is_terminal(status: Status) -> bool {
    matches!(status, Status::Terminated | Status::Error)
}

fn is_running(status: Status) -> bool {
    matches!(status, Status::Active | Status::Connected | Status::PendingClientReconnection | Status::Reconnecting)
}

/// Whether a poller that saw `from` may next see `to`: the emulator's
/// lifecycle (src/emulator/model.rs), any number of steps at once.
/// ACTIVATING → ACTIVE (placed) or ERROR (placement timeout); the running
/// states ACTIVE → CONNECTED → PENDING_CLIENT_RECONNECTION → RECONNECTING →
/// ACTIVE … reach each other and TERMINATING; TERMINATING → TERMINATED;
/// TERMINATED and ERROR are final.
pub fn may_follow(from: Status, to: Status) -> bool {
    if from == to {
        return true;
    }
    match from {
        Status::Activating => to != Status::Unspecified,
        s if is_running(s) => is_running(to) || matches!(to, Status::Terminating | Status::Terminated),
        Status::Terminating => to == Status::Terminated,
        _ => false,
    }
}

fn watched(stream: &Stream) -> String {
    match &stream.target {
        Target::Session(arn) => format!("WatchStreamSession({arn}) on sidecar {}", stream.sidecar),
        Target::Group => format!("WatchStreamSessions on sidecar {}", stream.sidecar),
    }
}

/// What a watcher saw of a session once: when, its status, its last_updated_at.
type Sight = (f64, Status, Option<f64>);

/// One line of the statuses a watcher saw of one session, for reports.
fn trail(seen: &[Sight]) -> String {
    let start = seen.len().saturating_sub(8);
    let steps: Vec<String> = seen[start..]
        .iter()
        .map(|(at, s, updated)| {
            let name = s.as_str_name().trim_start_matches("STREAM_SESSION_STATUS_");
            match updated {
                Some(u) => format!("{name}@{at:.2}s(updated {u:.3})"),
                None => format!("{name}@{at:.2}s"),
            }
        })
        .collect();
    format!("{}{}", if start > 0 { "… → " } else { "" }, steps.join(" → "))
}

/// One watcher's streams follow the lifecycle forward.
fn lifecycle(history: &History, chain: &[usize], report: &mut Report) {
    // Per session: what this watcher saw of it.
    let mut seen: HashMap<&str, Vec<Sight>> = HashMap::new();
    // One report per session and rule; the count of the others.
    let mut reported: BTreeMap<(String, &'static str), (String, usize)> = BTreeMap::new();
    let mut flag = |arn: &str, rule: &'static str, detail: String| {
        reported.entry((arn.to_string(), rule)).or_insert((detail, 0)).1 += 1;
    };
    let mut chain_floor = i64::MIN;
    for &index in chain {
        let stream = &history.streams[index];
        let mut terminal_at: Option<f64> = None;
        for event in &stream.events {
            revisions(stream, event, &mut chain_floor, &mut flag, history);
            if event.arn.is_empty() {
                continue;
            }
            if let (Target::Session(_), Some(at)) = (&stream.target, terminal_at) {
                flag(
                    &event.arn,
                    "an event after the terminal state",
                    format!(
                        "{}: {:?} at {:.2} s [{}] after the terminal state at {at:.2} s",
                        watched(stream),
                        event.kind,
                        event.at,
                        history.faults_at(event.at)
                    ),
                );
            }
            let trail_of = seen.entry(event.arn.as_str()).or_default();
            if let Some(&(at, before, updated)) = trail_of.last() {
                trail_of.push((event.at, event.status, event.last_updated_at));
                if !may_follow(before, event.status) {
                    flag(
                        &event.arn,
                        "a status out of the lifecycle",
                        format!(
                            "{}: {} at {:.2} s [{}] after {} at {at:.2} s; saw {}",
                            watched(stream),
                            event.status.as_str_name(),
                            event.at,
                            history.faults_at(event.at),
                            before.as_str_name(),
                            trail(trail_of)
                        ),
                    );
                }
                if let (Some(then), Some(now)) = (updated, event.last_updated_at) {
                    if now < then - 1e-6 {
                        flag(
                            &event.arn,
                            "last_updated_at going back",
                            format!(
                                "{}: last_updated_at went back {:.3} s at {:.2} s [{}]; saw {}",
                                watched(stream),
                                then - now,
                                event.at,
                                history.faults_at(event.at),
                                trail(trail_of)
                            ),
                        );
                    }
                }
            } else {
                trail_of.push((event.at, event.status, event.last_updated_at));
            }
            if is_terminal(event.status) && terminal_at.is_none() {
                terminal_at = Some(event.at);
            }
        }
    }
    for ((arn, rule), (detail, n)) in reported {
        let more = if n > 1 { format!(" ({} times on this watcher)", n) } else { String::new() };
        report.add(Invariant::StatusBackwards, rule, format!("{arn}: {detail}{more}"));
    }
}

/// Revisions strictly increase on a watcher's changes (snapshots and
/// changes); heartbeats and SYNCED repeat the last one.
fn revisions(
    stream: &Stream,
    event: &Event,
    floor: &mut i64,
    flag: &mut impl FnMut(&str, &'static str, String),
    history: &History,
) {
    let repeats = matches!(event.kind, Kind::Heartbeat | Kind::Synced);
    let wrong = if repeats { event.revision < *floor } else { event.revision <= *floor };
    if wrong {
        flag(
            &event.arn,
            "a revision not increasing",
            format!(
                "{}: {:?} at {:.2} s [{}] has revision {} after {}",
                watched(stream),
                event.kind,
                event.at,
                history.faults_at(event.at),
                event.revision,
                floor
            ),
        );
    }
    *floor = (*floor).max(event.revision);
}

/// Every watcher still watching a session that ended delivered its end.
fn terminals(history: &History, upstream: &Upstream, report: &mut Report) {
    for chain in chains(history) {
        let last = &history.streams[*chain.last().expect("a chain has a stream")];
        match &last.target {
            Target::Session(arn) => session_terminal(history, &chain, arn, upstream, report),
            Target::Group if last.end.is_none() => group_terminals(last, upstream, report),
            Target::Group => {}
        }
    }
}

fn session_terminal(history: &History, chain: &[usize], arn: &str, upstream: &Upstream, report: &mut Report) {
    let Some(&ended) = upstream.sessions.get(arn).filter(|s| is_terminal(**s)) else { return };
    let last = &history.streams[*chain.last().expect("a stream")];
    let events: Vec<&Event> = chain.iter().flat_map(|i| &history.streams[*i].events).collect();
    let delivered = events.iter().any(|e| e.status == ended && e.kind != Kind::Heartbeat);
    let how_it_ended = match &last.end {
        None => "still open".to_string(),
        Some(end) => match &end.error {
            None => format!("ended OK at {:.2} s", end.at),
            Some((code, reason)) => format!("ended with {code:?} {reason} at {:.2} s", end.at),
        },
    };
    let saw = events.last().map_or("nothing".to_string(), |e| format!("{} at {:.2} s", e.status.as_str_name(), e.at));
    if !delivered {
        report.add(
            Invariant::MissedTerminal,
            "a session watch without its session's end",
            format!(
                "{} ended {}; the watcher last saw {saw}, stream {how_it_ended}",
                watched(last),
                ended.as_str_name()
            ),
        );
    } else if !matches!(&last.end, Some(end) if end.error.is_none()) {
        report.add(
            Invariant::MissedTerminal,
            "a session watch not ended after its session's end",
            format!("{} delivered {} but did not end with OK: {how_it_ended}", watched(last), ended.as_str_name()),
        );
    }
}

fn group_terminals(stream: &Stream, upstream: &Upstream, report: &mut Report) {
    let mut latest: HashMap<&str, Status> = HashMap::new();
    for event in stream.events.iter().filter(|e| !e.arn.is_empty()) {
        latest.insert(event.arn.as_str(), event.status);
    }
    let missed: Vec<String> = upstream
        .sessions
        .iter()
        .filter(|(arn, ended)| is_terminal(**ended) && latest.get(arn.as_str()) != Some(*ended))
        .map(|(arn, ended)| {
            let saw = latest.get(arn.as_str()).map_or("nothing", |s| s.as_str_name());
            format!("{arn} ended {} but last seen {saw}", ended.as_str_name())
        })
        .collect();
    if let Some(first) = missed.first() {
        report.add(
            Invariant::MissedTerminal,
            "a group watch without some sessions' ends",
            format!(
                "{} (open since {:.2} s, {} events) missed the end of {} session(s), e.g. {first}",
                watched(stream),
                stream.opened,
                stream.events.len(),
                missed.len()
            ),
        );
    }
}

/// No operation above its quota + 1 in any sliding second.
fn ceilings(upstream: &Upstream, report: &mut Report) {
    for (op, peak) in &upstream.peaks {
        let Some(ceiling) = upstream.ceilings.get(op) else { continue };
        let allowed = ceiling.floor() as usize + 1;
        if *peak > allowed {
            report.add(
                Invariant::OverCeiling,
                "an operation above its quota + 1",
                format!("{op}: {peak} calls within one sliding second (quota {ceiling}/s, at most {allowed})"),
            );
        }
    }
}

/// Every sidecar answered one of its probes after the heal with OK.
fn progress(history: &History, report: &mut Report) {
    let mut probes: BTreeMap<usize, Vec<&Op>> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.probe) {
        probes.entry(op.sidecar).or_default().push(op);
    }
    for (sidecar, ops) in probes {
        if ops.iter().any(|op| matches!(op.answer, Answer::Ok { .. })) {
            continue;
        }
        let last = ops.iter().max_by(|a, b| a.invoked.total_cmp(&b.invoked)).expect("a probe");
        report.add(
            Invariant::NoProgress,
            "a sidecar that starts no session once healed",
            format!(
                "sidecar {sidecar} started no session after the heal: {} probes from {:.2} s to {:.2} s, the last {}",
                ops.len(),
                ops.iter().map(|o| o.invoked).fold(f64::MAX, f64::min),
                last.completed,
                last.answer.brief()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::history::{End, Fault};
    use super::*;

    const ARN_A: &str = "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-000000001/AAAA";
    const ARN_B: &str = "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-000000001/BBBB";
    const ARN_P: &str = "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-000000001/PPPP";

    fn token(request_id: &str) -> String {
        format!("token-{request_id}")
    }

    fn ok(arn: &str) -> Answer {
        Answer::Ok { arn: arn.into(), status: Status::Activating, signal_response: String::new() }
    }

    fn err(code: Code, reason: &str, retry_info: bool) -> Answer {
        Answer::Err { code, reason: reason.into(), retry_info, message: "m".into() }
    }

    fn start(sidecar: usize, at: f64, request_id: &str, params: StartParams, answer: Answer) -> Op {
        Op {
            sidecar,
            call: Call::Start { request_id: request_id.into(), params },
            invoked: at,
            completed: at + 0.1,
            answer,
            probe: false,
        }
    }

    fn event(at: f64, kind: Kind, arn: &str, status: Status, updated: f64, revision: i64) -> Event {
        Event { at, kind, arn: arn.into(), status, last_updated_at: Some(updated), revision }
    }

    fn session_stream(watcher: usize, arn: &str, events: Vec<Event>, end: Option<End>) -> Stream {
        Stream { watcher, sidecar: 0, target: Target::Session(arn.into()), opened: 0.0, events, end }
    }

    fn ended_ok(at: f64) -> Option<End> {
        Some(End { at, error: None })
    }

    /// A run that went right: two starts (one replayed on another sidecar,
    /// one throttled first), a key reused, a failure for good replayed alike,
    /// a session watched to its end, a group stream that saw it, peaks within.
    fn clean() -> (History, Upstream) {
        use Kind::{Change, Heartbeat, Snapshot, Synced};
        let ops = vec![
            start(0, 1.0, "r1", StartParams::Usual, ok(ARN_A)),
            start(1, 1.2, "r1", StartParams::Usual, ok(ARN_A)),
            start(1, 1.5, "r1", StartParams::Other, err(Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED", false)),
            start(2, 2.0, "r2", StartParams::Usual, err(Code::Unavailable, "RATE_LIMITED", true)),
            start(2, 3.0, "r2", StartParams::Usual, ok(ARN_B)),
            start(0, 3.0, "r3", StartParams::UnknownApp, err(Code::NotFound, "NOT_FOUND", false)),
            start(1, 4.0, "r3", StartParams::UnknownApp, err(Code::NotFound, "NOT_FOUND", false)),
            Op {
                sidecar: 0,
                call: Call::Terminate { request_id: "t1".into(), arn: ARN_A.into() },
                invoked: 5.0,
                completed: 5.1,
                answer: ok(ARN_A),
                probe: false,
            },
            Op { probe: true, ..start(0, 9.0, "probe-0", StartParams::Usual, ok(ARN_P)) },
        ];
        let watch = session_stream(
            0,
            ARN_A,
            vec![
                event(1.3, Snapshot, ARN_A, Status::Activating, 100.0, 10),
                event(2.3, Change, ARN_A, Status::Active, 105.0, 11),
                event(3.3, Heartbeat, ARN_A, Status::Active, 105.0, 11),
                event(5.5, Change, ARN_A, Status::Terminated, 110.0, 12),
            ],
            ended_ok(5.5),
        );
        let group = Stream {
            watcher: 1,
            sidecar: 1,
            target: Target::Group,
            opened: 0.0,
            events: vec![
                Event {
                    at: 0.1,
                    kind: Synced,
                    arn: String::new(),
                    status: Status::Unspecified,
                    last_updated_at: None,
                    revision: 5,
                },
                event(1.4, Change, ARN_A, Status::Activating, 100.0, 6),
                event(3.4, Change, ARN_B, Status::Activating, 101.0, 7),
                event(5.6, Change, ARN_A, Status::Terminated, 110.0, 8),
                Event {
                    at: 6.6,
                    kind: Heartbeat,
                    arn: String::new(),
                    status: Status::Unspecified,
                    last_updated_at: None,
                    revision: 8,
                },
            ],
            end: None,
        };
        let history = History {
            ops,
            streams: vec![watch, group],
            faults: vec![Fault { start: 2.0, end: 4.0, what: "freeze Redis".into() }],
        };
        let upstream = Upstream {
            tokens: BTreeMap::from([
                (token("r1"), ARN_A.to_string()),
                (token("r2"), ARN_B.to_string()),
                (token("probe-0"), ARN_P.to_string()),
            ]),
            sessions: BTreeMap::from([
                (ARN_A.to_string(), Status::Terminated),
                (ARN_B.to_string(), Status::Active),
                (ARN_P.to_string(), Status::Activating),
            ]),
            peaks: BTreeMap::from([("StartStreamSession".to_string(), 21)]),
            ceilings: BTreeMap::from([("StartStreamSession".to_string(), 20.0)]),
        };
        (history, upstream)
    }

    fn checked(history: &History, upstream: &Upstream) -> Report {
        check(history, upstream, &token)
    }

    #[test]
    fn a_run_that_went_right_has_no_violation() {
        let (history, upstream) = clean();
        let report = checked(&history, &upstream);
        assert!(report.is_clean(), "{report}");
    }

    #[test]
    fn an_ok_without_the_tokens_session_is_a_false_success() {
        let (mut history, upstream) = clean();
        // The known bug: a start that failed for good, replayed, answered OK with an empty session.
        history.ops.push(start(2, 6.0, "r3", StartParams::UnknownApp, ok("")));
        history.ops.push(start(2, 6.0, "r1", StartParams::Usual, ok(ARN_B)));
        history.ops.push(start(2, 6.0, "r9", StartParams::Usual, ok(ARN_B)));
        history.ops.push(start(2, 6.0, "r1", StartParams::Other, ok(ARN_A)));
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::FalseSuccess), 4, "{report}");
        assert_eq!(report.violations.len(), 4, "{report}");
    }

    #[test]
    fn a_final_error_for_a_request_that_made_its_session_is_a_false_failure() {
        let (mut history, upstream) = clean();
        // The known bug: joined on another sidecar, "INTERNAL retry" after ~8 s.
        history.ops.push(start(2, 3.0, "r1", StartParams::Usual, err(Code::Internal, "INTERNAL", false)));
        // Failed for good with NOT_FOUND, then something else on a replay.
        history.ops.push(start(2, 7.0, "r3", StartParams::UnknownApp, err(Code::Internal, "INTERNAL", false)));
        // A reused key refused with something else than IDEMPOTENCY_KEY_REUSED.
        history.ops.push(start(2, 8.0, "r2", StartParams::Other, err(Code::FailedPrecondition, "CONFLICT", false)));
        // UNAVAILABLE says "retry", but only with RetryInfo.
        history.ops.push(start(2, 9.0, "r2", StartParams::Usual, err(Code::Unavailable, "", false)));
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::FalseFailure), 4, "{report}");
        assert_eq!(report.violations.len(), 4, "{report}");
        assert!(report.full().contains("[during freeze Redis]"), "what the fleet went through: {report}");
        assert!(report.full().contains("[4.0 s after freeze Redis]"), "{report}");
    }

    #[test]
    fn reconnects_answer_one_signal_and_terminates_of_live_sessions_do_not_fail() {
        let (mut history, upstream) = clean();
        let reconnect = |sidecar, at, answer| Op {
            sidecar,
            call: Call::Reconnect { request_id: "c1".into(), arn: ARN_B.into(), signal: "offer-2".into() },
            invoked: at,
            completed: at + 0.1,
            answer,
            probe: false,
        };
        let signal =
            |s: &str| Answer::Ok { arn: String::new(), status: Status::Reconnecting, signal_response: s.into() };
        history.ops.push(reconnect(0, 6.0, signal("answer-1")));
        history.ops.push(reconnect(1, 6.1, signal("answer-1")));
        // Before the connection was made the session could refuse it.
        history.ops.push(reconnect(2, 5.0, err(Code::FailedPrecondition, "CONFLICT", false)));
        assert!(checked(&history, &upstream).is_clean());
        history.ops.push(reconnect(2, 6.2, signal("answer-2")));
        history.ops.push(reconnect(2, 6.3, err(Code::FailedPrecondition, "CONFLICT", false)));
        history.ops.push(Op {
            sidecar: 1,
            call: Call::Terminate { request_id: "t2".into(), arn: ARN_B.into() },
            invoked: 7.0,
            completed: 7.1,
            answer: err(Code::NotFound, "NOT_FOUND", false),
            probe: false,
        });
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::FalseSuccess), 1, "{report}");
        assert_eq!(report.count(Invariant::FalseFailure), 2, "{report}");
    }

    #[test]
    fn sessions_without_a_workload_token_are_duplicates() {
        let (history, mut upstream) = clean();
        let stray = "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-000000001/CCCC";
        upstream.sessions.insert(stray.into(), Status::Active);
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::DuplicateSession), 1, "{report}");
        upstream.tokens.insert("token-of-nobody".into(), stray.into());
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::DuplicateSession), 1, "{report}");
        upstream.tokens.insert(token("r3"), ARN_A.into());
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::DuplicateSession), 2, "{report}");
    }

    #[test]
    fn terminated_then_connected_is_a_status_going_backwards() {
        use Kind::{Change, Heartbeat, Snapshot};
        let (mut history, upstream) = clean();
        // The known bug: after a frozen Redis, TERMINATED → CONNECTED → TERMINATED.
        history.streams.push(Stream {
            watcher: 7,
            sidecar: 2,
            target: Target::Group,
            opened: 0.0,
            events: vec![
                event(1.0, Snapshot, ARN_A, Status::Connected, 103.0, 20),
                event(5.0, Change, ARN_A, Status::Terminated, 110.0, 21),
                event(6.0, Change, ARN_A, Status::Connected, 103.0, 22),
                event(7.0, Change, ARN_A, Status::Terminated, 110.0, 23),
            ],
            end: None,
        });
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::StatusBackwards), 2, "out of the lifecycle, and older: {report}");
        assert!(report.to_string().contains("CONNECTED@6.00s"), "{report}");

        let (mut history, upstream) = clean();
        history.streams.push(session_stream(
            8,
            ARN_B,
            vec![
                event(1.0, Snapshot, ARN_B, Status::Active, 103.0, 30),
                event(2.0, Change, ARN_B, Status::Activating, 104.0, 31),
                event(3.0, Change, ARN_B, Status::Connected, 105.0, 31),
                event(4.0, Heartbeat, ARN_B, Status::Connected, 105.0, 29),
            ],
            None,
        ));
        let report = checked(&history, &upstream);
        let text = report.to_string();
        assert_eq!(report.count(Invariant::StatusBackwards), 2, "{text}");
        assert!(text.contains("status out of the lifecycle") && text.contains("revision not increasing"), "{text}");
        // Polling may skip states: ACTIVATING → CONNECTED → TERMINATED is fine.
        let (mut history, upstream) = clean();
        history.streams.push(session_stream(
            9,
            ARN_A,
            vec![
                event(1.0, Snapshot, ARN_A, Status::Activating, 100.0, 40),
                event(3.0, Change, ARN_A, Status::Connected, 106.0, 41),
                event(5.0, Change, ARN_A, Status::Terminated, 110.0, 42),
            ],
            ended_ok(5.0),
        ));
        assert!(checked(&history, &upstream).is_clean());
    }

    #[test]
    fn an_event_after_the_terminal_state_or_an_older_update_is_caught() {
        use Kind::{Change, Snapshot};
        let (mut history, upstream) = clean();
        history.streams.push(session_stream(
            9,
            ARN_A,
            vec![
                event(1.0, Snapshot, ARN_A, Status::Active, 105.0, 40),
                event(2.0, Change, ARN_A, Status::Active, 104.0, 41),
                event(5.0, Change, ARN_A, Status::Terminated, 110.0, 42),
                event(5.1, Change, ARN_A, Status::Terminated, 110.0, 43),
            ],
            ended_ok(5.2),
        ));
        let report = checked(&history, &upstream);
        let text = report.to_string();
        assert_eq!(report.count(Invariant::StatusBackwards), 2, "{text}");
        assert!(text.contains("last_updated_at going back") && text.contains("after the terminal state"), "{text}");
    }

    #[test]
    fn a_watch_left_without_the_end_of_its_session_missed_it() {
        let (mut history, upstream) = clean();
        history.streams[0].events.pop();
        history.streams[0].end = None;
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::MissedTerminal), 1, "{report}");
        assert!(report.to_string().contains("still open"), "{report}");

        let (mut history, upstream) = clean();
        history.streams[0].end = None;
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::MissedTerminal), 1, "delivered but not ended: {report}");

        let (mut history, upstream) = clean();
        history.streams[1].events.retain(|e| e.status != Status::Terminated);
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::MissedTerminal), 1, "{report}");

        // A watcher whose stream broke and resumed is one watcher.
        let (mut history, upstream) = clean();
        let mut events = history.streams[0].events.clone();
        let last = events.split_off(2);
        history.streams[0].events = events;
        history.streams[0].end = Some(End { at: 3.0, error: Some((Code::Unavailable, "WATCH_CLOSED".into())) });
        history.streams.push(Stream { opened: 3.1, ..session_stream(0, ARN_A, last, ended_ok(5.5)) });
        assert!(checked(&history, &upstream).is_clean(), "{}", checked(&history, &upstream));
    }

    #[test]
    fn more_than_the_ceiling_plus_one_in_a_second_is_over_the_ceiling() {
        let (history, mut upstream) = clean();
        upstream.peaks.insert("StartStreamSession".into(), 22);
        upstream.peaks.insert("GetStreamSession".into(), 99);
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::OverCeiling), 1, "an operation without a quota is not limited: {report}");
    }

    #[test]
    fn a_sidecar_that_never_starts_again_after_the_heal_made_no_progress() {
        let (mut history, upstream) = clean();
        for at in [10.0, 11.0, 12.0] {
            history.ops.push(Op {
                probe: true,
                ..start(
                    1,
                    at,
                    &format!("probe-1-{at}"),
                    StartParams::Usual,
                    err(Code::Unavailable, "RATE_LIMITED", true),
                )
            });
        }
        let report = checked(&history, &upstream);
        assert_eq!(report.count(Invariant::NoProgress), 1, "{report}");
        assert_eq!(report.count(Invariant::FalseSuccess) + report.count(Invariant::FalseFailure), 0, "{report}");
    }
}
