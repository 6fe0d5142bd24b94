//! Token auth and the health-only listener: calls without the bearer token are
//! UNAUTHENTICATED before any AWS call, health needs no token, the health
//! listener serves health alone and reports NOT_SERVING while draining, and
//! the binary never logs the token.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use gamelift_streams_gateway::auth::AuthToken;
use gamelift_streams_gateway::emulator::FaultRule;
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::server::{self, Access, ListenAddr, RunningGateway};
use gamelift_streams_gateway::sessions::{Resilience, RetryPolicy, Sessions};
use support::process;
use support::{harness_with, unlimited, Harness, GROUP};
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_types::StatusExt;

const TOKEN: &str = "s3cr3t-t0ken-for-the-gateway";

struct Guarded {
    emulator: Harness,
    gateway: RunningGateway,
    channel: Channel,
}

async fn guarded() -> Guarded {
    let emulator = harness_with(unlimited()).await;
    let resilience = Arc::new(Resilience::with_seed(RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }, 7));
    let service = support::gateway_over(Sessions::new(emulator.client.clone(), resilience), Default::default());
    let access = Access {
        token: Some(AuthToken::new(TOKEN).expect("token")),
        health_listen: Some("127.0.0.1:0".parse().expect("address")),
    };
    let listen = ListenAddr::Tcp("127.0.0.1:0".parse().expect("loopback"));
    let gateway = server::start_with(&listen, service, access, Default::default()).await.expect("gateway starts");
    let channel = channel(&format!("{}", gateway.local_addr())).await;
    Guarded { emulator, gateway, channel }
}

async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}")).expect("URI").connect().await.expect("reachable")
}

fn get(authorization: Option<&str>) -> tonic::Request<pb::GetStreamSessionRequest> {
    let mut request = tonic::Request::new(pb::GetStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: "ABCDEFGHIJ".into(),
    });
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value.parse().expect("ASCII"));
    }
    request
}

async fn health_of(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let reply = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?;
    Ok(reply.into_inner().status())
}

#[tokio::test]
async fn calls_need_the_bearer_token_and_are_refused_before_any_aws_call() {
    let g = guarded().await;
    let mut client = StreamSessionsClient::new(g.channel.clone());
    let wrong = format!("Bearer {TOKEN}x");
    for authorization in [None, Some("Bearer"), Some(wrong.as_str()), Some(TOKEN)] {
        let status = client.get_stream_session(get(authorization)).await.expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{authorization:?}");
        let info = status.get_error_details().error_info().cloned().expect("ErrorInfo");
        assert_eq!(info.reason, "UNAUTHENTICATED");
        assert!(!status.message().contains(TOKEN));
    }
    assert!(g.emulator.emulator.calls().is_empty(), "no AWS call for a refused request");
    let right = format!("Bearer {TOKEN}");
    let status = client.get_stream_session(get(Some(&right))).await.expect_err("unknown session");
    assert_eq!(status.code(), Code::NotFound, "the token lets the call through");
    assert_eq!(g.emulator.emulator.call_count("GetStreamSession", "ResourceNotFoundException"), 1);

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let reflection =
        ServerReflectionClient::new(g.channel.clone()).server_reflection_info(tokio_stream::iter([request])).await;
    assert_eq!(reflection.expect_err("reflection needs the token too").code(), Code::Unauthenticated);
    assert_eq!(health_of(g.channel.clone()).await.expect("health needs no token"), ServingStatus::Serving);
}

#[tokio::test]
async fn the_health_listener_serves_health_alone_and_not_serving_while_draining() {
    let g = guarded().await;
    let health_addr: SocketAddr = g.gateway.health_addr().expect("a health listener");
    let probes = channel(&health_addr.to_string()).await;
    assert_eq!(health_of(probes.clone()).await.expect("probe"), ServingStatus::Serving);
    let right = format!("Bearer {TOKEN}");
    let status = StreamSessionsClient::new(probes.clone()).get_stream_session(get(Some(&right))).await;
    assert_eq!(status.expect_err("not served there").code(), Code::Unimplemented);

    // A call held in flight by the emulator keeps the gateway draining.
    let fault = FaultRule { operation: Some("GetStreamSession".into()), latency_ms: 1500, ..FaultRule::default() };
    g.emulator.emulator.add_fault(fault).expect("fault");
    let mut client = StreamSessionsClient::new(g.channel.clone());
    let in_flight = tokio::spawn(async move { client.get_stream_session(get(Some(&right))).await });
    let seen = async {
        while !g.emulator.emulator.calls().contains_key("GetStreamSession") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), seen).await.expect("the call reached the emulator");
    let drain = tokio::spawn(g.gateway.drain(Duration::from_secs(10)));
    let not_serving = async {
        while health_of(probes.clone()).await.expect("probe") != ServingStatus::NotServing {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), not_serving).await.expect("NOT_SERVING while draining");
    assert!(!drain.is_finished(), "the call is still in flight");
    assert!(drain.await.expect("drain task"), "drained in time");
    in_flight.await.expect("task").expect_err("unknown session, answered during the drain");
    let after = Channel::from_shared(format!("http://{health_addr}")).expect("URI").connect().await;
    assert!(after.is_err(), "the health listener is closed after the drain");
}

#[test]
fn the_binary_reads_the_token_from_a_file_announces_the_health_listener_and_never_logs_the_token() {
    let dir = std::env::temp_dir().join(format!("glsgw-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"));
    command
        .args(["serve", "--emulator", "--listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:0"])
        .arg("--auth-token-file")
        .arg(&token_file)
        .env("RUST_LOG", "trace")
        .env_remove("AWS_ENDPOINT_URL");
    let gateway = process::spawn(command);
    let grpc = gateway.expect_line("gateway listening on ");
    gateway.expect_line("emulator listening on ");
    let health = gateway.expect_line("health listening on ");

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut client = StreamSessionsClient::new(channel(&grpc).await);
        let refused = client.get_stream_session(get(None)).await.expect_err("no token");
        assert_eq!(refused.code(), Code::Unauthenticated);
        let right = format!("Bearer {TOKEN}");
        let status = client.get_stream_session(get(Some(&right))).await.expect_err("unknown session");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(health_of(channel(&health).await).await.expect("probe"), ServingStatus::Serving);
    });
    drop(runtime);
    let (exit, stderr) = gateway.stop();
    assert!(exit.success(), "{stderr}");
    assert!(stderr.contains("TRACE"), "trace logging was on");
    assert!(!stderr.contains(TOKEN), "the token reached the logs");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
