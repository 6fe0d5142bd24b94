//! What the SDKs hide: the emulator's raw restJson1 wire format, checked with a
//! plain HTTP client (status codes, headers, error bodies, epoch timestamps,
//! URL-encoded ARNs).

mod support;

use reqwest::{Method, Response};
use serde_json::{json, Value};
use support::{harness, Harness, APP, GROUP};

async fn call(h: &Harness, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", h.emulator.endpoint_url()));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("HTTP call")
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn start_body() -> Value {
    json!({"ApplicationIdentifier": APP, "Protocol": "WebRTC", "SignalRequest": "offer"})
}

#[tokio::test]
async fn status_codes_request_ids_and_epoch_timestamps_follow_the_model() {
    let h = harness().await;
    let started = call(&h, Method::POST, &format!("/streamgroups/{GROUP}/streamsessions"), Some(start_body())).await;
    assert_eq!(started.status(), 201);
    assert!(header(&started, "x-amzn-RequestId").is_some_and(|id| id.len() == 36));
    let session: Value = started.json().await.expect("JSON");
    assert!(session["CreatedAt"].is_f64(), "epoch seconds: {session}");
    let arn = session["Arn"].as_str().expect("Arn").to_string();

    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    let path = format!("/streamgroups/{GROUP}/streamsessions/{encoded}");
    let got = call(&h, Method::GET, &path, None).await;
    assert_eq!(got.status(), 200);
    h.emulator.advance_clock(5.0).expect("clock advanced");
    let terminated = call(&h, Method::DELETE, &path, None).await;
    assert_eq!(terminated.status(), 204);
    assert!(header(&terminated, "x-amzn-RequestId").is_some());
    assert!(terminated.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn errors_carry_the_type_header_and_a_message_body() {
    let h = harness().await;
    let cases = [
        (
            Method::POST,
            format!("/streamgroups/{GROUP}/streamsessions"),
            Some(json!({"Protocol": "WebRTC"})),
            400,
            "ValidationException",
        ),
        (Method::GET, format!("/streamgroups/{GROUP}/streamsessions/unknown"), None, 404, "ResourceNotFoundException"),
        (Method::GET, "/streamgroups/sg-x/streamsessions?MaxResults=0".to_string(), None, 400, "ValidationException"),
        (Method::POST, format!("/streamgroups/{GROUP}/streamsessions"), None, 400, "ValidationException"),
        (Method::GET, "/no/such/operation".to_string(), None, 404, "UnknownOperationException"),
        (Method::DELETE, "/applications/a-000000001".to_string(), None, 501, "NotImplementedException"),
    ];
    for (method, path, body, status, error_type) in cases {
        let resp = call(&h, method.clone(), &path, body).await;
        assert_eq!(resp.status(), status, "{method} {path}");
        assert_eq!(header(&resp, "X-Amzn-ErrorType"), Some(error_type), "{method} {path}");
        assert!(header(&resp, "x-amzn-RequestId").is_some());
        let body: Value = resp.json().await.expect("JSON error body");
        assert!(body["Message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let raw = reqwest::Client::new()
        .post(format!("{}/streamgroups/{GROUP}/streamsessions", h.emulator.endpoint_url()))
        .body("{not json")
        .send()
        .await
        .expect("HTTP call");
    assert_eq!(header(&raw, "X-Amzn-ErrorType"), Some("SerializationException"));
}

#[tokio::test]
async fn the_validation_message_names_every_bad_member_and_no_sensitive_value() {
    let h = harness().await;
    let body = json!({
        "ApplicationIdentifier": APP, "Protocol": "WebRTC", "SignalRequest": "",
        "ConnectionTimeoutSeconds": 3601, "ClientToken": "tooshort",
        "AdditionalLaunchArgs": vec!["-x"; 101],
    });
    let resp = call(&h, Method::POST, &format!("/streamgroups/{GROUP}/streamsessions"), Some(body)).await;
    let message = resp.json::<Value>().await.expect("JSON")["Message"].as_str().expect("Message").to_string();
    assert!(message.starts_with("4 validation errors detected: "), "{message}");
    for member in ["'signalRequest'", "'connectionTimeoutSeconds'", "'clientToken'", "'additionalLaunchArgs'"] {
        assert!(message.contains(member), "{member} missing from {message}");
    }
    assert!(message.contains("Value at 'signalRequest'"), "sensitive value echoed: {message}");
    assert_eq!(h.emulator.call_count("StartStreamSession", "ValidationException"), 1);
    assert!(!h.emulator.calls()["StartStreamSession"].contains_key("Success"));
}

#[tokio::test]
async fn the_admin_api_rejects_what_it_cannot_apply() {
    let h = harness().await;
    let (status, _) = h.admin(Method::POST, "faults", Some(json!({"throttle": 2.0}))).await;
    assert_eq!(status, 400);
    let (status, _) = h.admin(Method::POST, "faults", Some(json!({"operation": "NoSuchOperation"}))).await;
    assert_eq!(status, 400);
    let (status, _) = h.admin(Method::PUT, "rate-limits", Some(json!({"GetStreamSession": -1}))).await;
    assert_eq!(status, 400);
    let (status, _) = h.admin(Method::POST, "sessions/unknown/connect", None).await;
    assert_eq!(status, 404);
    let (status, body) =
        h.admin(Method::POST, "faults", Some(json!({"operation": "GetStreamSession", "latency_ms": 1}))).await;
    assert_eq!((status, body["id"].as_u64()), (201, Some(1)));
    let (_, rules) = h.admin(Method::GET, "faults", None).await;
    assert_eq!(rules.as_array().map(Vec::len), Some(1));
    h.admin(Method::DELETE, "faults", None).await;
    let (_, rules) = h.admin(Method::GET, "faults", None).await;
    assert_eq!(rules, json!([]));
    let (status, _) = h.admin(Method::GET, "nothing-here", None).await;
    assert_eq!(status, 404);
}
