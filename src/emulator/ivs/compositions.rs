//! Compositions of the IVS Real-Time emulator: STARTING → ACTIVE after the
//! start time, STOPPING → STOPPED after the stop time, stopped by
//! StopComposition, by the deletion of their stage, or one minute after their
//! stage was last left empty (AWS's idle timeout). States are computed from the
//! record's times, so reads at any simulated time agree. Knows nothing about HTTP.

use serde_json::{json, Value};

use super::records::{Composition, CompositionState, Destination, StringMap};
use super::world::IvsWorld;
use crate::emulator::clock::Time;
use crate::emulator::errors::ApiError;

/// What StartComposition asks for (besides its stage and token).
#[derive(Debug, Clone, PartialEq)]
pub struct CompositionRequest {
    /// `LayoutConfiguration`, as given (`{}` when none).
    pub layout: Value,
    /// `DestinationConfiguration`s, as given.
    pub destinations: Vec<Value>,
    /// Tags.
    pub tags: StringMap,
}

pub(super) struct CompositionRecord {
    id: String,
    arn: String,
    stage_arn: String,
    request: CompositionRequest,
    destination_ids: Vec<String>,
    started: Time,
    stop_at: Option<Time>,
}

impl IvsWorld {
    /// Applies what happened by `now` without a call: compositions idle past
    /// the timeout on an empty stage begin to stop at their deadline.
    pub fn advance(&mut self, now: Time) {
        let timeout = self.timings.idle_timeout;
        for i in 0..self.compositions.len() {
            let c = &self.compositions[i];
            if c.stop_at.is_some() {
                continue;
            }
            let empty_since = self.stages.iter().find(|s| s.stage.arn == c.stage_arn).and_then(|s| s.empty_since);
            if let Some(deadline) = empty_since.map(|e| e.max(c.started) + timeout).filter(|d| *d <= now) {
                self.compositions[i].stop_at = Some(deadline);
            }
        }
    }

    /// StartComposition: a composition of the stage, or the one an earlier
    /// call with the same idempotency token made (ConflictException if that
    /// call asked for something else).
    pub fn start_composition(
        &mut self,
        stage_arn: &str,
        token: Option<&str>,
        request: CompositionRequest,
        now: Time,
    ) -> Result<Composition, ApiError> {
        if let Some(&i) = token.and_then(|t| self.composition_tokens.get(t)) {
            let earlier = &self.compositions[i];
            if earlier.stage_arn != stage_arn || earlier.request != request {
                return Err(ApiError::Conflict("The idempotencyToken was used with different parameters.".into()));
            }
            return Ok(self.composition_view(i, now));
        }
        self.stage_index(stage_arn)?;
        for d in &request.destinations {
            if usize::from(d.get("channel").is_some()) + usize::from(d.get("s3").is_some()) != 1 {
                return Err(ApiError::Validation("Each destination must have exactly one of channel or s3.".into()));
            }
        }
        let id = self.random_id(12);
        let destination_ids = request.destinations.iter().map(|_| self.random_id(12)).collect();
        self.compositions.push(CompositionRecord {
            arn: self.arn("composition", &id),
            id,
            stage_arn: stage_arn.to_string(),
            request,
            destination_ids,
            started: now,
            stop_at: None,
        });
        let i = self.compositions.len() - 1;
        if let Some(t) = token {
            self.composition_tokens.insert(t.to_string(), i);
        }
        Ok(self.composition_view(i, now))
    }

    /// StopComposition: STOPPING now, STOPPED after the stop time; a no-op on
    /// one already stopping or stopped.
    pub fn stop_composition(&mut self, arn: &str, now: Time) -> Result<(), ApiError> {
        let i = self.composition_index(arn)?;
        let record = &mut self.compositions[i];
        record.stop_at = record.stop_at.or(Some(now));
        Ok(())
    }

    /// GetComposition.
    pub fn get_composition(&self, arn: &str, now: Time) -> Result<Composition, ApiError> {
        Ok(self.composition_view(self.composition_index(arn)?, now))
    }

    /// ListCompositions, oldest first, of one stage and/or using one encoder
    /// configuration when asked.
    pub fn list_compositions(&self, stage_arn: Option<&str>, encoder: Option<&str>, now: Time) -> Vec<Composition> {
        (0..self.compositions.len())
            .filter(|&i| stage_arn.is_none_or(|s| self.compositions[i].stage_arn == s))
            .filter(|&i| encoder.is_none_or(|e| self.compositions[i].request.destinations.iter().any(|d| uses(d, e))))
            .map(|i| self.composition_view(i, now))
            .collect()
    }

    pub(super) fn stop_compositions_of(&mut self, stage_arn: &str, now: Time) {
        for c in self.compositions.iter_mut().filter(|c| c.stage_arn == stage_arn) {
            c.stop_at = c.stop_at.or(Some(now));
        }
    }

    fn composition_index(&self, arn: &str) -> Result<usize, ApiError> {
        self.compositions
            .iter()
            .position(|c| c.arn == arn)
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Composition not found: {arn}")))
    }

    fn composition_view(&self, i: usize, now: Time) -> Composition {
        let c = &self.compositions[i];
        let active_at = c.started + self.timings.start;
        let stopped_at = c.stop_at.map(|s| s + self.timings.stop);
        let state = match (c.stop_at, stopped_at) {
            (_, Some(end)) if now >= end => CompositionState::Stopped,
            (Some(_), _) => CompositionState::Stopping,
            _ if now >= active_at => CompositionState::Active,
            _ => CompositionState::Starting,
        };
        let was_active = c.stop_at.map_or(now >= active_at, |s| s >= active_at);
        let end_time = stopped_at.filter(|_| state == CompositionState::Stopped);
        let destinations = c
            .request
            .destinations
            .iter()
            .zip(&c.destination_ids)
            .map(|(configuration, id)| Destination {
                id: id.clone(),
                state,
                start_time: was_active.then_some(active_at),
                end_time,
                configuration: configuration.clone(),
                detail: configuration
                    .get("s3")
                    .map(|_| json!({ "s3": { "recordingPrefix": format!("{}/{id}", c.id) } })),
            })
            .collect();
        Composition {
            arn: c.arn.clone(),
            stage_arn: c.stage_arn.clone(),
            state,
            layout: c.request.layout.clone(),
            destinations,
            tags: c.request.tags.clone(),
            start_time: c.started,
            end_time,
        }
    }
}

/// Whether a destination configuration uses the encoder configuration `arn`.
fn uses(destination: &Value, arn: &str) -> bool {
    let channel = destination.pointer("/channel/encoderConfigurationArn").and_then(Value::as_str) == Some(arn);
    let s3 = destination
        .pointer("/s3/encoderConfigurationArns")
        .and_then(Value::as_array)
        .is_some_and(|arns| arns.iter().any(|a| a.as_str() == Some(arn)));
    channel || s3
}
