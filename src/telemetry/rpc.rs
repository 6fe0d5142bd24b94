//! A tower layer around the gRPC server: per call, a server span with the
//! OpenTelemetry RPC conventions (continuing the caller's W3C `traceparent`),
//! the `rpc.server.call.duration` histogram by method and status code, and
//! one access-log line (at info for failures, debug for successes). The
//! status is read where gRPC puts it: the response headers of a trailers-only
//! answer, else the trailers at the end of the body; a body dropped before its
//! trailers (the client went away) counts as CANCELLED. Health checks and
//! reflection are measured but not traced.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use opentelemetry::metrics::Histogram;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry::KeyValue;
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The services whose calls get spans.
const TRACED_SERVICE: &str = "gamelift.streams.v1.StreamSessions";
const STAGES_SERVICE: &str = "ivs.realtime.v1.Stages";

/// gRPC status codes this module names.
const CANCELLED: i32 = 1;
const UNKNOWN: i32 = 2;
const UNIMPLEMENTED: i32 = 12;
const UNAUTHENTICATED: i32 = 16;

/// Adds spans and RPC metrics to a gRPC server.
#[derive(Clone)]
pub struct RpcLayer {
    duration: Histogram<f64>,
}

impl Default for RpcLayer {
    fn default() -> Self {
        let duration = super::meter()
            .f64_histogram("rpc.server.call.duration")
            .with_unit("s")
            .with_description("Duration of gRPC calls served, by method and status code")
            .with_boundaries(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0])
            .build();
        Self { duration }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> RpcService<S> {
        RpcService { inner, duration: self.duration.clone() }
    }
}

/// The service [`RpcLayer`] makes.
#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
    duration: Histogram<f64>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RpcService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<RpcBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let mut call = Call::start(req.uri().path(), req.headers(), self.duration.clone());
        let span = call.span.clone();
        let response = span.in_scope(|| self.inner.call(req));
        Box::pin(async move {
            let (parts, body) = response.instrument(span).await?.into_parts();
            if let Some(code) = grpc_status(&parts.headers) {
                call.finish(code);
            }
            Ok(http::Response::from_parts(parts, RpcBody { inner: body, call }))
        })
    }
}

/// The `grpc-status` in `headers`, if any.
fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// Reads W3C trace context from HTTP/2 headers (gRPC metadata).
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The methods the gateway serves: only these name spans and metric series
/// (any other path is `_OTHER`, so callers cannot mint label values).
const KNOWN_METHODS: &[(&str, &str)] = &[
    (TRACED_SERVICE, "StartStreamSession"),
    (TRACED_SERVICE, "GetStreamSession"),
    (TRACED_SERVICE, "ListStreamSessions"),
    (TRACED_SERVICE, "ListStreamSessionsByAccount"),
    (TRACED_SERVICE, "TerminateStreamSession"),
    (TRACED_SERVICE, "CreateStreamSessionConnection"),
    (TRACED_SERVICE, "ExportStreamSessionFiles"),
    (TRACED_SERVICE, "WatchStreamSession"),
    (TRACED_SERVICE, "WatchStreamSessions"),
    (STAGES_SERVICE, "CreateStage"),
    (STAGES_SERVICE, "GetStage"),
    (STAGES_SERVICE, "ListStages"),
    (STAGES_SERVICE, "UpdateStage"),
    (STAGES_SERVICE, "DeleteStage"),
    (STAGES_SERVICE, "CreateParticipantToken"),
    (STAGES_SERVICE, "GetParticipant"),
    (STAGES_SERVICE, "ListParticipants"),
    (STAGES_SERVICE, "DisconnectParticipant"),
    (STAGES_SERVICE, "ListParticipantEvents"),
    (STAGES_SERVICE, "GetStageSession"),
    (STAGES_SERVICE, "ListStageSessions"),
    (STAGES_SERVICE, "StartComposition"),
    (STAGES_SERVICE, "StopComposition"),
    (STAGES_SERVICE, "GetComposition"),
    (STAGES_SERVICE, "ListCompositions"),
    (STAGES_SERVICE, "WatchStageParticipants"),
    ("grpc.health.v1.Health", "Check"),
    ("grpc.health.v1.Health", "Watch"),
    ("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo"),
];

/// The label of anything that is not one of [`KNOWN_METHODS`].
const OTHER: &str = "_OTHER";

/// The service and method a request path names, if the gateway serves it.
fn known_method(path: &str) -> Option<(&'static str, &'static str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    KNOWN_METHODS.iter().copied().find(|(s, m)| *s == service && *m == method)
}

/// One call being served.
struct Call {
    span: Span,
    started: Instant,
    service: &'static str,
    method: &'static str,
    duration: Histogram<f64>,
    done: bool,
}

impl Call {
    fn start(path: &str, headers: &http::HeaderMap, duration: Histogram<f64>) -> Self {
        let (service, method) = known_method(path).unwrap_or((OTHER, OTHER));
        let span = if service == TRACED_SERVICE || service == STAGES_SERVICE {
            let span = tracing::info_span!(
                "rpc",
                otel.name = %path.trim_start_matches('/'),
                otel.kind = "server",
                otel.status_code = Empty,
                rpc.system = "grpc",
                rpc.service = service,
                rpc.method = method,
                rpc.grpc.status_code = Empty,
                trace_id = Empty,
            );
            let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
            let callers = parent.span().span_context().trace_id();
            // Without trace export there is no OpenTelemetry span to parent, and
            // the caller's trace id is the one logs carry.
            let _ = span.set_parent(parent);
            let own = span.context().span().span_context().trace_id();
            let trace_id = if own == TraceId::INVALID { callers } else { own };
            if trace_id != TraceId::INVALID {
                span.record("trace_id", tracing::field::display(trace_id));
            }
            span
        } else {
            Span::none()
        };
        Self { span, started: Instant::now(), service, method, duration, done: false }
    }

    /// Records the call's status once.
    fn finish(&mut self, code: i32) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        // Callers who are not let in (or call nothing served) choose no labels.
        let anonymous = code == UNIMPLEMENTED || code == UNAUTHENTICATED;
        let (service, method) = if anonymous { (OTHER, OTHER) } else { (self.service, self.method) };
        self.duration.record(
            elapsed,
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service),
                KeyValue::new("rpc.method", method),
                KeyValue::new("rpc.grpc.status_code", i64::from(code)),
            ],
        );
        if self.span.is_none() {
            return;
        }
        self.span.record("rpc.grpc.status_code", code);
        let code = tonic::Code::from_i32(code);
        if is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
        }
        let _inside = self.span.enter();
        // A line per successful call would cost every call more than its span
        // (benchmarks/profile in docs/performance.md): successes at debug.
        if code == tonic::Code::Ok {
            tracing::debug!(grpc.code = ?code, duration_ms = elapsed * 1000.0, "rpc finished");
        } else {
            tracing::info!(grpc.code = ?code, duration_ms = elapsed * 1000.0, "rpc finished");
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(CANCELLED);
    }
}

/// The codes the OpenTelemetry conventions count as server errors.
fn is_server_error(code: tonic::Code) -> bool {
    use tonic::Code as C;
    matches!(code, C::Unknown | C::DeadlineExceeded | C::Unimplemented | C::Internal | C::Unavailable | C::DataLoss)
}

pin_project_lite::pin_project! {
    /// A response body that records the call's status from its trailers.
    pub struct RpcBody<B> {
        #[pin]
        inner: B,
        call: Call,
    }
}

impl<B: Body> Body for RpcBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    this.call.finish(code);
                }
            }
            Some(Err(_)) | None => this.call.finish(UNKNOWN),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn every_method_of_both_protos_is_known_and_nothing_else() {
        let sets = [crate::proto::v1::FILE_DESCRIPTOR_SET, crate::proto::ivs::FILE_DESCRIPTOR_SET];
        let files: Vec<_> = sets
            .iter()
            .flat_map(|bytes| prost_types::FileDescriptorSet::decode(*bytes).expect("descriptor").file)
            .filter(|f| !f.package().starts_with("google."))
            .collect();
        let mut served: Vec<String> = files
            .iter()
            .flat_map(|f| f.service.iter().map(move |s| (f.package(), s)))
            .flat_map(|(package, s)| s.method.iter().map(move |m| format!("{package}.{}/{}", s.name(), m.name())))
            .collect();
        served.sort();
        let mut known: Vec<String> = KNOWN_METHODS
            .iter()
            .filter(|(service, _)| *service == TRACED_SERVICE || *service == STAGES_SERVICE)
            .map(|(service, method)| format!("{service}/{method}"))
            .collect();
        known.sort();
        assert_eq!(known, served);
    }

    #[test]
    fn only_served_paths_name_a_method() {
        assert_eq!(known_method("/grpc.health.v1.Health/Check"), Some(("grpc.health.v1.Health", "Check")));
        assert_eq!(
            known_method(&format!("/{TRACED_SERVICE}/GetStreamSession")),
            Some((TRACED_SERVICE, "GetStreamSession"))
        );
        for junk in ["/", "", "/x/y", &format!("/{TRACED_SERVICE}/Nope"), &format!("{TRACED_SERVICE}/GetStreamSession")]
        {
            assert_eq!(known_method(junk), None, "{junk}");
        }
    }
}
