//! Serving the gateway: the `serve` command's first line and clean exit, a Unix
//! domain socket listener, and missing credentials.

mod support;

use std::process::Command;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials};
use aws_sdk_gameliftstreams::config::{BehaviorVersion, Region};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::server::{self, ListenAddr};
use gamelift_streams_gateway::sessions::Sessions;
use hyper_util::rt::TokioIo;
use support::process::{self, ChildProcess};
use support::{harness, GROUP};
use tonic::transport::Endpoint;
use tonic::Code;
use tonic_types::StatusExt;

fn get_request() -> pb::GetStreamSessionRequest {
    pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: "abc".into() }
}

/// `serve --emulator` on a free loopback port with `args`.
fn embedded(args: &[&str]) -> ChildProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"));
    command.args(["serve", "--emulator", "--listen", "127.0.0.1:0"]).args(args);
    command.env_remove("AWS_ENDPOINT_URL").env("RUST_LOG", "info");
    process::spawn(command)
}

#[test]
fn serve_with_the_embedded_emulator_announces_both_and_exits_zero_on_sigterm() {
    let gateway = embedded(&[]);
    let port = gateway.expect_line("gateway listening on 127.0.0.1:");
    assert_ne!(port.parse::<u16>().expect("port"), 0);
    let emulator = gateway.expect_line("emulator listening on ");
    assert!(emulator.starts_with("http://127.0.0.1:"), "{emulator}");
    let (exit, stderr) = gateway.stop();
    assert!(exit.success(), "{stderr}");
}

#[tokio::test]
async fn serve_with_the_embedded_emulator_takes_the_region_and_the_emulators_settings() {
    let region = ["--aws-region", "eu-central-1", "--emulator-capacity", "eu-central-1=1"];
    let gateway = embedded(&[&region[..], &["--drain-seconds", "1"]].concat());
    let address = format!("http://{}", gateway.expect_line("gateway listening on "));
    let mut client = StreamSessionsClient::connect(address).await.expect("connects");
    let request = pb::StartStreamSessionRequest { locations: vec!["eu-central-1".into()], ..support::start_request() };
    let started = client.start_stream_session(request).await.expect("a session").into_inner();
    let arn = started.stream_session.expect("session").arn;
    assert!(arn.starts_with("arn:aws:gameliftstreams:eu-central-1:"), "{arn}");
    let (exit, stderr) = gateway.stop();
    assert!(exit.success(), "{stderr}");
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

#[tokio::test]
async fn a_host_name_listens_on_every_address_it_resolves_to() {
    let h = harness().await;
    let gateway = server::start(
        &ListenAddr::Host("localhost".into(), 0),
        support::gateway_over(Sessions::new(h.client.clone(), support::resilience()), Default::default()),
    )
    .await
    .expect("binds localhost");
    let ListenAddr::Tcp(bound) = gateway.local_addr().clone() else { panic!("{}", gateway.local_addr()) };
    assert_ne!(bound.port(), 0);
    // Every address localhost resolves to that this machine can bind answers, on one port.
    let resolved: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host(("localhost", bound.port())).await.expect("resolves").collect();
    let mut answered = 0;
    for addr in resolved {
        if std::net::TcpListener::bind((addr.ip(), 0)).is_err() {
            continue;
        }
        let channel = Endpoint::from_shared(format!("http://{addr}")).expect("URI").connect().await.expect("connects");
        let status = StreamSessionsClient::new(channel).get_stream_session(get_request()).await.expect_err("unknown");
        assert_eq!(status.code(), Code::NotFound, "through {addr}");
        answered += 1;
    }
    assert!(answered >= 1, "localhost answered on no address");
    assert!(gateway.drain(std::time::Duration::from_secs(5)).await);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_with_the_cause_in_the_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr");
    let endpoint = format!("http://{closed}");
    let settings = gamelift_streams_gateway::sessions::client::AwsSettings {
        endpoint_url: Some(endpoint.clone()),
        region: Some("us-west-2".into()),
        dummy_credentials: true,
    };
    let clients = gamelift_streams_gateway::sessions::client::connect(&settings).await.expect("clients");
    let (sdk, reached) = (clients.streams, clients.streams_endpoint);
    assert_eq!(reached, endpoint);
    assert_eq!(clients.ivs_endpoint, endpoint, "the endpoint URL serves both services");
    let gateway = server::start(
        &ListenAddr::Tcp("127.0.0.1:0".parse().expect("addr")),
        support::gateway_over(Sessions::new(sdk, support::resilience()).reaching(&reached), Default::default()),
    )
    .await
    .expect("serves");
    let channel = Endpoint::from_shared(format!("http://{}", gateway.local_addr()))
        .expect("URI")
        .connect()
        .await
        .expect("connects");
    let status = StreamSessionsClient::new(channel).get_stream_session(get_request()).await.expect_err("unreachable");
    assert_eq!(status.code(), Code::Unavailable);
    let details = status.get_error_details();
    assert_eq!(details.error_info().expect("ErrorInfo").reason, "UPSTREAM_UNREACHABLE");
    let message = status.message();
    assert!(message.contains(&endpoint), "the endpoint is named: {message}");
    assert!(message.contains("connection refused"), "the cause is named: {message}");
    assert!(gateway.drain(std::time::Duration::from_secs(5)).await);
}

/// `serve` with nothing of AWS in its environment but `env`.
fn bare(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"));
    command.args(["serve", "--listen", "127.0.0.1:0", "--drain-seconds", "1"]).args(args);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", "/nonexistent");
    command.envs(env.iter().copied());
    command
}

#[test]
fn without_a_region_the_gateway_says_so_in_one_line() {
    let out = bare(&[], &[]).output().expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("no AWS Region is configured"), "{stderr}");
}

#[tokio::test]
async fn without_credentials_the_gateway_says_so_once_at_start_and_every_call_says_why() {
    let gateway = process::spawn(bare(&[], &[("AWS_REGION", "us-weast-2")]));
    let address = format!("http://{}", gateway.expect_line("gateway listening on "));
    let mut client = StreamSessionsClient::connect(address).await.expect("connects");
    let status = client.get_stream_session(get_request()).await.expect_err("no credentials");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.get_error_details().error_info().expect("ErrorInfo").reason, "CREDENTIALS_UNAVAILABLE");
    drop(client);
    let (exit, stderr) = gateway.stop();
    assert!(exit.success(), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains(" WARN ")).collect();
    let sdk: Vec<&&str> = warnings.iter().filter(|l| l.contains("aws_config") || l.contains("aws_smithy")).collect();
    assert!(sdk.is_empty(), "nothing of the SDK's: {sdk:#?}");
    assert!(warnings.iter().any(|w| w.contains("no AWS credentials") && w.contains("web identity token (IRSA)")));
    assert!(warnings.iter().any(|w| w.contains("AWS has no Region of this name") && w.contains("us-weast-2")));
    assert!(stderr.contains("endpoint=https://gameliftstreams.us-weast-2.amazonaws.com"), "{stderr}");
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
fn an_invalid_rust_log_is_a_startup_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"))
        .args(["serve", "--emulator", "--listen", "127.0.0.1:0"])
        .env_remove("AWS_ENDPOINT_URL")
        .env("RUST_LOG", "info,gamelift=[")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with a broken RUST_LOG");
    assert!(stderr.contains("RUST_LOG='info,gamelift=['"), "{stderr}");
    assert!(out.stdout.is_empty(), "announced nothing: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn with_a_shutdown_delay_the_gateway_serves_on_after_sigterm_until_a_second_signal() {
    let gateway = embedded(&["--shutdown-delay-seconds", "600"]);
    let addr = gateway.expect_line("gateway listening on ");
    gateway.terminate();
    // Wait until the gateway has taken the signal, then call it.
    gateway.wait_for_stderr("serving on before draining");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut client = StreamSessionsClient::connect(format!("http://{addr}")).await.expect("still accepting");
        let status = client.get_stream_session(get_request()).await.expect_err("unknown session");
        assert_eq!(status.code(), Code::NotFound, "served during the delay");
    });
    drop(runtime);
    let (exit, stderr) = gateway.stop();
    assert!(stderr.contains("second signal: draining now"), "{stderr}");
    assert!(exit.success(), "{stderr}");
}

/// The median of `n` back-to-back calls of `call`, in milliseconds.
async fn median_ms<F, Fut>(n: usize, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let started = std::time::Instant::now();
        call().await;
        took.push(started.elapsed());
    }
    took.sort();
    took[n / 2].as_secs_f64() * 1000.0
}

/// gRPC answers in several small writes (headers, message, trailers); without
/// TCP_NODELAY, Nagle's algorithm holds the later ones until the client's
/// delayed ACK, and every call takes 40 ms or more.
#[tokio::test(flavor = "multi_thread")]
async fn unary_calls_over_loopback_answer_in_well_under_10_ms_on_every_listener() {
    // No ceiling in the way: the rate limiter would space the calls 50 ms apart.
    let gateway = embedded(&["--health-listen", "127.0.0.1:0", "--rate-limit", "GetStreamSession=100000"]);
    let lines: Vec<String> = (0..3).map(|_| gateway.next_line()).collect();
    let address = |prefix: &str| {
        let line = lines.iter().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("{lines:?}"));
        format!("http://{line}")
    };
    let api = Endpoint::from_shared(address("gateway listening on ")).expect("URI").connect().await.expect("API");
    let probes = Endpoint::from_shared(address("health listening on ")).expect("URI").connect().await.expect("health");
    let mut client = StreamSessionsClient::new(api);
    let start = pb::StartStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        application_identifier: support::APP.into(),
        signal_request: "offer".into(),
        ..Default::default()
    };
    let arn =
        client.start_stream_session(start).await.expect("start").into_inner().stream_session.expect("session").arn;
    let get_ms = median_ms(21, || {
        let (mut client, arn) = (client.clone(), arn.clone());
        async move {
            let req =
                pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: arn };
            client.get_stream_session(req).await.expect("get");
        }
    })
    .await;
    let health = tonic_health::pb::health_client::HealthClient::new(probes);
    let check_ms = median_ms(21, || {
        let mut health = health.clone();
        async move {
            health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.expect("check");
        }
    })
    .await;
    drop(gateway);
    assert!(get_ms < 10.0, "GetStreamSession through the gateway: median {get_ms:.1} ms");
    assert!(check_ms < 10.0, "health check on the health listener: median {check_ms:.1} ms");
}
