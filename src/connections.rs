//! The connections a listener accepts, bounded: at most `max_connections`
//! open at once (each holds a permit it gives back when it closes; at the
//! limit the listener stops accepting and the kernel's backlog waits), each
//! closed unless it sends the HTTP/2 preface within the handshake timeout,
//! TCP_NODELAY on TCP, and accept errors (out of file descriptors) logged at
//! most once a second and backed off instead of retried in a tight loop.
//! Knows nothing of gRPC beyond the preface's length.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

/// Bytes of the HTTP/2 client connection preface (RFC 9113, 3.4).
const PREFACE_LEN: usize = 24;
/// First and longest pause after a failed accept.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// At most one log line per this long about failed accepts or the limit.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// What the listener admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time a new connection has to send the HTTP/2 preface.
    pub handshake_timeout: Duration,
}

/// A listener of TCP or Unix connections.
pub trait Listener: Send + 'static {
    /// The connections it accepts.
    type Io: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static;
    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Listener for TcpListener {
    type Io = TcpStream;

    async fn accept(&mut self) -> io::Result<TcpStream> {
        let (stream, _) = TcpListener::accept(self).await?;
        // gRPC writes headers, messages and trailers as separate small writes;
        // Nagle's algorithm would hold each back until the peer's delayed ACK
        // (about 40 ms a call).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        Ok(stream)
    }
}

impl Listener for UnixListener {
    type Io = UnixStream;

    async fn accept(&mut self) -> io::Result<UnixStream> {
        UnixListener::accept(self).await.map(|(stream, _)| stream)
    }
}

/// The connections `listener` accepts, within `limits` (see the module).
pub fn incoming<L: Listener>(
    listener: L,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<Connection<L::Io>>> + Send + 'static {
    let state = Accepting {
        listener,
        permits: Arc::new(Semaphore::new(limits.max_connections)),
        limits,
        backoff: FIRST_BACKOFF,
        last_log: None,
        suppressed: 0,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        let connection = state.next().await;
        Some((Ok(connection), state))
    })
}

struct Accepting<L> {
    listener: L,
    permits: Arc<Semaphore>,
    limits: ConnectionLimits,
    backoff: Duration,
    last_log: Option<Instant>,
    suppressed: u64,
}

impl<L: Listener> Accepting<L> {
    async fn next(&mut self) -> Connection<L::Io> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let max = self.limits.max_connections;
                self.log(|suppressed| tracing::warn!(max_connections = max, suppressed, "connection limit reached"));
                self.permits.clone().acquire_owned().await.expect("the semaphore is never closed")
            }
        };
        loop {
            match self.listener.accept().await {
                Ok(io) => {
                    self.backoff = FIRST_BACKOFF;
                    return Connection::new(io, permit, self.limits.handshake_timeout);
                }
                Err(e) => {
                    let pause = self.backoff;
                    self.log(|suppressed| {
                        tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, suppressed, "accept failed")
                    });
                    tokio::time::sleep(pause).await;
                    self.backoff = (pause * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Logs through `line` (given how many lines were skipped) at most once
    /// per [`LOG_EVERY`].
    fn log(&mut self, line: impl FnOnce(u64)) {
        let now = Instant::now();
        if self.last_log.is_some_and(|at| now < at + LOG_EVERY) {
            self.suppressed += 1;
            return;
        }
        line(std::mem::take(&mut self.suppressed));
        self.last_log = Some(now);
    }
}

pin_project_lite::pin_project! {
    /// An accepted connection: gives its permit back when dropped; reads fail
    /// once the handshake timeout passes before the preface has arrived.
    pub struct Connection<Io> {
        #[pin]
        io: Io,
        handshake: Option<Pin<Box<Sleep>>>,
        preface_left: usize,
        _permit: OwnedSemaphorePermit,
    }
}

impl<Io> Connection<Io> {
    fn new(io: Io, permit: OwnedSemaphorePermit, handshake_timeout: Duration) -> Self {
        Self {
            io,
            handshake: Some(Box::pin(tokio::time::sleep(handshake_timeout))),
            preface_left: PREFACE_LEN,
            _permit: permit,
        }
    }
}

impl<Io: Connected> Connected for Connection<Io> {
    type ConnectInfo = Io::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<Io: AsyncRead> AsyncRead for Connection<Io> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let read = this.io.poll_read(cx, buf);
        let Some(timer) = this.handshake.as_mut() else { return read };
        match read {
            Poll::Ready(Ok(())) => {
                *this.preface_left = this.preface_left.saturating_sub(buf.filled().len() - before);
                if *this.preface_left == 0 {
                    *this.handshake = None;
                }
            }
            Poll::Pending if timer.as_mut().poll(cx).is_ready() => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no HTTP/2 preface within the handshake timeout",
                )));
            }
            _ => {}
        }
        read
    }
}

impl<Io: AsyncWrite> AsyncWrite for Connection<Io> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const LIMITS: ConnectionLimits =
        ConnectionLimits { max_connections: 2, handshake_timeout: Duration::from_secs(10) };

    async fn listening() -> (TcpListener, std::net::SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        (listener, addr)
    }

    #[tokio::test]
    async fn accepted_connections_have_tcp_nodelay() {
        let (listener, addr) = listening().await;
        let mut incoming = Box::pin(incoming(listener, LIMITS));
        let _client = TcpStream::connect(addr).await.expect("connect");
        let accepted = incoming.next().await.expect("a connection").expect("accepted");
        assert!(accepted.io.nodelay().expect("socket option"), "TCP_NODELAY is set on the accepted socket");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_silent_past_the_handshake_timeout_fails_its_reads() {
        let (listener, addr) = listening().await;
        let mut incoming = Box::pin(incoming(listener, LIMITS));
        let _silent = TcpStream::connect(addr).await.expect("connect");
        let mut accepted = incoming.next().await.expect("a connection").expect("accepted");
        let started = Instant::now();
        let err = accepted.read(&mut [0; 64]).await.expect_err("timed out");
        assert_eq!((err.kind(), started.elapsed()), (io::ErrorKind::TimedOut, LIMITS.handshake_timeout));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sent_the_preface_has_no_timeout() {
        let (listener, addr) = listening().await;
        let mut incoming = Box::pin(incoming(listener, LIMITS));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let mut accepted = incoming.next().await.expect("a connection").expect("accepted");
        client.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.expect("preface");
        let mut preface = [0; PREFACE_LEN];
        accepted.read_exact(&mut preface).await.expect("the preface");
        let late = tokio::spawn(async move {
            let mut byte = [0; 1];
            accepted.read_exact(&mut byte).await.map(|_| byte[0])
        });
        tokio::time::sleep(LIMITS.handshake_timeout * 3).await;
        client.write_all(b"x").await.expect("a late byte");
        assert_eq!(late.await.expect("joined").expect("read"), b'x');
    }

    #[tokio::test]
    async fn at_the_limit_the_next_connection_waits_for_a_permit() {
        let (listener, addr) = listening().await;
        let mut incoming = Box::pin(incoming(listener, LIMITS));
        let mut clients = Vec::new();
        let mut open = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.expect("connect"));
        }
        for _ in 0..LIMITS.max_connections {
            open.push(incoming.next().await.expect("a connection").expect("accepted"));
        }
        let third = futures_util::FutureExt::now_or_never(incoming.next());
        assert!(third.is_none(), "a third connection was accepted at a limit of two");
        drop(open.pop());
        incoming.next().await.expect("a connection").expect("accepted once a permit is free");
    }
}
