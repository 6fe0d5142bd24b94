//! The gRPC wire's own failures, answered the gateway's way and each with
//! `google.rpc.ErrorInfo`: a request larger than `--max-request-bytes` is
//! RESOURCE_EXHAUSTED `REQUEST_TOO_LARGE` (tonic says OUT_OF_RANGE), one that
//! is not a whole, valid message is INVALID_ARGUMENT `MALFORMED_REQUEST`
//! (tonic says INTERNAL), and a call still unanswered at its `grpc-timeout`
//! is DEADLINE_EXCEEDED (tonic's own timer would answer CANCELLED "Timeout
//! expired"). A tower layer inside the RPC layer, so metrics and spans see
//! the codes callers get. Never reads a request's content.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::reason::{set_error_info, ErrorReason};

/// How long before the caller's deadline an unanswered call is answered:
/// tonic's own timer (started a moment earlier, for the same time) must not
/// get there first.
const DEADLINE_MARGIN: Duration = Duration::from_millis(2);

/// A `grpc-timeout` value (gRPC over HTTP/2: an integer of at most 8 digits
/// and a unit, H M S m u n) as a duration; `None` when it is not one.
pub fn parse_timeout(raw: &str) -> Option<Duration> {
    if raw.len() < 2 || raw.len() > 9 {
        return None;
    }
    let (digits, unit) = raw.split_at(raw.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A request that is not a valid protobuf message of its RPC's type.
pub fn malformed(detail: impl std::fmt::Display) -> Status {
    let mut details = ErrorDetails::new();
    set_error_info(&mut details, ErrorReason::MalformedRequest, HashMap::new());
    Status::with_error_details(Code::InvalidArgument, format!("the request is not a valid message: {detail}"), details)
}

/// A request over `limit` bytes.
pub(crate) fn too_large(limit: usize) -> Status {
    let mut details = ErrorDetails::new();
    let meta = HashMap::from([("maxRequestBytes".to_string(), limit.to_string())]);
    set_error_info(&mut details, ErrorReason::RequestTooLarge, meta);
    let message = format!("the request is larger than the {limit} bytes this gateway accepts (--max-request-bytes)");
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

/// A call still unanswered at its deadline.
pub(crate) fn deadline_exceeded() -> Status {
    let mut details = ErrorDetails::new();
    set_error_info(&mut details, ErrorReason::DeadlineExceeded, HashMap::new());
    Status::with_error_details(Code::DeadlineExceeded, "the call did not finish before its deadline", details)
}

/// Answers the wire's failures the gateway's way (see the module).
#[derive(Debug, Clone, Copy)]
pub struct WireLayer {
    max_request_bytes: usize,
}

impl WireLayer {
    /// For a server that decodes requests of at most `max_request_bytes`.
    pub fn new(max_request_bytes: usize) -> Self {
        Self { max_request_bytes }
    }
}

impl<S> Layer<S> for WireLayer {
    type Service = Wire<S>;

    fn layer(&self, inner: S) -> Wire<S> {
        Wire { inner, max_request_bytes: self.max_request_bytes }
    }
}

/// The service [`WireLayer`] makes.
#[derive(Debug, Clone)]
pub struct Wire<S> {
    inner: S,
    max_request_bytes: usize,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Wire<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let deadline = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_timeout)
            .map(|timeout| Instant::now() + timeout.saturating_sub(DEADLINE_MARGIN));
        let limit = self.max_request_bytes;
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = match deadline {
                Some(at) => match tokio::time::timeout_at(at, response).await {
                    Ok(response) => response?,
                    Err(_) => return Ok(deadline_exceeded().into_http()),
                },
                None => response.await?,
            };
            Ok(rewrite(response, limit))
        })
    }
}

/// A trailers-only answer tonic made before any handler ran (it has no
/// ErrorInfo: every status of the gateway's own has one), in the gateway's
/// codes.
fn rewrite<B>(mut response: http::Response<B>, limit: usize) -> http::Response<B> {
    let headers = response.headers();
    if headers.contains_key("grpc-status-details-bin") {
        return response;
    }
    let code = headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i32>().ok());
    let status = match code.map(Code::from_i32) {
        Some(Code::OutOfRange) => too_large(limit),
        Some(Code::Internal) => malformed("it is cut short or cannot be read"),
        _ => return response,
    };
    let headers = response.headers_mut();
    headers.remove("grpc-status");
    headers.remove("grpc-message");
    if status.add_header(headers).is_err() {
        tracing::warn!("could not write the status of a failed request");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn reason(headers: &http::HeaderMap) -> (Code, String) {
        let status = Status::from_header_map(headers).expect("a status");
        let reason = status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default();
        (status.code(), reason)
    }

    async fn answer(status: Status, timeout: Option<&str>) -> http::HeaderMap {
        let inner = tower::service_fn(move |_: http::Request<()>| {
            let status = status.clone();
            async move { Ok::<_, Infallible>(status.into_http::<String>()) }
        });
        let mut request = http::Request::new(());
        if let Some(t) = timeout {
            request.headers_mut().insert("grpc-timeout", t.parse().expect("ASCII"));
        }
        let response = WireLayer::new(1024).layer(inner).call(request).await.expect("infallible");
        response.headers().clone()
    }

    #[test]
    fn grpc_timeouts_in_every_unit_and_garbage() {
        assert_eq!(parse_timeout("300m"), Some(Duration::from_millis(300)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("5M"), Some(Duration::from_secs(300)));
        assert_eq!(parse_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_timeout("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(parse_timeout("100"), None);
        assert_eq!(parse_timeout("m"), None);
        assert_eq!(parse_timeout("123456789S"), None);
        assert_eq!(parse_timeout("-1S"), None);
    }

    #[tokio::test]
    async fn tonic_framing_statuses_become_the_gateways() {
        let large = answer(Status::out_of_range("Error, decoded message length too large"), None).await;
        assert_eq!(reason(&large), (Code::ResourceExhausted, "REQUEST_TOO_LARGE".into()));
        let cut = answer(Status::internal("Unexpected EOF decoding stream."), None).await;
        assert_eq!(reason(&cut), (Code::InvalidArgument, "MALFORMED_REQUEST".into()));
    }

    #[tokio::test]
    async fn statuses_with_error_info_and_other_codes_pass_unchanged() {
        let own = malformed("x");
        let passed = answer(own, None).await;
        assert_eq!(reason(&passed), (Code::InvalidArgument, "MALFORMED_REQUEST".into()));
        let mut with_info = ErrorDetails::new();
        set_error_info(&mut with_info, ErrorReason::UpstreamUnknownError, HashMap::new());
        let internal = answer(Status::with_error_details(Code::Internal, "x", with_info), None).await;
        assert_eq!(reason(&internal), (Code::Internal, "UPSTREAM_UNKNOWN_ERROR".into()));
        let not_found = answer(Status::not_found("no such service"), None).await;
        assert_eq!(reason(&not_found), (Code::NotFound, String::new()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_call_is_deadline_exceeded_just_before_its_deadline() {
        let never = tower::service_fn(|_: http::Request<()>| {
            std::future::pending::<Result<http::Response<String>, Infallible>>()
        });
        let mut request = http::Request::new(());
        request.headers_mut().insert("grpc-timeout", "300m".parse().expect("ASCII"));
        let started = Instant::now();
        let response = WireLayer::new(1024).layer(never).call(request).await.expect("infallible");
        assert_eq!(started.elapsed(), Duration::from_millis(298));
        assert_eq!(reason(response.headers()), (Code::DeadlineExceeded, "DEADLINE_EXCEEDED".into()));
    }
}
