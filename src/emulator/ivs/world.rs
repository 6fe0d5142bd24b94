//! The IVS Real-Time state machine: stages, participant tokens, stage sessions,
//! participants and their events, and simulated WebRTC clients joining,
//! publishing, subscribing and leaving. A stage session starts when the first
//! participant joins and ends the moment the last one leaves. Knows nothing
//! about HTTP; compositions are in [`super::compositions`].

use std::collections::{BTreeSet, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::compositions::CompositionRecord;
use super::records::*;
use crate::emulator::clock::Time;
use crate::emulator::errors::ApiError;
use crate::emulator::model::WorldConfig;

/// A token's default lifetime, in minutes (AWS: 720, 12 hours).
pub const DEFAULT_TOKEN_MINUTES: i64 = 720;
/// The most participants of one stage that may publish at once (AWS's quota).
pub const MAX_PUBLISHERS: usize = 12;

/// How long compositions take, in simulated seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompositionTimings {
    /// From STARTING to ACTIVE (the world's activation time).
    pub start: f64,
    /// From STOPPING to STOPPED (the world's termination time).
    pub stop: f64,
    /// How long a composition lives on a stage without participants (AWS: one minute).
    pub idle_timeout: f64,
}

pub(super) struct StageRecord {
    pub(super) stage: Stage,
    /// Since when no participant has been connected (`None` while one is).
    pub(super) empty_since: Option<Time>,
}

struct Grant {
    stage_arn: String,
    token: ParticipantToken,
    revoked: bool,
}

struct SessionRecord {
    stage_arn: String,
    session: StageSession,
}

struct ParticipantRecord {
    stage_arn: String,
    session_id: String,
    participant: Participant,
    capabilities: Vec<String>,
    publishing: bool,
    subscriptions: BTreeSet<String>,
    events: Vec<Event>,
}

/// A participant with the stage and session it is in, as the admin API answers.
#[derive(Debug, Clone)]
pub struct Seat {
    /// The stage.
    pub stage_arn: String,
    /// The stage session.
    pub session_id: String,
    /// The participant.
    pub participant: Participant,
}

/// Everything the emulated account holds in IVS Real-Time.
pub struct IvsWorld {
    region: String,
    account_id: String,
    pub(super) timings: CompositionTimings,
    pub(super) stages: Vec<StageRecord>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, String>,
    sessions: Vec<SessionRecord>,
    participants: Vec<ParticipantRecord>,
    pub(super) compositions: Vec<CompositionRecord>,
    pub(super) composition_tokens: HashMap<String, usize>,
    rng: StdRng,
}

impl IvsWorld {
    /// An empty account in the region and account of `config`, whose
    /// compositions take the world's activation and termination times.
    pub fn new(config: &WorldConfig) -> Self {
        Self {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            timings: CompositionTimings {
                start: config.timings.activation,
                stop: config.timings.termination,
                idle_timeout: 60.0,
            },
            stages: Vec::new(),
            grants: HashMap::new(),
            tokens: HashMap::new(),
            sessions: Vec::new(),
            participants: Vec::new(),
            compositions: Vec::new(),
            composition_tokens: HashMap::new(),
            rng: StdRng::from_os_rng(),
        }
    }

    pub(super) fn arn(&self, kind: &str, id: &str) -> String {
        format!("arn:aws:ivs:{}:{}:{kind}/{id}", self.region, self.account_id)
    }

    pub(super) fn random_id(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())])).collect()
    }

    pub(super) fn stage_index(&self, arn: &str) -> Result<usize, ApiError> {
        self.stages
            .iter()
            .position(|s| s.stage.arn == arn)
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Stage not found: {arn}")))
    }

    // ----- stages -----

    /// CreateStage: the stage and a token per configuration.
    pub fn create_stage(
        &mut self,
        name: String,
        tags: StringMap,
        recording: Option<Value>,
        tokens: &[TokenRequest],
        now: Time,
    ) -> (Stage, Vec<ParticipantToken>) {
        let id = self.random_id(12);
        let host = id.to_ascii_lowercase();
        let stage = Stage {
            arn: self.arn("stage", &id),
            name,
            active_session_id: None,
            tags,
            auto_participant_recording_configuration: recording,
            endpoints: StageEndpoints {
                events: "wss://events.ivs-realtime-emulator.invalid".into(),
                whip: format!("https://{host}.whip.ivs-realtime-emulator.invalid"),
                rtmp: format!("rtmp://{host}.contribute.ivs-realtime-emulator.invalid/app/"),
                rtmps: format!("rtmps://{host}.contribute.ivs-realtime-emulator.invalid:443/app/"),
            },
        };
        self.stages.push(StageRecord { stage: stage.clone(), empty_since: Some(now) });
        let issued = tokens.iter().map(|request| self.issue_token(&stage.arn, request, now)).collect();
        (stage, issued)
    }

    /// GetStage.
    pub fn get_stage(&self, arn: &str) -> Result<Stage, ApiError> {
        Ok(self.stages[self.stage_index(arn)?].stage.clone())
    }

    /// ListStages, oldest first.
    pub fn list_stages(&self) -> Vec<Stage> {
        self.stages.iter().map(|s| s.stage.clone()).collect()
    }

    /// UpdateStage: a new name and/or recording configuration.
    pub fn update_stage(
        &mut self,
        arn: &str,
        name: Option<String>,
        recording: Option<Value>,
    ) -> Result<Stage, ApiError> {
        let i = self.stage_index(arn)?;
        let stage = &mut self.stages[i].stage;
        if let Some(name) = name {
            stage.name = name;
        }
        if recording.is_some() {
            stage.auto_participant_recording_configuration = recording;
        }
        Ok(stage.clone())
    }

    /// DeleteStage: disconnects every participant (ending the session), stops
    /// the stage's compositions, and forgets its sessions and participants.
    pub fn delete_stage(&mut self, arn: &str, now: Time) -> Result<(), ApiError> {
        let i = self.stage_index(arn)?;
        let connected: Vec<usize> = (0..self.participants.len())
            .filter(|&p| {
                let r = &self.participants[p];
                r.stage_arn == arn && r.participant.state == ParticipantState::Connected
            })
            .collect();
        for p in connected {
            self.depart(p, now);
        }
        self.stop_compositions_of(arn, now);
        self.stages.remove(i);
        self.sessions.retain(|s| s.stage_arn != arn);
        self.participants.retain(|p| p.stage_arn != arn);
        Ok(())
    }

    // ----- tokens -----

    /// CreateParticipantToken.
    pub fn create_token(
        &mut self,
        stage_arn: &str,
        request: &TokenRequest,
        now: Time,
    ) -> Result<ParticipantToken, ApiError> {
        self.stage_index(stage_arn)?;
        Ok(self.issue_token(stage_arn, request, now))
    }

    fn issue_token(&mut self, stage_arn: &str, request: &TokenRequest, now: Time) -> ParticipantToken {
        let participant_id = self.random_id(12);
        let duration = request.duration.unwrap_or(DEFAULT_TOKEN_MINUTES);
        let capabilities =
            request.capabilities.clone().unwrap_or_else(|| vec!["PUBLISH".to_string(), "SUBSCRIBE".to_string()]);
        let expiration_time = now + duration as f64 * 60.0;
        let claims = json!({
            "jti": participant_id,
            "resource": stage_arn,
            "iat": now.floor(),
            "exp": expiration_time.floor(),
            "capabilities": {
                "allow_publish": capabilities.iter().any(|c| c == "PUBLISH"),
                "allow_subscribe": capabilities.iter().any(|c| c == "SUBSCRIBE"),
            },
        });
        let signature: String = self.random_id(64);
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES384","typ":"JWT","kid":"ivs-realtime-emulator"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        );
        let issued = ParticipantToken {
            participant_id: participant_id.clone(),
            token: token.clone(),
            user_id: request.user_id.clone(),
            attributes: request.attributes.clone(),
            duration,
            capabilities,
            expiration_time,
        };
        self.tokens.insert(token, participant_id.clone());
        self.grants
            .insert(participant_id, Grant { stage_arn: stage_arn.to_string(), token: issued.clone(), revoked: false });
        issued
    }

    // ----- sessions and participants (the API) -----

    /// GetStageSession.
    pub fn get_session(&self, stage_arn: &str, session_id: &str) -> Result<StageSession, ApiError> {
        self.stage_index(stage_arn)?;
        self.sessions
            .iter()
            .find(|s| s.stage_arn == stage_arn && s.session.session_id == session_id)
            .map(|s| s.session.clone())
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Stage session not found: {session_id}")))
    }

    /// ListStageSessions, newest first; none for an unknown stage.
    pub fn list_sessions(&self, stage_arn: &str) -> Vec<StageSession> {
        self.sessions.iter().rev().filter(|s| s.stage_arn == stage_arn).map(|s| s.session.clone()).collect()
    }

    /// GetParticipant.
    pub fn get_participant(&self, stage_arn: &str, session_id: &str, id: &str) -> Result<Participant, ApiError> {
        self.get_session(stage_arn, session_id)?;
        self.participants
            .iter()
            .find(|p| p.stage_arn == stage_arn && p.session_id == session_id && p.participant.participant_id == id)
            .map(|p| p.participant.clone())
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Participant not found: {id}")))
    }

    /// ListParticipants, in the order they first joined; none for an unknown
    /// stage or session.
    pub fn list_participants(&self, stage_arn: &str, session_id: &str) -> Vec<Participant> {
        self.participants
            .iter()
            .filter(|p| p.stage_arn == stage_arn && p.session_id == session_id)
            .map(|p| p.participant.clone())
            .collect()
    }

    /// ListParticipantEvents, in the order they happened; none for an unknown
    /// stage, session or participant.
    pub fn list_events(&self, stage_arn: &str, session_id: &str, id: &str) -> Vec<Event> {
        self.participants
            .iter()
            .filter(|p| p.stage_arn == stage_arn && p.session_id == session_id && p.participant.participant_id == id)
            .flat_map(|p| p.events.iter().cloned())
            .collect()
    }

    /// DisconnectParticipant: revokes the participant's token and, if it is
    /// connected, makes it leave.
    pub fn disconnect_participant(&mut self, stage_arn: &str, id: &str, now: Time) -> Result<(), ApiError> {
        self.stage_index(stage_arn)?;
        let grant = self
            .grants
            .get_mut(id)
            .filter(|g| g.stage_arn == stage_arn)
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Participant not found: {id}")))?;
        grant.revoked = true;
        if let Some(p) = self.connected(id) {
            self.depart(p, now);
        }
        Ok(())
    }

    // ----- simulated clients (the admin API) -----

    /// A client joins with `token`: the stage's session starts if none is
    /// active, and the participant is CONNECTED with a JOINED event. A token
    /// that is unknown, revoked or expired, or whose stage is gone, is refused
    /// (revoked and expired ones with a JOIN_ERROR on the participant's latest
    /// record, if it ever joined).
    pub fn join(&mut self, token: &str, now: Time) -> Result<Seat, ApiError> {
        let refused = |why: &str| ApiError::Validation(format!("The participant token is not valid: {why}."));
        let id = self.tokens.get(token).cloned().ok_or_else(|| refused("unknown token"))?;
        let grant = self.grants.get(&id).ok_or_else(|| refused("unknown token"))?;
        let (stage_arn, revoked, expired) =
            (grant.stage_arn.clone(), grant.revoked, grant.token.expiration_time <= now);
        let stage = self.stage_index(&stage_arn).map_err(|_| refused("its stage was deleted"))?;
        if revoked || expired {
            if let Some(p) = self.latest(&id) {
                self.push_event(p, "JOIN_ERROR", now, None, None);
            }
            return Err(refused(if revoked { "the participant was disconnected" } else { "the token expired" }));
        }
        if self.connected(&id).is_some() {
            return Err(ApiError::Conflict(format!("Participant {id} is already connected.")));
        }
        let session_id = match self.stages[stage].stage.active_session_id.clone() {
            Some(session) => session,
            None => self.start_session(stage, now),
        };
        self.stages[stage].empty_since = None;
        let existing =
            self.participants.iter().position(|p| p.session_id == session_id && p.participant.participant_id == id);
        let p = match existing {
            Some(p) => {
                self.participants[p].participant.state = ParticipantState::Connected;
                p
            }
            None => {
                let grant = &self.grants[&id];
                self.participants.push(ParticipantRecord {
                    stage_arn: stage_arn.clone(),
                    session_id,
                    participant: Participant {
                        participant_id: id.clone(),
                        user_id: grant.token.user_id.clone(),
                        state: ParticipantState::Connected,
                        first_join_time: now,
                        attributes: grant.token.attributes.clone().unwrap_or_default(),
                        published: false,
                        recording_state: "DISABLED",
                    },
                    capabilities: grant.token.capabilities.clone(),
                    publishing: false,
                    subscriptions: BTreeSet::new(),
                    events: Vec::new(),
                });
                self.participants.len() - 1
            }
        };
        self.push_event(p, "JOINED", now, None, None);
        Ok(self.seat(p))
    }

    /// The participant starts publishing: PUBLISH_STARTED, or PUBLISH_ERROR
    /// (INSUFFICIENT_CAPABILITIES without PUBLISH, QUOTA_EXCEEDED when the
    /// stage already has its most publishers). Publishing again is a no-op.
    pub fn publish(&mut self, id: &str, now: Time) -> Result<Seat, ApiError> {
        let p = self.require_connected(id)?;
        let record = &self.participants[p];
        if record.publishing {
            return Ok(self.seat(p));
        }
        let publishers = self
            .participants
            .iter()
            .filter(|o| o.session_id == record.session_id && o.stage_arn == record.stage_arn && o.publishing)
            .count();
        if !record.capabilities.iter().any(|c| c == "PUBLISH") {
            self.push_event(p, "PUBLISH_ERROR", now, None, Some("INSUFFICIENT_CAPABILITIES"));
        } else if publishers >= MAX_PUBLISHERS {
            self.push_event(p, "PUBLISH_ERROR", now, None, Some("QUOTA_EXCEEDED"));
        } else {
            let record = &mut self.participants[p];
            record.publishing = true;
            record.participant.published = true;
            self.push_event(p, "PUBLISH_STARTED", now, None, None);
        }
        Ok(self.seat(p))
    }

    /// The participant stops publishing: PUBLISH_STOPPED, and SUBSCRIBE_STOPPED
    /// for each of its subscribers. `published` stays true (AWS: "whether the
    /// participant ever published"). A no-op when it is not publishing.
    pub fn unpublish(&mut self, id: &str, now: Time) -> Result<Seat, ApiError> {
        let p = self.require_connected(id)?;
        self.stop_publishing(p, now);
        Ok(self.seat(p))
    }

    /// The participant subscribes to `remote`: SUBSCRIBE_STARTED, or
    /// SUBSCRIBE_ERROR (INSUFFICIENT_CAPABILITIES without SUBSCRIBE,
    /// PUBLISHER_NOT_FOUND when `remote` is not publishing in the session).
    pub fn subscribe(&mut self, id: &str, remote: &str, now: Time) -> Result<Seat, ApiError> {
        let p = self.require_connected(id)?;
        let record = &self.participants[p];
        if record.subscriptions.contains(remote) {
            return Ok(self.seat(p));
        }
        let found = self.participants.iter().any(|o| {
            o.stage_arn == record.stage_arn
                && o.session_id == record.session_id
                && o.participant.participant_id == remote
                && o.publishing
        });
        let remote_id = Some(remote.to_string());
        if !record.capabilities.iter().any(|c| c == "SUBSCRIBE") {
            self.push_event(p, "SUBSCRIBE_ERROR", now, remote_id, Some("INSUFFICIENT_CAPABILITIES"));
        } else if !found || remote == id {
            self.push_event(p, "SUBSCRIBE_ERROR", now, remote_id, Some("PUBLISHER_NOT_FOUND"));
        } else {
            self.participants[p].subscriptions.insert(remote.to_string());
            self.push_event(p, "SUBSCRIBE_STARTED", now, remote_id, None);
        }
        Ok(self.seat(p))
    }

    /// The participant stops its subscription to `remote`: SUBSCRIBE_STOPPED
    /// (a no-op without one).
    pub fn unsubscribe(&mut self, id: &str, remote: &str, now: Time) -> Result<Seat, ApiError> {
        let p = self.require_connected(id)?;
        if self.participants[p].subscriptions.remove(remote) {
            self.push_event(p, "SUBSCRIBE_STOPPED", now, Some(remote.to_string()), None);
        }
        Ok(self.seat(p))
    }

    /// The client leaves: its subscriptions and publication stop, LEFT, and
    /// the session ends if it was the last one connected.
    pub fn leave(&mut self, id: &str, now: Time) -> Result<Seat, ApiError> {
        let p = self.require_connected(id)?;
        self.depart(p, now);
        Ok(self.seat(p))
    }

    /// Records an error event the client met: `name` is PUBLISH_ERROR,
    /// SUBSCRIBE_ERROR or JOIN_ERROR, on the participant's current (or, if it is
    /// not connected, latest) record.
    pub fn client_error(&mut self, id: &str, name: &str, code: Option<&str>, now: Time) -> Result<Seat, ApiError> {
        let p = self.connected(id).or_else(|| self.latest(id)).ok_or_else(|| self.no_participant(id))?;
        self.push_event(p, name, now, None, code);
        Ok(self.seat(p))
    }

    // ----- internals -----

    fn start_session(&mut self, stage: usize, now: Time) -> String {
        let session_id = format!("st-{}", self.random_id(13));
        let stage_arn = self.stages[stage].stage.arn.clone();
        self.sessions.push(SessionRecord {
            stage_arn,
            session: StageSession { session_id: session_id.clone(), start_time: now, end_time: None },
        });
        self.stages[stage].stage.active_session_id = Some(session_id.clone());
        session_id
    }

    fn connected(&self, id: &str) -> Option<usize> {
        self.participants
            .iter()
            .position(|p| p.participant.participant_id == id && p.participant.state == ParticipantState::Connected)
    }

    fn latest(&self, id: &str) -> Option<usize> {
        self.participants.iter().rposition(|p| p.participant.participant_id == id)
    }

    fn no_participant(&self, id: &str) -> ApiError {
        ApiError::ResourceNotFound(format!("Participant not found: {id}"))
    }

    fn require_connected(&self, id: &str) -> Result<usize, ApiError> {
        match self.connected(id) {
            Some(p) => Ok(p),
            None if self.latest(id).is_some() => Err(ApiError::Conflict(format!("Participant {id} is not connected."))),
            None => Err(self.no_participant(id)),
        }
    }

    fn seat(&self, p: usize) -> Seat {
        let r = &self.participants[p];
        Seat { stage_arn: r.stage_arn.clone(), session_id: r.session_id.clone(), participant: r.participant.clone() }
    }

    fn push_event(&mut self, p: usize, name: &str, now: Time, remote: Option<String>, code: Option<&str>) {
        let record = &mut self.participants[p];
        record.events.push(Event {
            name: name.to_string(),
            participant_id: record.participant.participant_id.clone(),
            event_time: now,
            remote_participant_id: remote,
            error_code: code.map(str::to_string),
        });
    }

    fn stop_publishing(&mut self, p: usize, now: Time) {
        if !self.participants[p].publishing {
            return;
        }
        self.participants[p].publishing = false;
        self.push_event(p, "PUBLISH_STOPPED", now, None, None);
        let (stage_arn, session_id, id) = {
            let r = &self.participants[p];
            (r.stage_arn.clone(), r.session_id.clone(), r.participant.participant_id.clone())
        };
        for s in 0..self.participants.len() {
            let sub = &mut self.participants[s];
            if sub.stage_arn == stage_arn && sub.session_id == session_id && sub.subscriptions.remove(&id) {
                self.push_event(s, "SUBSCRIBE_STOPPED", now, Some(id.clone()), None);
            }
        }
    }

    fn depart(&mut self, p: usize, now: Time) {
        for remote in std::mem::take(&mut self.participants[p].subscriptions) {
            self.push_event(p, "SUBSCRIBE_STOPPED", now, Some(remote), None);
        }
        self.stop_publishing(p, now);
        self.participants[p].participant.state = ParticipantState::Disconnected;
        self.push_event(p, "LEFT", now, None, None);
        let (stage_arn, session_id) = (self.participants[p].stage_arn.clone(), self.participants[p].session_id.clone());
        let anyone_left = self.participants.iter().any(|o| {
            o.stage_arn == stage_arn && o.session_id == session_id && o.participant.state == ParticipantState::Connected
        });
        if anyone_left {
            return;
        }
        if let Some(s) =
            self.sessions.iter_mut().find(|s| s.stage_arn == stage_arn && s.session.session_id == session_id)
        {
            s.session.end_time = Some(now);
        }
        if let Some(stage) = self.stages.iter_mut().find(|s| s.stage.arn == stage_arn) {
            stage.stage.active_session_id = None;
            stage.empty_since = Some(now);
        }
    }
}
