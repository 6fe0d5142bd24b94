//! The gateway's gRPC server: binds TCP or a Unix socket, serves
//! `StreamSessions` and `Stages` beside `grpc.health.v1.Health` and server
//! reflection, and
//! drains on shutdown (NOT_SERVING, stop accepting, finish in-flight calls
//! within a grace period).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::api::stages::StagesGateway;
use crate::api::Gateway;
use crate::auth::{AuthLayer, AuthToken};
use crate::connections::{incoming, ConnectionLimits};
use crate::proto::v1 as pb;
use crate::sessions::watch::Watches;
use crate::stages::watch::StageWatches;
use crate::telemetry::rpc::RpcLayer;
use crate::wire::WireLayer;

type StreamSessionsServer = pb::stream_sessions_server::StreamSessionsServer<Gateway>;
type StagesServer = crate::proto::ivs::stages_server::StagesServer<StagesGateway>;

/// The services a gateway serves: StreamSessions, and Stages when IVS
/// Real-Time is set up (the sidecar always sets it up; tests of
/// StreamSessions alone need not).
pub struct Services {
    /// StreamSessions (GameLift Streams).
    pub streams: Gateway,
    /// Stages (IVS Real-Time).
    pub stages: Option<StagesGateway>,
}

impl From<Gateway> for Services {
    fn from(streams: Gateway) -> Self {
        Self { streams, stages: None }
    }
}

/// Where the gateway listens: `IP:PORT`, `NAME:PORT` or `unix:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address (port 0 picks a free port).
    Tcp(SocketAddr),
    /// A host name: every address it resolves to, on one port (port 0 picks
    /// a free port on the first and takes the same on the others).
    Host(String, u16),
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let neither = || format!("'{s}' is neither HOST:PORT nor unix:/path");
        match s.strip_prefix("unix:") {
            Some("") => Err("unix: needs a socket path".into()),
            Some(path) => Ok(Self::Unix(PathBuf::from(path))),
            None => match s.parse() {
                Ok(addr) => Ok(Self::Tcp(addr)),
                Err(_) => {
                    let (host, port) = s.rsplit_once(':').ok_or_else(neither)?;
                    let port = port.parse().map_err(|_| neither())?;
                    let name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
                    if host.is_empty() || !host.chars().all(name) {
                        return Err(neither());
                    }
                    Ok(Self::Host(host.to_string(), port))
                }
            },
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Host(host, port) => write!(f, "{host}:{port}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Binds every address `host` resolves to that can be bound (a machine
/// without IPv6 cannot bind `::1`), on `port` (0: the port the first gets,
/// for all), and says which; an error if none can be.
async fn bind_host(host: &str, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    resolved.dedup();
    let mut listeners: Vec<TcpListener> = Vec::new();
    let mut failed = None;
    for mut addr in resolved.iter().copied() {
        if let Some(first) = listeners.first() {
            addr.set_port(first.local_addr()?.port());
        }
        match TcpListener::bind(addr).await {
            Ok(listener) => listeners.push(listener),
            Err(e) => {
                tracing::warn!(host, address = %addr, error = %e, "cannot listen on an address of the host name");
                failed = Some(e);
            }
        }
    }
    if listeners.is_empty() {
        return Err(failed.unwrap_or_else(|| {
            let message = format!("--listen {host}:{port}: {host} resolves to no address");
            std::io::Error::new(std::io::ErrorKind::NotFound, message)
        }));
    }
    let bound: Vec<String> = listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.to_string()).collect();
    tracing::info!(host, addresses = %bound.join(", "), "listening on every address the host name resolves to");
    Ok(listeners)
}

/// A gateway serving in the background.
pub struct RunningGateway {
    local_addr: ListenAddr,
    health: HealthReporter,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    watches: Watches,
    stage_watches: Option<StageWatches>,
    probes: Option<HealthListener>,
}

/// The health-only listener, for probes that cannot reach a loopback listener.
struct HealthListener {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// Who may call, and where health is also served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    /// When set, every call but health needs this bearer token.
    pub token: Option<AuthToken>,
    /// A second listener serving only `grpc.health.v1.Health`, without a token
    /// (kubelet's gRPC probes connect to the pod IP, not to loopback).
    pub health_listen: Option<SocketAddr>,
}

/// Streams one client connection may have open: enough for a backend that
/// watches thousands of sessions over one channel.
const MAX_CONCURRENT_STREAMS: u32 = 16_384;

/// Bounds on what callers can make the server hold (docs/gateway.md, Limits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Largest request message decoded; larger is RESOURCE_EXHAUSTED.
    pub max_request_bytes: usize,
    /// Connections open at once, and the time each has for its handshake.
    pub connections: ConnectionLimits,
    /// Idle time after which a connection is pinged.
    pub keepalive_interval: Duration,
    /// Time a ping has to be answered before the connection is closed.
    pub keepalive_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: 64 * 1024,
            connections: ConnectionLimits { max_connections: 1024, handshake_timeout: Duration::from_secs(10) },
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// A server with these limits' HTTP/2 settings and the wire's statuses.
    fn server(&self) -> Server {
        Server::builder()
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .http2_keepalive_interval(Some(self.keepalive_interval))
            .http2_keepalive_timeout(Some(self.keepalive_timeout))
    }
}

/// Binds `listen` and serves `gateway` to anyone who can connect, until drained.
pub async fn start(listen: &ListenAddr, gateway: impl Into<Services>) -> std::io::Result<RunningGateway> {
    start_with(listen, gateway, Access::default(), Limits::default()).await
}

/// Server reflection over the contract (both proto files), the standard
/// error details (`google.rpc.Status`, `ErrorInfo`, `BadRequest`, …) and
/// health, for grpcurl, Postman and the like: served as
/// `grpc.reflection.v1` and as the older `v1alpha` that many tools and
/// grpcio-reflection still speak.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(crate::proto::ivs::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(crate::reason::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(crate::reason::DETAILS_FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// Binds `listen` (and the health listener of `access`) and serves
/// `services` to callers `access` admits, within `limits`, until drained.
pub async fn start_with(
    listen: &ListenAddr,
    services: impl Into<Services>,
    access: Access,
    limits: Limits,
) -> std::io::Result<RunningGateway> {
    let Services { streams: gateway, stages } = services.into();
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<StreamSessionsServer>().await;
    if stages.is_some() {
        health.set_serving::<StagesServer>().await;
    }
    let max = limits.max_request_bytes;
    let reflection = reflection_builder().build_v1().map_err(std::io::Error::other)?.max_decoding_message_size(max);
    let reflection_v1alpha =
        reflection_builder().build_v1alpha().map_err(std::io::Error::other)?.max_decoding_message_size(max);
    let health_service = health_service.max_decoding_message_size(max);
    let watches = gateway.watches().clone();
    let stage_watches = stages.as_ref().map(|s| s.watches().clone());
    let router = limits
        .server()
        .layer(RpcLayer::default())
        .layer(WireLayer::new(max))
        .layer(AuthLayer::new(access.token))
        .add_service(health_service.clone())
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(StreamSessionsServer::new(gateway).max_decoding_message_size(max))
        .add_optional_service(stages.map(|s| StagesServer::new(s).max_decoding_message_size(max)));
    let (tx, rx) = oneshot::channel::<()>();
    let signal = async {
        let _ = rx.await;
    };
    let (local_addr, task) = match listen {
        ListenAddr::Tcp(addr) => {
            let listener = TcpListener::bind(addr).await?;
            let local = ListenAddr::Tcp(listener.local_addr()?);
            let accepted = incoming(listener, limits.connections);
            (local, tokio::spawn(router.serve_with_incoming_shutdown(accepted, signal)))
        }
        ListenAddr::Host(host, port) => {
            let listeners = bind_host(host, *port).await?;
            let local = ListenAddr::Tcp(listeners[0].local_addr()?);
            let each = listeners.into_iter().map(|l| Box::pin(incoming(l, limits.connections)));
            let accepted = futures_util::stream::select_all(each);
            (local, tokio::spawn(router.serve_with_incoming_shutdown(accepted, signal)))
        }
        ListenAddr::Unix(path) => {
            remove_stale_socket(path)?;
            let accepted = incoming(UnixListener::bind(path)?, limits.connections);
            (listen.clone(), tokio::spawn(router.serve_with_incoming_shutdown(accepted, signal)))
        }
    };
    let probes = match access.health_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await?;
            let addr = listener.local_addr()?;
            let (shutdown, rx) = oneshot::channel::<()>();
            let router =
                limits.server().layer(RpcLayer::default()).layer(WireLayer::new(max)).add_service(health_service);
            let serve = router.serve_with_incoming_shutdown(incoming(listener, limits.connections), async {
                let _ = rx.await;
            });
            Some(HealthListener { addr, shutdown, task: tokio::spawn(serve) })
        }
        None => None,
    };
    Ok(RunningGateway { local_addr, health, shutdown: Some(tx), task, watches, stage_watches, probes })
}

/// A socket file left by an earlier run is removed; any other file is an error.
fn remove_stale_socket(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(std::io::Error::new(e.kind(), format!("cannot inspect {}: {e}", path.display()))),
    }
}

impl RunningGateway {
    /// The address actually bound.
    pub fn local_addr(&self) -> &ListenAddr {
        &self.local_addr
    }

    /// The health listener's address, if there is one.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.probes.as_ref().map(|p| p.addr)
    }

    /// Resolves only if the server stops serving on its own (before any drain),
    /// with why: the process must not run on without it.
    pub async fn stopped(&mut self) -> String {
        match (&mut self.task).await {
            Ok(Ok(())) => "the server ended without being drained".into(),
            Ok(Err(e)) => format!("the server failed: {e}"),
            Err(e) => format!("the server task ended: {e}"),
        }
    }

    /// Reports NOT_SERVING, stops accepting, ends the watch streams (with
    /// UNAVAILABLE: their clients resume elsewhere), and waits up to `grace`
    /// for in-flight calls; the health listener answers NOT_SERVING until
    /// then. Returns whether the calls all finished in time.
    pub async fn drain(mut self, grace: Duration) -> bool {
        self.health.set_not_serving::<StreamSessionsServer>().await;
        if self.stage_watches.is_some() {
            self.health.set_not_serving::<StagesServer>().await;
        }
        self.health.set_service_status("", ServingStatus::NotServing).await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.watches.close();
        if let Some(stage_watches) = &self.stage_watches {
            stage_watches.close();
        }
        let finished = tokio::time::timeout(grace, &mut self.task).await.is_ok();
        if !finished {
            tracing::warn!(grace_seconds = grace.as_secs_f64(), "grace period over; cutting remaining calls");
            self.task.abort();
        }
        if let ListenAddr::Unix(path) = &self.local_addr {
            let _ = std::fs::remove_file(path);
        }
        if let Some(probes) = self.probes.take() {
            let _ = probes.shutdown.send(());
            let _ = probes.task.await;
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_path_that_cannot_be_inspected_is_an_error_not_absent() {
        let file = std::env::temp_dir().join(format!("glsgw-not-a-dir-{}", std::process::id()));
        std::fs::write(&file, b"x").expect("a file");
        let under_a_file = file.join("gateway.sock");
        let err = remove_stale_socket(&under_a_file).expect_err("ENOTDIR is not absence");
        assert!(err.to_string().contains("cannot inspect"), "{err}");
        assert!(remove_stale_socket(&file.with_extension("absent")).is_ok(), "a missing path is fine");
        std::fs::remove_file(&file).expect("cleanup");
    }
}
