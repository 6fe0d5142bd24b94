//! A buggy or hostile caller against the in-process gateway: huge and
//! malformed requests, unanswerable deadlines and connections that never
//! speak each get a bounded, typed answer (see docs/gateway.md, Limits).

mod support;

use std::time::{Duration, Instant};

use bytes::{Buf, BufMut};
use gamelift_streams_gateway::emulator::FaultRule;
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::server::{self, Access, Limits, ListenAddr, RunningGateway};
use support::process::{announced, cpu_seconds, ChildProcess};
use support::{reason, start_request, GROUP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

const SERVICE: &str = "/gamelift.streams.v1.StreamSessions/";

/// Sends bytes as they are and ignores what comes back: for requests no
/// generated client would make.
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

async fn raw_call(channel: &Channel, method: &str, body: Vec<u8>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone()).max_encoding_message_size(usize::MAX);
    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
    let path = format!("{SERVICE}{method}").parse().expect("a path");
    grpc.unary(tonic::Request::new(body), path, Raw).await.map(|_| ())
}

/// Calls of `operation` the emulator received, whatever their outcome.
fn calls(emulator: &support::Harness, operation: &str) -> u64 {
    emulator.emulator.calls().get(operation).map_or(0, |outcomes| outcomes.values().sum())
}

/// A StartStreamSession of 1.3 million one-letter locations: about 4 MiB.
fn four_mib_of_locations() -> Vec<u8> {
    let request = pb::StartStreamSessionRequest { locations: vec!["x".into(); 1_300_000], ..start_request() };
    let body = prost::Message::encode_to_vec(&request);
    assert!(body.len() > 3 * 1024 * 1024, "{} bytes", body.len());
    body
}

/// Bytes of the headers that carry `status` (`grpc-message`, details).
fn status_bytes(status: &Status) -> usize {
    let mut headers = http::HeaderMap::new();
    status.add_header(&mut headers).expect("headers");
    headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum()
}

/// The gateway over the emulator, within `limits`.
async fn gateway_within(limits: Limits) -> (support::Harness, RunningGateway, Channel) {
    let emulator = support::harness_with(support::unlimited()).await;
    let sessions = gamelift_streams_gateway::sessions::Sessions::new(emulator.client.clone(), support::resilience());
    let service = support::gateway_over(sessions, Default::default());
    let listen = ListenAddr::Tcp("127.0.0.1:0".parse().expect("loopback"));
    let gateway = server::start_with(&listen, service, Access::default(), limits).await.expect("gateway starts");
    let channel = Channel::from_shared(format!("http://{}", gateway.local_addr()))
        .expect("URI")
        .connect()
        .await
        .expect("gateway reachable");
    (emulator, gateway, channel)
}

#[tokio::test]
async fn a_request_over_the_size_limit_is_resource_exhausted_at_once() {
    let (emulator, _gateway, channel) = gateway_within(Limits::default()).await;
    let started = Instant::now();
    let status = raw_call(&channel, "StartStreamSession", four_mib_of_locations()).await.expect_err("too large");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!((status.code(), reason(&status)), (Code::ResourceExhausted, "REQUEST_TOO_LARGE".into()));
    assert!(status.message().contains("65536"), "{}", status.message());
    assert_eq!(calls(&emulator, "StartStreamSession"), 0);
}

#[tokio::test]
async fn junk_repeated_fields_under_the_limit_fail_by_count_with_a_small_status() {
    let (emulator, _gateway, channel) = gateway_within(Limits::default()).await;
    let mut client = pb::stream_sessions_client::StreamSessionsClient::new(channel);
    let request = pb::StartStreamSessionRequest { locations: vec!["?".into(); 20_000], ..start_request() };
    let status = client.start_stream_session(request).await.expect_err("too many locations");
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "INVALID_FIELD".into()));
    let violations = status.get_error_details().bad_request().expect("BadRequest").field_violations.clone();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].description, "must have at most 100 elements (got 20000)");
    assert_eq!(calls(&emulator, "StartStreamSession"), 0);
}

#[tokio::test]
async fn thirty_bad_environment_variable_names_make_a_status_under_8_kib_with_its_details() {
    let (_emulator, _gateway, channel) = gateway_within(Limits::default()).await;
    let mut client = pb::stream_sessions_client::StreamSessionsClient::new(channel);
    let names = (0..30).map(|i| (format!("MY-SETTING-{i}"), "on".to_string())).collect();
    let request = pb::StartStreamSessionRequest { additional_environment_variables: names, ..start_request() };
    let status = client.start_stream_session(request).await.expect_err("bad names");
    assert!(status_bytes(&status) < 6 * 1024, "{} bytes of status headers", status_bytes(&status));
    let details = status.get_error_details();
    let listed = &details.bad_request().expect("BadRequest").field_violations;
    assert_eq!(listed.len(), 21, "twenty violations and the count of the rest");
    assert_eq!(listed[20].description, "and 10 more");
    assert!(status.message().ends_with("and 27 more"), "{}", status.message());
}

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument_malformed_request() {
    let (emulator, _gateway, channel) = gateway_within(Limits::default()).await;
    let cases: [(&str, Vec<u8>); 3] = [
        ("invalid UTF-8", vec![0x0a, 0x02, 0xff, 0xfe]),
        ("a wrong wire type", vec![0x08, 0x01]),
        ("cut short", vec![0x0a, 0x32, b's', b'g']),
    ];
    for (what, body) in cases {
        let status = raw_call(&channel, "GetStreamSession", body).await.expect_err(what);
        assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "MALFORMED_REQUEST".into()), "{what}");
    }
    assert_eq!(calls(&emulator, "GetStreamSession"), 0);
}

/// One gRPC call over a bare HTTP/2 connection, with `headers` (a client
/// library would enforce `grpc-timeout` itself); the status it ends with.
async fn bare_call(gateway: &RunningGateway, method: &str, headers: &[(&str, &str)], frame: Vec<u8>) -> Status {
    let tcp = tokio::net::TcpStream::connect(gateway.local_addr().to_string()).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2");
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://{}{SERVICE}{method}", gateway.local_addr()))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut client = client.ready().await.expect("ready");
    let (response, mut send) = client.send_request(request.body(()).expect("request"), false).expect("sent");
    send.send_data(frame.into(), true).expect("body");
    let (parts, mut body) = response.await.expect("response").into_parts();
    if parts.headers.contains_key("grpc-status") {
        return Status::from_header_map(&parts.headers).expect("status");
    }
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("data");
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.expect("trailers").expect("a status");
    Status::from_header_map(&trailers).expect("status")
}

/// `message` framed as gRPC: uncompressed, its length first.
fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    out.extend_from_slice(message);
    out
}

#[tokio::test]
async fn a_message_cut_short_in_its_frame_is_malformed_request() {
    let (_emulator, gateway, _channel) = gateway_within(Limits::default()).await;
    let mut frame = framed(&[0x0a, 0x04, b's', b'g', b'-', b'1']);
    frame.truncate(frame.len() - 3);
    let status = bare_call(&gateway, "GetStreamSession", &[], frame).await;
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "MALFORMED_REQUEST".into()));
}

#[tokio::test]
async fn a_call_unanswered_at_its_deadline_is_deadline_exceeded_not_cancelled() {
    let (emulator, gateway, _channel) = gateway_within(Limits::default()).await;
    let arn = emulator.start_session().await;
    let slow = FaultRule { operation: Some("GetStreamSession".into()), latency_ms: 3000, ..FaultRule::default() };
    emulator.emulator.add_fault(slow).expect("fault added");
    let request = pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: arn };
    // The deadline goes to the server, but this bare client does not enforce
    // it: what comes back is the gateway's own answer.
    let started = Instant::now();
    let frame = framed(&prost::Message::encode_to_vec(&request));
    let status = bare_call(&gateway, "GetStreamSession", &[("grpc-timeout", "300m")], frame).await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!((status.code(), reason(&status)), (Code::DeadlineExceeded, "UPSTREAM_TIMEOUT".into()), "{status:?}");
    let info = status.get_error_details().error_info().cloned().expect("ErrorInfo");
    assert_eq!(info.metadata.get("gaveUp").map(String::as_str), Some("deadline"));
}

/// Reads until the server closes the connection; how long that took.
async fn closed_within(mut stream: tokio::net::TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await.expect("the server closes the connection") {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_speaks_is_closed_after_the_handshake_timeout() {
    let mut limits = Limits::default();
    limits.connections.handshake_timeout = Duration::from_millis(300);
    let (_emulator, gateway, channel) = gateway_within(limits).await;
    let silent = tokio::net::TcpStream::connect(gateway.local_addr().to_string()).await.expect("connect");
    let waited = closed_within(silent, Duration::from_secs(10)).await;
    assert!(waited >= Duration::from_millis(250), "closed after {waited:?}");
    // A connection that spoke stays open past the handshake timeout.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut client = pb::stream_sessions_client::StreamSessionsClient::new(channel);
    let missing = client.get_stream_session(pb::GetStreamSessionRequest::default()).await.expect_err("invalid");
    assert_eq!(missing.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_disconnected() {
    let limits = Limits {
        keepalive_interval: Duration::from_millis(200),
        keepalive_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let (_emulator, gateway, _channel) = gateway_within(limits).await;
    let mut peer = tokio::net::TcpStream::connect(gateway.local_addr().to_string()).await.expect("connect");
    // The preface and an empty SETTINGS frame: a handshake, then silence
    // (never an ACK, never a PING answer).
    peer.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.expect("preface");
    peer.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.expect("settings");
    closed_within(peer, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn each_listener_admits_at_most_max_connections() {
    let mut limits = Limits::default();
    limits.connections.max_connections = 1;
    let (_emulator, gateway, channel) = gateway_within(limits).await;
    let mut client = pb::stream_sessions_client::StreamSessionsClient::new(channel.clone());
    let answered = client.get_stream_session(pb::GetStreamSessionRequest::default()).await.expect_err("invalid");
    assert_eq!(answered.code(), Code::InvalidArgument, "the first connection is served");
    let second = Channel::from_shared(format!("http://{}", gateway.local_addr()))
        .expect("URI")
        .timeout(Duration::from_millis(500))
        .connect_lazy();
    let mut waiting = pb::stream_sessions_client::StreamSessionsClient::new(second);
    let refused = waiting.get_stream_session(pb::GetStreamSessionRequest::default()).await.expect_err("waits");
    assert_eq!(refused.code(), Code::Cancelled, "{refused:?}");
    drop((client, channel));
    let later = tokio::time::timeout(
        Duration::from_secs(5),
        waiting.get_stream_session(pb::GetStreamSessionRequest::default()),
    )
    .await
    .expect("served once the first connection closed")
    .expect_err("invalid");
    assert_eq!(later.code(), Code::InvalidArgument);
}

/// The gateway binary with its embedded emulator, started by `sh -c` after
/// `limits` (shell commands such as `ulimit -n 48 &&`), and its address.
fn binary(limits: &str, args: &str) -> (ChildProcess, String) {
    let executable = env!("CARGO_BIN_EXE_gamelift-streams-gateway");
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", &format!("{limits} exec {executable} serve --emulator --listen 127.0.0.1:0 {args}")])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("RUST_LOG");
    let gateway = announced(command, "gateway listening on ");
    let addr = gateway.address.clone();
    (gateway, addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4_mib_junk_request_costs_the_binary_little_memory_and_time() {
    let (gateway, addr) = binary("", "");
    let channel = Channel::from_shared(format!("http://{addr}")).expect("URI").connect().await.expect("up");
    let before = gateway.rss_kib();
    let body = four_mib_of_locations();
    for _ in 0..3 {
        let started = Instant::now();
        let status = raw_call(&channel, "StartStreamSession", body.clone()).await.expect_err("too large");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
    let grown = gateway.rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
    assert!(gateway.stderr().len() < 64 * 1024, "{} bytes of logs", gateway.stderr().len());
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_file_descriptors_the_gateway_logs_backs_off_and_recovers() {
    let (gateway, addr) = binary("ulimit -n 48 &&", "--handshake-timeout-seconds 120");
    let failures = |log: &str| log.lines().filter(|l| l.contains("accept failed")).count();
    let mut held = Vec::new();
    for _ in 0..80 {
        let connected = tokio::net::TcpStream::connect(&addr).await;
        held.push(
            connected.unwrap_or_else(|e| panic!("connect (queued when not accepted): {e}\n{}", gateway.stderr())),
        );
    }
    let waited = Instant::now();
    while failures(&gateway.stderr()) == 0 {
        assert!(waited.elapsed() < Duration::from_secs(10), "no accept failure logged:\n{}", gateway.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (cpu_before, logged_before) = (cpu_seconds(gateway.child.id()), failures(&gateway.stderr()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu, logged) = (cpu_seconds(gateway.child.id()) - cpu_before, failures(&gateway.stderr()) - logged_before);
    assert!(cpu < 0.5, "{cpu:.2} s of CPU in 2 s without a free file descriptor: the accept loop spins");
    assert!(logged <= 3, "{logged} accept-failure lines in 2 s: not rate-limited");

    drop(held);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("URI");
    let recovered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(channel) = channel.connect().await {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                let check = tonic_health::pb::HealthCheckRequest { service: String::new() };
                if health.check(check).await.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(recovered.is_ok(), "the gateway did not serve again once descriptors were free");
}
