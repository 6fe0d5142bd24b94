//! The HTTP face of the emulator, restJson1 as the models describe it: picks the
//! service ([`Service::of_request`]), routes a method and path to one of its
//! operations, applies faults and rate limits, builds and validates the input,
//! and answers the output or an error with `x-amzn-RequestId` and
//! `X-Amzn-ErrorType`. Knows nothing about timing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::calls::{CONNECTION_DROPPED, RESPONSE_DROPPED, SUCCESS};
use super::errors::ApiError;
use super::faults::Verdict;
use super::service::Service;
use super::{admin, ivs, responses, Emulator};
use crate::service_model::{aws_message, Operation};
use crate::sync::lock;

/// Largest request body accepted (signal requests are long, but not this long).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// An HTTP answer of the emulator.
pub type HttpResponse = Response<Full<Bytes>>;

/// Returned to hyper to close the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub struct ConnectionDropped;

/// Accepts connections on `listener` until `shutdown` fires; open connections
/// are closed when it does.
pub async fn serve(listener: TcpListener, state: Arc<Emulator>, mut shutdown: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Answers are written in pieces: Nagle's algorithm would delay them.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY not set");
                    }
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(state.clone(), req));
                        let io = TokioIo::new(stream);
                        if let Err(e) = auto::Builder::new(TokioExecutor::new()).serve_connection(io, service).await {
                            tracing::debug!(error = %e, "emulator connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "emulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(state: Arc<Emulator>, req: Request<Incoming>) -> Result<HttpResponse, ConnectionDropped> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let err = ApiError::Serialization("The request body is unreadable or too large.".into());
            return Ok(error_response(&request_id, Service::GameLiftStreams, &err));
        }
    };
    let method = parts.method.as_str();
    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix("/_emulator") {
        return Ok(admin::handle(&state, method, rest, &body, &request_id));
    }
    let authorization = parts.headers.get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let service = Service::of_request(authorization, method, path);
    let Some((op, labels)) = service.model().route(method, path) else {
        let name = &service.model().metadata.service_full_name;
        let err = ApiError::UnknownOperation(format!("No {name} operation is {method} {path}."));
        return Ok(error_response(&request_id, service, &err));
    };
    let key = service.call_key(&op.name);
    let arrived = tokio::time::Instant::now();
    let (latency, verdict) = state.faults.decide(&key);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let result = match verdict {
        Verdict::Drop => {
            state.calls.record(&key, CONNECTION_DROPPED, arrived);
            return Err(ConnectionDropped);
        }
        Verdict::Throttle => Err(ApiError::Throttling("Rate exceeded (injected fault).".into())),
        Verdict::InternalError => Err(ApiError::InternalServer("Internal failure (injected fault).".into())),
        Verdict::Fail(ref error) => Err(ApiError::of_type(error, format!("{error} (injected fault)."))
            .unwrap_or_else(|| ApiError::InternalServer("unknown injected error".into()))),
        Verdict::Proceed | Verdict::DropResponse if !state.limits.try_acquire(&key) => {
            Err(ApiError::Throttling(format!("Rate exceeded for {}.", op.name)))
        }
        Verdict::Proceed | Verdict::DropResponse => {
            let query = parts.uri.query().unwrap_or_default();
            call(&state, service, op, &labels, query, &body)
        }
    };
    if verdict == Verdict::DropResponse && result.is_ok() {
        state.calls.record(&key, RESPONSE_DROPPED, arrived);
        return Err(ConnectionDropped);
    }
    let outcome = result.as_ref().map_or_else(ApiError::error_type, |_| SUCCESS);
    state.calls.record(&key, outcome, arrived);
    Ok(match result {
        Ok(output) => success_response(&request_id, op.response_code, output),
        Err(err) => error_response(&request_id, service, &err),
    })
}

fn call(
    state: &Emulator,
    service: Service,
    op: &Operation,
    labels: &HashMap<String, String>,
    query: &str,
    body: &[u8],
) -> Result<Option<Value>, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => object,
            _ => return Err(ApiError::Serialization("The request body is not a JSON object.".into())),
        }
    };
    let model = service.model();
    if service == Service::IvsRealTime && !ivs::responses::IMPLEMENTED.contains(&op.name.as_str()) {
        return Err(ivs::responses::not_implemented(&op.name));
    }
    let input =
        model.input(op, labels, &parse_query(query), body).map_err(|v| ApiError::Validation(aws_message(&v)))?;
    let now = state.clock.now();
    match service {
        Service::GameLiftStreams => responses::dispatch(&mut lock(&state.world), &op.name, &input, now),
        Service::IvsRealTime => {
            let output = ivs::responses::dispatch(&mut lock(&state.ivs), &op.name, &input, now)?;
            Ok(Some(model.render_output(op, output)))
        }
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn base_response(request_id: &str, status: u16) -> hyper::http::response::Builder {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("x-amzn-RequestId", request_id)
}

/// A successful answer: JSON body, or empty for 204 and bodiless outputs.
pub fn success_response(request_id: &str, status: u16, output: Option<Value>) -> HttpResponse {
    let builder = base_response(request_id, status);
    let built = match output.filter(|_| status != 204) {
        Some(value) => {
            builder.header("Content-Type", "application/json").body(Full::new(Bytes::from(value.to_string())))
        }
        None => builder.body(Full::new(Bytes::new())),
    };
    built.unwrap_or_else(|_| fallback())
}

/// An error answer as restJson1 services send it, with `service`'s error body.
pub fn error_response(request_id: &str, service: Service, err: &ApiError) -> HttpResponse {
    base_response(request_id, err.status())
        .header("X-Amzn-ErrorType", err.error_type())
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(service.error_body(&err.to_string()).to_string())))
        .unwrap_or_else(|_| fallback())
}

fn fallback() -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_plus_and_percent() {
        assert_eq!(
            parse_query("Status=ACTIVE&NextToken=a%2Bb+c&Flag"),
            vec![
                ("Status".to_string(), "ACTIVE".to_string()),
                ("NextToken".to_string(), "a+b c".to_string()),
                ("Flag".to_string(), String::new()),
            ]
        );
    }
}
