//! The emulator's admin API under `/_emulator`, for tests and demos: call
//! counts and per-second peaks, the sessions StartStreamSession's ClientTokens
//! made, fault rules, rate limits, the simulated clock, a simulated WebRTC
//! client of GameLift Streams, and (under `/_emulator/ivs`, [`super::ivs::admin`])
//! simulated IVS Real-Time participants. Answers JSON; errors use GameLift
//! Streams' error shape, IVS Real-Time's under `/_emulator/ivs`.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::errors::ApiError;
use super::faults::FaultRule;
use super::routes::{error_response, success_response, HttpResponse};
use super::service::{is_call_key, Service};
use super::{ivs, Emulator};
use crate::sync::lock;

/// Answers one admin call; `path` is what follows `/_emulator`.
pub fn handle(state: &Emulator, method: &str, path: &str, body: &[u8], request_id: &str) -> HttpResponse {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let ["ivs", rest @ ..] = segments.as_slice() {
        let now = state.clock.now();
        if let Some(answer) = ivs::admin::route(&mut lock(&state.ivs), method, rest, body, now) {
            return match answer {
                Ok(value) => success_response(request_id, 200, Some(value)),
                Err(err) => error_response(request_id, Service::IvsRealTime, &err),
            };
        }
    }
    match route(state, method, &segments, body) {
        Ok((status, value)) => success_response(request_id, status, Some(value)),
        Err(err) => error_response(request_id, Service::GameLiftStreams, &err),
    }
}

fn route(state: &Emulator, method: &str, segments: &[&str], body: &[u8]) -> Result<(u16, Value), ApiError> {
    match (method, segments) {
        ("GET", ["health"]) => Ok((200, json!({ "status": "ok" }))),
        ("GET", ["calls"]) => Ok((200, json!(state.calls.snapshot()))),
        ("GET", ["calls", "peaks"]) => Ok((200, json!(state.calls.peaks()))),
        ("GET", ["client-tokens"]) => Ok((200, json!(lock(&state.world).start_tokens()))),
        ("DELETE", ["calls"]) => {
            state.calls.reset();
            Ok((200, json!({})))
        }
        ("POST", ["faults"]) => {
            let rule: FaultRule = body_json(body)?;
            if let Some(op) = rule.operation.as_deref() {
                known_operation(op)?;
            }
            let id = state.faults.add(rule).map_err(ApiError::Validation)?;
            Ok((201, json!({ "id": id })))
        }
        ("GET", ["faults"]) => Ok((200, json!(state.faults.list()))),
        ("DELETE", ["faults"]) => {
            state.faults.clear();
            Ok((200, json!({})))
        }
        ("PUT", ["rate-limits"]) => {
            let limits: HashMap<String, Option<f64>> = body_json(body)?;
            for (op, rate) in &limits {
                known_operation(op)?;
                if rate.is_some_and(|r| !r.is_finite() || r <= 0.0) {
                    return Err(ApiError::Validation(format!("the rate of {op} must be a positive number or null")));
                }
            }
            for (op, rate) in limits {
                state.limits.set(&op, rate);
            }
            Ok((200, json!({})))
        }
        ("POST", ["clock", "advance"]) => {
            let seconds = body_json::<Value>(body)?
                .get("seconds")
                .and_then(Value::as_f64)
                .ok_or_else(|| ApiError::Validation("seconds must be a number >= 0".into()))?;
            let now = state.clock.advance(seconds).map_err(ApiError::Validation)?;
            Ok((200, json!({ "now": now })))
        }
        ("POST", ["sessions", id, action @ ("connect" | "disconnect")]) => {
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned();
            let mut world = lock(&state.world);
            let now = state.clock.now();
            let session = if *action == "connect" {
                world.client_connect(&id, now)?
            } else {
                world.client_disconnect(&id, now)?
            };
            Ok((200, serde_json::to_value(session).unwrap_or(Value::Null)))
        }
        _ => Err(ApiError::UnknownOperation(format!(
            "No emulator admin call is {method} /_emulator/{}.",
            segments.join("/")
        ))),
    }
}

fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Validation(format!("invalid JSON body: {e}")))
}

fn known_operation(op: &str) -> Result<(), ApiError> {
    if is_call_key(op) {
        Ok(())
    } else {
        Err(ApiError::Validation(format!(
            "{op} is not an operation of GameLift Streams or IVS Real-Time (IVS's tag operations are ivs-realtime:TagResource, ...)"
        )))
    }
}
