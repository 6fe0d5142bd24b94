//! The harness every integration test shares: an in-process emulator on an
//! ephemeral port, the real `aws-sdk-gameliftstreams` client pointed at it (with
//! the SDK's own retries off, so tests see each call), and the admin API.

#![allow(dead_code)]

use std::net::SocketAddr;

use aws_sdk_gameliftstreams::config::retry::RetryConfig;
use aws_sdk_gameliftstreams::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_gameliftstreams::types::Protocol;
use aws_sdk_gameliftstreams::Client;
use gamelift_streams_gateway::emulator::{self, EmulatorConfig, EmulatorHandle};
use serde_json::Value;

pub use gamelift_streams_gateway::emulator::{
    SEEDED_APPLICATION_ID as APP, SEEDED_STREAM_GROUP_ID as GROUP,
};

/// A running emulator and an SDK client for it.
pub struct Harness {
    pub emulator: EmulatorHandle,
    pub client: Client,
    http: reqwest::Client,
}

/// An emulator with the default configuration (AWS's rate limits, real time).
pub async fn harness() -> Harness {
    harness_with(EmulatorConfig::default()).await
}

/// An emulator with `config`.
pub async fn harness_with(config: EmulatorConfig) -> Harness {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
    let emulator = emulator::start(addr, config)
        .await
        .expect("emulator starts");
    let client = sdk_client(&emulator.endpoint_url());
    Harness {
        emulator,
        client,
        http: reqwest::Client::new(),
    }
}

/// The real SDK client, configured as a test against the emulator wants it.
pub fn sdk_client(endpoint_url: &str) -> Client {
    let conf = aws_sdk_gameliftstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(
            "AKIDEMULATOR",
            "emulator-secret",
            None,
            None,
            "tests",
        ))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

impl Harness {
    /// Starts a session in the seeded stream group and returns its ARN.
    pub async fn start_session(&self) -> String {
        self.client
            .start_stream_session()
            .identifier(GROUP)
            .application_identifier(APP)
            .protocol(Protocol::Webrtc)
            .signal_request("offer")
            .send()
            .await
            .expect("StartStreamSession")
            .arn
            .expect("ARN")
    }

    /// Calls the admin API; returns the status and the JSON body.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/_emulator/{path}", self.emulator.endpoint_url());
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("admin call");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}
