//! The emulator's IVS Real-Time part on the wire, with a plain HTTP client:
//! every implemented operation, ISO 8601 timestamps, the model's validation
//! messages, IVS's error bodies (`exceptionMessage`), pagination, the tag
//! operations both services have, rate limits and faults keyed by operation,
//! and the admin API that simulates participants.

use std::net::SocketAddr;

use gamelift_streams_gateway::emulator::ivs::responses::IMPLEMENTED;
use gamelift_streams_gateway::emulator::{self, EmulatorConfig, EmulatorHandle};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn emulator() -> EmulatorHandle {
    let mut config = EmulatorConfig::default();
    config.rate_limits.clear();
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    emulator::start(addr, config).await.expect("emulator starts")
}

struct Answer {
    status: StatusCode,
    error_type: Option<String>,
    body: Value,
}

async fn send(e: &EmulatorHandle, method: Method, path: &str, body: Option<Value>, auth: Option<&str>) -> Answer {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", e.endpoint_url()));
    if let Some(body) = body {
        req = req.json(&body);
    }
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    let resp = req.send().await.expect("HTTP call");
    let status = resp.status();
    let error_type = resp.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
    Answer { status, error_type, body }
}

/// An IVS operation: POST /Operation with a JSON body.
async fn op(e: &EmulatorHandle, name: &str, body: Value) -> Answer {
    send(e, Method::POST, &format!("/{name}"), Some(body), None).await
}

async fn ok(e: &EmulatorHandle, name: &str, body: Value) -> Value {
    let a = op(e, name, body).await;
    assert_eq!(a.status, 200, "{name}: {}", a.body);
    a.body
}

async fn admin(e: &EmulatorHandle, path: &str, body: Value) -> Answer {
    send(e, Method::POST, &format!("/_emulator/ivs/{path}"), Some(body), None).await
}

fn is_iso8601(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T')
}

fn assert_error(a: &Answer, status: u16, error_type: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.error_type.as_deref(), Some(error_type), "{}", a.body);
    assert!(a.body["exceptionMessage"].as_str().is_some_and(|m| !m.is_empty()), "IVS error body: {}", a.body);
    assert!(a.body.get("Message").is_none(), "not GameLift's shape: {}", a.body);
}

#[tokio::test]
async fn every_implemented_operation_works_over_the_wire_with_iso8601_times() {
    let e = emulator().await;
    let created = ok(
        &e,
        "CreateStage",
        json!({"name": "lobby", "tags": {"team": "a"}, "participantTokenConfigurations": [{"userId": "u1"}, {"userId": "u2", "capabilities": ["SUBSCRIBE"]}]}),
    )
    .await;
    let stage = created["stage"]["arn"].as_str().expect("arn").to_string();
    let id = stage.rsplit('/').next().expect("id");
    assert!(stage.starts_with("arn:aws:ivs:us-west-2:111122223333:stage/"), "{stage}");
    assert!(id.len() == 12 && id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    let tokens = created["participantTokens"].as_array().expect("tokens").clone();
    assert_eq!(tokens.len(), 2);
    assert!(is_iso8601(&tokens[0]["expirationTime"]), "{}", tokens[0]);
    assert_eq!(tokens[0]["capabilities"], json!(["PUBLISH", "SUBSCRIBE"]));
    assert_eq!(tokens[0]["duration"], 720);
    let extra = ok(&e, "CreateParticipantToken", json!({"stageArn": stage, "duration": 10})).await;
    assert_eq!(extra["participantToken"]["duration"], 10);

    assert_eq!(ok(&e, "GetStage", json!({"arn": stage})).await["stage"]["name"], "lobby");
    assert_eq!(ok(&e, "UpdateStage", json!({"arn": stage, "name": "hall"})).await["stage"]["name"], "hall");
    let listed = ok(&e, "ListStages", json!({})).await;
    assert_eq!(listed["stages"][0], json!({"arn": stage, "name": "hall", "tags": {"team": "a"}}), "a StageSummary");

    let joined = admin(&e, "participants", json!({"token": tokens[0]["token"]})).await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let (session, alice) = (joined.body["sessionId"].as_str().expect("session"), tokens[0]["participantId"].clone());
    assert_eq!(joined.body["participantId"], alice);
    assert_eq!(joined.body["stageArn"], stage);
    assert_eq!(joined.body["state"], "CONNECTED");
    assert!(is_iso8601(&joined.body["firstJoinTime"]));
    let bob = tokens[1]["participantId"].clone();
    admin(&e, "participants", json!({"token": tokens[1]["token"]})).await;
    let published = admin(&e, &format!("participants/{}/publish", alice.as_str().expect("id")), json!({})).await;
    assert_eq!(published.body["published"], true);
    let bob_id = bob.as_str().expect("id");
    let denied = admin(&e, &format!("participants/{bob_id}/publish"), json!({})).await;
    assert_eq!((denied.status.as_u16(), &denied.body["published"]), (200, &json!(false)));
    admin(&e, &format!("participants/{bob_id}/subscribe"), json!({"remoteParticipantId": alice})).await;
    let errored = admin(
        &e,
        &format!("participants/{bob_id}/error"),
        json!({"name": "SUBSCRIBE_ERROR", "errorCode": "BITRATE_EXCEEDED"}),
    )
    .await;
    assert_eq!(errored.status, 200, "{}", errored.body);

    let got = ok(&e, "GetStageSession", json!({"stageArn": stage, "sessionId": session})).await;
    assert!(is_iso8601(&got["stageSession"]["startTime"]) && got["stageSession"].get("endTime").is_none());
    assert_eq!(ok(&e, "GetStage", json!({"arn": stage})).await["stage"]["activeSessionId"], session);
    let sessions = ok(&e, "ListStageSessions", json!({"stageArn": stage})).await;
    assert_eq!(sessions["stageSessions"][0]["sessionId"], session);
    let p = ok(&e, "GetParticipant", json!({"stageArn": stage, "sessionId": session, "participantId": alice})).await;
    assert_eq!((&p["participant"]["userId"], &p["participant"]["published"]), (&json!("u1"), &json!(true)));
    let all = ok(&e, "ListParticipants", json!({"stageArn": stage, "sessionId": session})).await;
    assert_eq!(all["participants"].as_array().map(Vec::len), Some(2));
    let publishers =
        ok(&e, "ListParticipants", json!({"stageArn": stage, "sessionId": session, "filterByPublished": true})).await;
    assert_eq!(publishers["participants"][0]["participantId"], alice);
    assert_eq!(publishers["participants"].as_array().map(Vec::len), Some(1));
    let events =
        ok(&e, "ListParticipantEvents", json!({"stageArn": stage, "sessionId": session, "participantId": bob})).await;
    let names: Vec<&str> =
        events["events"].as_array().expect("events").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["JOINED", "PUBLISH_ERROR", "SUBSCRIBE_STARTED", "SUBSCRIBE_ERROR"]);
    assert_eq!(events["events"][1]["errorCode"], "INSUFFICIENT_CAPABILITIES");
    assert_eq!(events["events"][2]["remoteParticipantId"], alice);
    assert!(is_iso8601(&events["events"][0]["eventTime"]));

    let comp = ok(&e, "StartComposition", json!({"stageArn": stage, "idempotencyToken": "t-1", "destinations": [{"channel": {"channelArn": "arn:aws:ivs:us-west-2:111122223333:channel/abcd"}}]})).await;
    let comp_arn = comp["composition"]["arn"].as_str().expect("arn").to_string();
    assert!(comp_arn.starts_with("arn:aws:ivs:us-west-2:111122223333:composition/"));
    assert_eq!(comp["composition"]["state"], "STARTING");
    let again = ok(&e, "StartComposition", json!({"stageArn": stage, "idempotencyToken": "t-1", "destinations": [{"channel": {"channelArn": "arn:aws:ivs:us-west-2:111122223333:channel/abcd"}}]})).await;
    assert_eq!(again["composition"]["arn"], comp_arn.as_str());
    e.advance_clock(5.0).expect("clock");
    let active = ok(&e, "GetComposition", json!({"arn": comp_arn})).await;
    assert_eq!(active["composition"]["state"], "ACTIVE");
    assert_eq!(active["composition"]["destinations"][0]["state"], "ACTIVE");
    assert!(is_iso8601(&active["composition"]["destinations"][0]["startTime"]));
    let listed = ok(&e, "ListCompositions", json!({"filterByStageArn": stage})).await;
    assert_eq!(listed["compositions"][0]["arn"], comp_arn.as_str());
    assert!(listed["compositions"][0].get("layout").is_none(), "a CompositionSummary");
    ok(&e, "StopComposition", json!({"arn": comp_arn})).await;
    assert_eq!(ok(&e, "GetComposition", json!({"arn": comp_arn})).await["composition"]["state"], "STOPPING");
    e.advance_clock(2.0).expect("clock");
    assert_eq!(ok(&e, "GetComposition", json!({"arn": comp_arn})).await["composition"]["state"], "STOPPED");

    ok(&e, "DisconnectParticipant", json!({"stageArn": stage, "participantId": alice, "reason": "kicked"})).await;
    let rejoin = admin(&e, "participants", json!({"token": tokens[0]["token"]})).await;
    assert_error(&rejoin, 400, "ValidationException");
    let left = admin(&e, &format!("participants/{bob_id}/leave"), json!({})).await;
    assert_eq!(left.body["state"], "DISCONNECTED");
    let ended = ok(&e, "GetStageSession", json!({"stageArn": stage, "sessionId": session})).await;
    assert!(is_iso8601(&ended["stageSession"]["endTime"]), "the last leave ends the session: {ended}");
    ok(&e, "DeleteStage", json!({"arn": stage})).await;
    assert_error(&op(&e, "GetStage", json!({"arn": stage})).await, 404, "ResourceNotFoundException");

    let calls = e.calls();
    for name in IMPLEMENTED {
        assert!(e.call_count(name, "Success") >= 1, "{name} was called: {calls:?}");
    }
}

#[tokio::test]
async fn validation_messages_name_the_member_as_aws_does() {
    let e = emulator().await;
    let bad_name = op(&e, "CreateStage", json!({"name": "bad name!"})).await;
    assert_error(&bad_name, 400, "ValidationException");
    assert_eq!(
        bad_name.body["exceptionMessage"],
        "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]*"
    );
    let missing = op(&e, "GetParticipant", json!({"stageArn": "arn:aws:ivs:us-west-2:111122223333:stage/abc"})).await;
    assert_error(&missing, 400, "ValidationException");
    let message = missing.body["exceptionMessage"].as_str().expect("message");
    assert!(message.starts_with("2 validation errors detected"), "{message}");
    assert!(
        message.contains("Value null at 'sessionId' failed to satisfy constraint: Member must not be null"),
        "{message}"
    );
    let range = op(&e, "ListStages", json!({"maxResults": 101})).await;
    assert!(range.body["exceptionMessage"]
        .as_str()
        .expect("m")
        .contains("Member must have value less than or equal to 100"));
    let token = op(
        &e,
        "CreateParticipantToken",
        json!({"stageArn": "arn:aws:ivs:us-west-2:111122223333:stage/abc", "duration": 0, "capabilities": ["SHOUT"]}),
    )
    .await;
    let message = token.body["exceptionMessage"].as_str().expect("message");
    assert!(
        message
            .contains("at 'duration' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        "{message}"
    );
    assert!(message.contains("at 'capabilities.1.member' failed to satisfy constraint: Member must satisfy enum value set: [PUBLISH, SUBSCRIBE]"), "{message}");
    let filters = op(&e, "ListParticipants", json!({"stageArn": "arn:aws:ivs:us-west-2:111122223333:stage/abc", "sessionId": "st-abcdefghijklm", "filterByUserId": "u", "filterByPublished": true})).await;
    assert_error(&filters, 400, "ValidationException");
    assert_error(&op(&e, "CreateEncoderConfiguration", json!({})).await, 403, "AccessDeniedException");
    let empty = send(&e, Method::POST, "/CreateStage", None, None).await;
    assert_eq!(empty.status, 200, "an empty body is an empty input");
    let unknown = send(
        &e,
        Method::POST,
        "/NoSuchOperation",
        Some(json!({})),
        Some("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/ivs/aws4_request, SignedHeaders=host, Signature=x"),
    )
    .await;
    assert_error(&unknown, 404, "UnknownOperationException");
}

#[tokio::test]
async fn lists_page_with_next_token_within_the_model_bounds() {
    let e = emulator().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(ok(&e, "CreateStage", json!({"name": format!("s{i}")})).await["stage"]["arn"].clone());
    }
    let mut seen = Vec::new();
    let mut body = json!({"maxResults": 2});
    let mut pages = 0;
    loop {
        let page = ok(&e, "ListStages", body.clone()).await;
        pages += 1;
        seen.extend(page["stages"].as_array().expect("stages").iter().map(|s| s["arn"].clone()));
        match page.get("nextToken") {
            Some(token) => body["nextToken"] = token.clone(),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, created));
    let foreign = op(&e, "ListStages", json!({"nextToken": "garbage"})).await;
    assert_error(&foreign, 400, "ValidationException");
    assert_error(&op(&e, "ListStages", json!({"maxResults": 0})).await, 400, "ValidationException");
}

#[tokio::test]
async fn tag_operations_go_to_the_service_of_the_signature_or_the_arn() {
    let e = emulator().await;
    let ivs_arn = "arn%3Aaws%3Aivs%3Aus-west-2%3A111122223333%3Astage%2Fabcdefabcdef";
    let ivs = send(&e, Method::GET, &format!("/tags/{ivs_arn}"), None, None).await;
    assert_error(&ivs, 403, "AccessDeniedException");
    assert_eq!(e.call_count("ivs-realtime:ListTagsForResource", "AccessDeniedException"), 1);
    let gls_arn = "arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A111122223333%3Astreamgroup%2Fsg-000000001";
    let gls = send(&e, Method::GET, &format!("/tags/{gls_arn}"), None, None).await;
    assert_eq!(gls.error_type.as_deref(), Some("NotImplementedException"));
    assert!(gls.body["Message"].is_string(), "GameLift's error shape: {}", gls.body);
    assert_eq!(e.call_count("ListTagsForResource", "NotImplementedException"), 1);
    let signed =
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/ivs/aws4_request, SignedHeaders=host, Signature=x";
    let by_scope = send(&e, Method::GET, &format!("/tags/{gls_arn}"), None, Some(signed)).await;
    assert_error(&by_scope, 403, "AccessDeniedException");
    assert_eq!(e.call_count("ivs-realtime:ListTagsForResource", "AccessDeniedException"), 2);
}

#[tokio::test]
async fn rate_limits_and_faults_apply_to_ivs_operations_by_name() {
    let e = emulator().await;
    let put = reqwest::Client::new()
        .put(format!("{}/_emulator/rate-limits", e.endpoint_url()))
        .json(&json!({"CreateStage": 0.01, "ivs-realtime:TagResource": 2.0}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status(), 200);
    let refused = reqwest::Client::new()
        .put(format!("{}/_emulator/rate-limits", e.endpoint_url()))
        .json(&json!({"ivs-realtime:CreateStage": 1.0}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(refused.status(), 400, "only the colliding names take the prefix");
    ok(&e, "CreateStage", json!({})).await;
    let throttled = op(&e, "CreateStage", json!({})).await;
    assert_error(&throttled, 429, "ThrottlingException");
    assert_eq!((e.call_count("CreateStage", "Success"), e.call_count("CreateStage", "ThrottlingException")), (1, 1));
    assert_eq!(e.call_peaks()["CreateStage"], 2);

    let fault = send(
        &e,
        Method::POST,
        "/_emulator/faults",
        Some(json!({"operation": "GetStage", "error": "PendingVerification", "count": 1})),
        None,
    )
    .await;
    assert_eq!(fault.status, 201, "{}", fault.body);
    let arn = "arn:aws:ivs:us-west-2:111122223333:stage/abcdefabcdef";
    assert_error(&op(&e, "GetStage", json!({"arn": arn})).await, 403, "PendingVerification");
    assert_error(&op(&e, "GetStage", json!({"arn": arn})).await, 404, "ResourceNotFoundException");
    let throttle = send(
        &e,
        Method::POST,
        "/_emulator/faults",
        Some(json!({"operation": "ListStages", "throttle": 1.0, "count": 1})),
        None,
    )
    .await;
    assert_eq!(throttle.status, 201);
    assert_error(&op(&e, "ListStages", json!({})).await, 429, "ThrottlingException");
}

#[tokio::test]
async fn the_admin_api_refuses_what_a_client_could_not_do() {
    let e = emulator().await;
    assert_error(&admin(&e, "participants", json!({"token": "nope"})).await, 400, "ValidationException");
    assert_error(&admin(&e, "participants/nobody/publish", json!({})).await, 404, "ResourceNotFoundException");
    let created = ok(&e, "CreateStage", json!({"participantTokenConfigurations": [{"duration": 1}]})).await;
    let token = &created["participantTokens"][0];
    let id = token["participantId"].as_str().expect("id");
    let joined = admin(&e, "participants", json!({"token": token["token"]})).await;
    assert_eq!(joined.status, 200);
    assert_error(&admin(&e, "participants", json!({"token": token["token"]})).await, 409, "ConflictException");
    let bad_code =
        admin(&e, &format!("participants/{id}/error"), json!({"name": "JOIN_ERROR", "errorCode": "NOPE"})).await;
    assert_error(&bad_code, 400, "ValidationException");
    let bad_name = admin(&e, &format!("participants/{id}/error"), json!({"name": "LEFT"})).await;
    assert_error(&bad_name, 400, "ValidationException");
    admin(&e, &format!("participants/{id}/leave"), json!({})).await;
    assert_error(&admin(&e, &format!("participants/{id}/publish"), json!({})).await, 409, "ConflictException");
    e.advance_clock(61.0).expect("clock");
    let expired = admin(&e, "participants", json!({"token": token["token"]})).await;
    assert_error(&expired, 400, "ValidationException");
    let session = joined.body["sessionId"].clone();
    let stage = created["stage"]["arn"].clone();
    let events =
        ok(&e, "ListParticipantEvents", json!({"stageArn": stage, "sessionId": session, "participantId": id})).await;
    let names: Vec<&str> =
        events["events"].as_array().expect("events").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["JOINED", "LEFT", "JOIN_ERROR"]);
}
