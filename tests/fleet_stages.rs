//! Stage watches in fleet mode: four gateway processes sharing one real
//! `redis-server`, in front of one emulator with IVS Real-Time's quotas on
//! (5 ListParticipants a second for the account). Forty watchers on eight
//! stages, spread over the four sidecars, must each see every join and
//! every leave on their stage, while ListParticipants stays within 5 calls
//! in any sliding second (the emulator counts the arrivals).

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
