//! Serving the gateway: the `serve` command's first line and clean exit, a Unix
//! domain socket listener, and missing credentials.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials};
use aws_sdk_gameliftstreams::config::{BehaviorVersion, Region};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::server::{self, ListenAddr};
use gamelift_streams_gateway::sessions::Sessions;
use hyper_util::rt::TokioIo;
use support::{harness, GROUP};
use tonic::transport::Endpoint;
use tonic::Code;
use tonic_types::StatusExt;

fn get_request() -> pb::GetStreamSessionRequest {
    pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: "abc".into() }
}

#[test]
fn serve_with_the_embedded_emulator_announces_both_and_exits_zero_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"))
        .args(["serve", "--emulator", "--listen", "127.0.0.1:0"])
        .env_remove("AWS_ENDPOINT_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("utf-8");
    let addr = first.strip_prefix("gateway listening on 127.0.0.1:").expect(&first);
    assert_ne!(addr.parse::<u16>().expect("port"), 0);
    let second = lines.next().expect("a second line").expect("utf-8");
    assert!(second.starts_with("emulator listening on http://127.0.0.1:"), "{second}");
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    assert!(child.wait().expect("exit").success());
}

#[tokio::test]
async fn the_gateway_serves_on_a_unix_socket() {
    let h = harness().await;
    let dir = std::env::temp_dir().join(format!("glsgw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("gateway.sock");
    let gateway = server::start(
        &ListenAddr::Unix(path.clone()),
        support::gateway_over(Sessions::new(h.client.clone(), support::resilience()), Default::default()),
    )
    .await
    .expect("binds the socket");
    assert_eq!(gateway.local_addr().to_string(), format!("unix:{}", path.display()));
    let connect_path = path.clone();
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let p = connect_path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(p).await?)) }
        }))
        .await
        .expect("connects over the socket");
    let status = StreamSessionsClient::new(channel).get_stream_session(get_request()).await.expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    assert!(gateway.drain(std::time::Duration::from_secs(5)).await);
    assert!(!path.exists(), "the socket file is removed at shutdown");
}

#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded("no credentials in this test")))
    }
}

#[tokio::test]
async fn missing_credentials_are_failed_precondition() {
    let h = harness().await;
    let conf = aws_sdk_gameliftstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(h.emulator.endpoint_url())
        .credentials_provider(NoCredentials)
        .build();
    let sessions = Sessions::new(aws_sdk_gameliftstreams::Client::from_conf(conf), support::resilience());
    let gateway = support::serve(support::gateway_over(sessions, Default::default())).await;
    let mut client = StreamSessionsClient::connect(format!("http://{}", gateway.local_addr())).await.expect("connect");
    let status = client.get_stream_session(get_request()).await.expect_err("no credentials");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let info = status.get_error_details().error_info().cloned().expect("ErrorInfo");
    assert_eq!(info.reason, "CREDENTIALS_UNAVAILABLE");
    assert!(h.emulator.calls().is_empty(), "nothing reached the service");
}

#[test]
fn with_a_shutdown_delay_the_gateway_serves_on_after_sigterm_until_a_second_signal() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"))
        .args(["serve", "--emulator", "--listen", "127.0.0.1:0", "--shutdown-delay-seconds", "600"])
        .env_remove("AWS_ENDPOINT_URL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("utf-8");
    let addr = first.strip_prefix("gateway listening on ").expect(&first).to_string();
    let term = |child: &std::process::Child| {
        let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(kill.success());
    };
    term(&child);
    // Wait until the gateway has taken the signal, then call it.
    let mut logs = BufReader::new(child.stderr.take().expect("stderr")).lines();
    assert!(logs.any(|l| l.expect("utf-8").contains("serving on before draining")), "the delay began");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut client = StreamSessionsClient::connect(format!("http://{addr}")).await.expect("still accepting");
        let status = client.get_stream_session(get_request()).await.expect_err("unknown session");
        assert_eq!(status.code(), Code::NotFound, "served during the delay");
    });
    drop(runtime);
    term(&child);
    assert!(logs.any(|l| l.expect("utf-8").contains("second signal: draining now")));
    assert!(child.wait().expect("exit").success());
}
