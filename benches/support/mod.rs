//! What the benchmarks share: the gateway binary as a child process (started
//! and read up to its announcement), its resident memory, the SDK client as
//! the tests configure it, and the statistics the reports quote.

#![allow(dead_code)]

use std::process::Command;

use aws_sdk_gameliftstreams::config::retry::RetryConfig;
use aws_sdk_gameliftstreams::config::{BehaviorVersion, Credentials, Region};

/// The gateway binary cargo built for this benchmark.
pub const GATEWAY_BIN: &str = env!("CARGO_BIN_EXE_gamelift-streams-gateway");

/// The gateway the benchmarks measure: [`GATEWAY_BIN`], or the binary
/// `BENCH_GATEWAY_BIN` names (for example a build with symbols, to profile).
pub fn measured_gateway() -> String {
    std::env::var("BENCH_GATEWAY_BIN").unwrap_or_else(|_| GATEWAY_BIN.to_string())
}

/// Credentials every benchmark process uses against the emulator.
pub const ACCESS_KEY_ID: &str = "AKIDEMULATOR";
/// The matching secret.
pub const SECRET_ACCESS_KEY: &str = "emulator-secret";

#[path = "../../tests/support/process.rs"]
mod process;
#[path = "../../tests/support/redis.rs"]
pub mod redis;
pub mod watchers;
// Each benchmark uses its own part of what is shared.
#[allow(unused_imports)]
pub use process::{cpu_seconds, rss_kib, spawn as spawn_silent, ChildProcess};

/// Starts `command` with AWS credentials for the emulator and reads its first
/// stdout line, which must start with `prefix` (see [`process::announced`]).
pub fn announced(mut command: Command, prefix: &str) -> ChildProcess {
    command.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID).env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
    process::announced(command, prefix)
}

/// `gamelift-streams-gateway serve` on a free loopback port over
/// `endpoint_url`, with `extra` flags; its address is an `http://` URL.
pub fn spawn_gateway(endpoint_url: &str, extra: &[&str]) -> ChildProcess {
    let mut command = Command::new(measured_gateway());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--aws-endpoint-url", endpoint_url, "--aws-region", "us-west-2"])
        .args(extra);
    let mut gateway = announced(command, "gateway listening on ");
    gateway.address = format!("http://{}", gateway.address);
    gateway
}

/// The real SDK client for the emulator, its own retries off.
pub fn sdk_client(endpoint_url: &str) -> aws_sdk_gameliftstreams::Client {
    let conf = aws_sdk_gameliftstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "bench"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_gameliftstreams::Client::from_conf(conf)
}

/// Starts a session in the emulator's seeded stream group that waits an hour
/// for its client; returns its ARN.
pub async fn start_session(client: &aws_sdk_gameliftstreams::Client) -> String {
    use gamelift_streams_gateway::emulator::{SEEDED_APPLICATION_ID, SEEDED_STREAM_GROUP_ID};
    let started = client
        .start_stream_session()
        .identifier(SEEDED_STREAM_GROUP_ID)
        .application_identifier(SEEDED_APPLICATION_ID)
        .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
        .signal_request("offer")
        .connection_timeout_seconds(3600)
        .send()
        .await
        .expect("StartStreamSession");
    started.arn.expect("ARN")
}

/// The value below which a fraction `p` of `values` lies (nearest rank).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The median of `values`.
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 0.5)
}
