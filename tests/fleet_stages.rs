//! Stage watches in fleet mode: gateway processes sharing one real
//! `redis-server`, in front of one emulator with IVS Real-Time's quotas on
//! (5 ListParticipants a second for the account). Forty watchers on eight
//! stages, spread over four sidecars, must each see every join and every
//! leave on their stage, while ListParticipants stays within 5 calls in any
//! sliding second (the emulator counts the arrivals); and the same holds,
//! each join and leave told once and in order, while a seeded schedule of
//! faults kills, freezes, flushes and corrupts Redis (`GLS_FAULTS_SEED`).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gamelift_streams_gateway::proto::ivs as pb;
use gamelift_streams_gateway::proto::ivs::stages_client::StagesClient;
use reqwest::Method;
use serde_json::json;
use support::harness;
use support::process::{gateway_process, ChildProcess};
use support::redis::RedisServer;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use pb::ParticipantEventName as Name;

const SIDECARS: usize = 4;
const STAGES: usize = 8;
const WATCHERS_PER_STAGE: usize = 5;
const PARTICIPANTS_PER_STAGE: usize = 3;

/// What one watcher saw: (user, JOINED or LEFT), and whether it synced.
#[derive(Default)]
struct Seen {
    synced: bool,
    changes: BTreeSet<(String, i32)>,
}

async fn create_token(client: &mut StagesClient<Channel>, stage: &str, user: &str) -> String {
    let request = pb::CreateParticipantTokenRequest {
        stage_arn: stage.into(),
        configuration: Some(pb::ParticipantTokenConfiguration { user_id: user.into(), ..Default::default() }),
        ..Default::default()
    };
    let token = client.create_participant_token(request).await.expect("token").into_inner().participant_token;
    token.expect("a token").token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_sidecars_keep_list_participants_within_the_quota_and_forty_watchers_see_every_join_and_leave() {
    let redis = RedisServer::start();
    let h = harness().await;
    let mut sidecars: Vec<(ChildProcess, StagesClient<Channel>)> = Vec::new();
    for _ in 0..SIDECARS {
        let (process, url) = gateway_process(&h.emulator.endpoint_url(), &["--redis-url", &redis.url()]);
        process.wait_for_stderr("fleet mode on");
        sidecars.push((process, StagesClient::connect(url).await.expect("connect")));
    }
    let mut first = sidecars[0].1.clone();
    let mut stages = Vec::new();
    for i in 0..STAGES {
        let request = pb::CreateStageRequest { name: format!("match-{i}"), ..Default::default() };
        stages.push(first.create_stage(request).await.expect("stage").into_inner().stage.expect("stage").arn);
    }

    let seen: Arc<Mutex<HashMap<usize, Seen>>> = Arc::default();
    let mut watchers = Vec::new();
    for w in 0..STAGES * WATCHERS_PER_STAGE {
        let mut client = sidecars[w % SIDECARS].1.clone();
        let stage = stages[w % STAGES].clone();
        let seen = seen.clone();
        watchers.push(tokio::spawn(async move {
            let request = pb::WatchStageParticipantsRequest { stage_arn: stage };
            let mut events = client.watch_stage_participants(request).await.expect("watch").into_inner();
            while let Some(event) = events.next().await {
                let event = event.expect("no error").event.expect("event");
                let mut all = seen.lock().expect("lock");
                let mine = all.entry(w).or_default();
                match (event.kind(), event.participant_event) {
                    (pb::StageParticipantEventKind::Synced, _) => mine.synced = true,
                    (pb::StageParticipantEventKind::Change, Some(change))
                        if matches!(change.name(), Name::Joined | Name::Left) =>
                    {
                        let user = event.participant.expect("who").user_id;
                        mine.changes.insert((user, change.name));
                    }
                    _ => {}
                }
            }
        }));
    }
    let all_synced = || seen.lock().expect("lock").values().filter(|s| s.synced).count() == watchers.len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !all_synced() {
        assert!(tokio::time::Instant::now() < deadline, "every watcher synced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Three participants a stage join; two leave soon after, the last later.
    let mut joined = Vec::new();
    for (s, stage) in stages.iter().enumerate() {
        for p in 0..PARTICIPANTS_PER_STAGE {
            let user = format!("s{s}-p{p}");
            let token = create_token(&mut first, stage, &user).await;
            let (status, body) = h.admin(Method::POST, "ivs/participants", Some(json!({ "token": token }))).await;
            assert_eq!(status, 200, "join: {body}");
            joined.push((s, user, body["participantId"].as_str().expect("id").to_string()));
        }
    }
    for (_, _, id) in joined.iter().filter(|(_, user, _)| !user.ends_with("p2")) {
        let (status, body) = h.admin(Method::POST, &format!("ivs/participants/{id}/leave"), None).await;
        assert_eq!(status, 200, "leave: {body}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (_, _, id) in joined.iter().filter(|(_, user, _)| user.ends_with("p2")) {
        let (status, body) = h.admin(Method::POST, &format!("ivs/participants/{id}/leave"), None).await;
        assert_eq!(status, 200, "leave: {body}");
    }

    let expected = |w: usize| -> BTreeSet<(String, i32)> {
        let stage = w % STAGES;
        joined
            .iter()
            .filter(|(s, _, _)| *s == stage)
            .flat_map(|(_, user, _)| [(user.clone(), Name::Joined.into()), (user.clone(), Name::Left.into())])
            .collect()
    };
    let everyone_saw_everything = || {
        let all = seen.lock().expect("lock");
        (0..watchers.len()).all(|w| all.get(&w).is_some_and(|s| s.changes == expected(w)))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !everyone_saw_everything() {
        if tokio::time::Instant::now() > deadline {
            let all = seen.lock().expect("lock");
            let missing: Vec<String> = (0..watchers.len())
                .filter_map(|w| {
                    let got = all.get(&w).map(|s| s.changes.clone()).unwrap_or_default();
                    let lacking: Vec<_> = expected(w).difference(&got).cloned().collect();
                    (!lacking.is_empty()).then(|| format!("watcher {w}: {lacking:?}"))
                })
                .collect();
            panic!("watchers missed joins or leaves:\n{}", missing.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for watcher in watchers {
        watcher.abort();
    }

    let peaks = h.emulator.call_peaks();
    let calls = h.emulator.calls();
    let peak = peaks.get("ListParticipants").copied().unwrap_or_default();
    assert!(peak >= 1, "the stages were polled: {calls:?}");
    assert!(peak <= 5, "ListParticipants in one sliding second: {peak} (peaks {peaks:?})");
    let count = |op: &str| calls.get(op).map_or(0, |o| o.values().sum::<u64>());
    println!(
        "ListParticipants: peak {peak} in a sliding second, {} calls; GetStage {}, ListParticipantEvents {} (peak {})",
        count("ListParticipants"),
        count("GetStage"),
        count("ListParticipantEvents"),
        peaks.get("ListParticipantEvents").copied().unwrap_or_default(),
    );
    let throttled = calls.get("ListParticipants").and_then(|o| o.get("ThrottlingException")).copied().unwrap_or(0);
    assert_eq!(throttled, 0, "AWS never throttled the fleet: {calls:?}");
    for (process, _) in sidecars {
        process.terminate();
    }
}

/// Redis at fault, one of these between two participants' actions.
#[derive(Debug, Clone, Copy)]
enum Fault {
    KillAndRestart,
    Freeze,
    FlushAll,
    CorruptStageReads,
    Nothing,
}

const FAULTS: [Fault; 5] =
    [Fault::KillAndRestart, Fault::Freeze, Fault::FlushAll, Fault::CorruptStageReads, Fault::Nothing];

async fn inflict(redis: &mut RedisServer, fault: Fault) {
    match fault {
        Fault::KillAndRestart => {
            redis.kill9();
            tokio::time::sleep(Duration::from_millis(700)).await;
            redis.restart();
        }
        Fault::Freeze => {
            redis.signal("-STOP");
            tokio::time::sleep(Duration::from_millis(1500)).await;
            redis.signal("-CONT");
        }
        Fault::FlushAll => redis.flushall(),
        Fault::CorruptStageReads => {
            for (i, key) in redis.keys("*poll:*:stage:*").into_iter().filter(|k| !k.ends_with(":lease")).enumerate() {
                // A key corrupted before and not read since is of another
                // type already: that one stays as it is.
                let _ = if i % 2 == 0 {
                    redis.corrupt_field(&key, "result", b"\xff\x00not a message")
                } else {
                    redis.corrupt_type(&key)
                };
            }
        }
        Fault::Nothing => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_redis_faults_every_watcher_sees_each_join_and_leave_once_and_in_order_within_the_quota() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("GLS_FAULTS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    println!("GLS_FAULTS_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut redis = RedisServer::start();
    let h = harness().await;
    let mut sidecars: Vec<(ChildProcess, StagesClient<Channel>)> = Vec::new();
    for _ in 0..2 {
        let (process, url) = gateway_process(&h.emulator.endpoint_url(), &["--redis-url", &redis.url()]);
        process.wait_for_stderr("fleet mode on");
        sidecars.push((process, StagesClient::connect(url).await.expect("connect")));
    }
    let mut first = sidecars[0].1.clone();
    let mut stages = Vec::new();
    for i in 0..4 {
        let request = pb::CreateStageRequest { name: format!("faulty-{i}"), ..Default::default() };
        stages.push(first.create_stage(request).await.expect("stage").into_inner().stage.expect("stage").arn);
    }
    // Each watcher's history: whether it synced, (user, event name) in the
    // order told, and how its stream ended if it did.
    type History = (bool, Vec<(String, i32)>, Option<tonic::Status>);
    let history: Arc<Mutex<HashMap<usize, History>>> = Arc::default();
    let watchers: Vec<_> = (0..8)
        .map(|w| {
            let mut client = sidecars[w % 2].1.clone();
            let stage = stages[w % 4].clone();
            let history = history.clone();
            tokio::spawn(async move {
                let request = pb::WatchStageParticipantsRequest { stage_arn: stage };
                let mut events = client.watch_stage_participants(request).await.expect("watch").into_inner();
                while let Some(event) = events.next().await {
                    let mut all = history.lock().expect("lock");
                    let mine = all.entry(w).or_default();
                    let event = match event {
                        Ok(response) => response.event.expect("event"),
                        Err(status) => {
                            mine.2 = Some(status);
                            break;
                        }
                    };
                    match (event.kind(), event.participant_event) {
                        (pb::StageParticipantEventKind::Synced, _) => mine.0 = true,
                        (pb::StageParticipantEventKind::Change, Some(change))
                            if matches!(change.name(), Name::Joined | Name::Left) =>
                        {
                            mine.1.push((event.participant.expect("who").user_id, change.name));
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while history.lock().expect("lock").values().filter(|(synced, _, _)| *synced).count() < watchers.len() {
        assert!(tokio::time::Instant::now() < deadline, "every watcher synced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut users: Vec<(usize, String)> = Vec::new();
    for round in 0..6 {
        let mut present = Vec::new();
        for (s, stage) in stages.iter().enumerate() {
            let user = format!("r{round}-s{s}");
            let token = create_token(&mut first, stage, &user).await;
            let (status, body) = h.admin(Method::POST, "ivs/participants", Some(json!({ "token": token }))).await;
            assert_eq!(status, 200, "join: {body}");
            present.push(body["participantId"].as_str().expect("id").to_string());
            users.push((s, user));
        }
        let fault = FAULTS[rng.random_range(0..FAULTS.len())];
        println!("round {round}: {fault:?}");
        inflict(&mut redis, fault).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await;
        for id in present {
            let (status, body) = h.admin(Method::POST, &format!("ivs/participants/{id}/leave"), None).await;
            assert_eq!(status, 200, "leave: {body}");
        }
    }

    // The checker: per watcher, each user of its stage joined then left, told once each.
    let expected = |w: usize| -> Vec<(String, Vec<i32>)> {
        users
            .iter()
            .filter(|(s, _)| *s == w % 4)
            .map(|(_, user)| (user.clone(), vec![Name::Joined.into(), Name::Left.into()]))
            .collect()
    };
    let told = |w: usize| -> Vec<(String, Vec<i32>)> {
        let all = history.lock().expect("lock");
        let events = all.get(&w).map(|(_, e, _)| e.clone()).unwrap_or_default();
        let mut per_user: Vec<(String, Vec<i32>)> = Vec::new();
        for (user, name) in events {
            match per_user.iter_mut().find(|(u, _)| *u == user) {
                Some((_, names)) => names.push(name),
                None => per_user.push((user, vec![name])),
            }
        }
        per_user.sort();
        per_user
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let done = (0..watchers.len()).all(|w| {
            let mut want = expected(w);
            want.sort();
            told(w) == want
        });
        if done {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let ended = |w: usize| {
                let all = history.lock().expect("lock");
                all.get(&w).and_then(|h| h.2.as_ref().map(|s| s.message().to_string()))
            };
            let report: Vec<String> =
                (0..watchers.len()).map(|w| format!("watcher {w}: {:?}, ended {:?}", told(w), ended(w))).collect();
            panic!("seed {seed}: the history breaks the invariants:\n{}", report.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ended: Vec<String> =
        history.lock().expect("lock").iter().filter_map(|(w, h)| h.2.as_ref().map(|s| format!("{w}: {s:?}"))).collect();
    assert!(ended.is_empty(), "seed {seed}: no watch ends: {ended:?}");
    for watcher in watchers {
        watcher.abort();
    }
    let peak = h.emulator.call_peaks().get("ListParticipants").copied().unwrap_or_default();
    println!("ListParticipants peak {peak} in a sliding second");
    assert!(peak <= 5, "seed {seed}: ListParticipants in one sliding second: {peak}");
    for (process, _) in sidecars {
        process.terminate();
    }
}
