//! The emulator's state machine: stream groups, applications and stream
//! sessions, capacity per location, ClientTokens, and every timed transition of
//! the session lifecycle, applied in time order from the simulated clock. Knows
//! nothing about HTTP; the records it keeps are the service's own shapes
//! ([`shapes`]). Longer than 400 lines for a reason: `World` is one state
//! machine, and its operations share its invariants (capacity, tokens, the
//! event order); splitting them would spread each invariant over files.

mod shapes;

pub use shapes::*;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::clock::Time;
use super::errors::ApiError;

/// The signal request that starts a session with no client attached.
pub const NO_CLIENT_CONNECTION: &str = "NO_CLIENT_CONNECTION";

/// How long the simulated service takes for each step, in simulated seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// From placement to ACTIVE.
    pub activation: f64,
    /// How long a session waits for capacity before ERROR `placementTimeout`.
    pub placement_timeout: f64,
    /// From RECONNECTING to ACTIVE.
    pub reconnect: f64,
    /// From TERMINATING to TERMINATED.
    pub termination: f64,
    /// From creation to ACTIVE (stream groups) or READY (applications).
    pub provisioning: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Self { activation: 5.0, placement_timeout: 75.0, reconnect: 1.0, termination: 2.0, provisioning: 30.0 }
    }
}

/// What the world is seeded with and how it behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Region in ARNs, and the seeded stream group's location.
    pub region: String,
    /// Account in ARNs.
    pub account_id: String,
    /// Stream capacity of the seeded stream group, per location.
    pub capacity: Vec<(String, u32)>,
    /// Step durations.
    pub timings: Timings,
}

/// ID of the stream group a fresh emulator holds.
pub const SEEDED_STREAM_GROUP_ID: &str = "sg-000000001";
/// ID of the application a fresh emulator holds.
pub const SEEDED_APPLICATION_ID: &str = "a-000000001";

/// Everything the emulated account holds.
pub struct World {
    config: WorldConfig,
    groups: Vec<StreamGroup>,
    apps: Vec<Application>,
    sessions: Vec<StreamSession>,
    session_index: HashMap<String, usize>,
    live: BTreeSet<usize>,
    waiting: VecDeque<usize>,
    start_tokens: HashMap<String, (String, StartSession, usize)>,
    connection_tokens: HashMap<String, (usize, String, String)>,
    create_tokens: HashMap<String, String>,
    rng: StdRng,
    signals: u64,
}

impl World {
    /// A world holding the seeded stream group and application, at time `now`.
    pub fn new(config: WorldConfig, now: Time) -> Self {
        let mut world = Self {
            groups: Vec::new(),
            apps: Vec::new(),
            sessions: Vec::new(),
            session_index: HashMap::new(),
            live: BTreeSet::new(),
            waiting: VecDeque::new(),
            start_tokens: HashMap::new(),
            connection_tokens: HashMap::new(),
            create_tokens: HashMap::new(),
            rng: StdRng::from_os_rng(),
            signals: 0,
            config,
        };
        world.seed(now);
        world
    }

    fn seed(&mut self, now: Time) {
        let app_arn = self.arn("application", SEEDED_APPLICATION_ID);
        let group_arn = self.arn("streamgroup", SEEDED_STREAM_GROUP_ID);
        let region = self.config.region.clone();
        self.apps.push(Application {
            arn: app_arn.clone(),
            id: SEEDED_APPLICATION_ID.into(),
            description: "emulator default application".into(),
            runtime_environment: RuntimeEnvironment { kind: "PROTON".into(), version: "20241007".into() },
            executable_path: "game/game.exe".into(),
            application_source_uri: "s3://emulator-bucket/game".into(),
            application_log_paths: Vec::new(),
            application_log_output_uri: None,
            status: "READY".into(),
            replication_statuses: vec![ReplicationStatus { location: region, status: "COMPLETED".into() }],
            created_at: now,
            last_updated_at: now,
            associated_stream_groups: vec![group_arn.clone()],
            ready_at: now,
        });
        let locations =
            self.config.capacity.iter().map(|(name, capacity)| location_state(name, *capacity, "ACTIVE")).collect();
        self.groups.push(StreamGroup {
            arn: group_arn,
            id: SEEDED_STREAM_GROUP_ID.into(),
            description: "emulator default stream group".into(),
            default_application: Some(DefaultApplication { id: SEEDED_APPLICATION_ID.into(), arn: app_arn.clone() }),
            location_states: locations,
            stream_class: "gen4n_high".into(),
            status: "ACTIVE".into(),
            created_at: now,
            last_updated_at: now,
            associated_applications: vec![app_arn],
            ready_at: now,
        });
    }

    fn arn(&self, kind: &str, id: &str) -> String {
        format!("arn:aws:gameliftstreams:{}:{}:{kind}/{id}", self.config.region, self.config.account_id)
    }

    fn random_id(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())])).collect()
    }

    fn new_signal_response(&mut self, session_id: &str) -> String {
        self.signals += 1;
        format!(
            "{{\"type\":\"answer\",\"sdp\":\"v=0\\r\\no=- {} 2 IN IP4 127.0.0.1\\r\\ns=gameliftstreams-emulator {session_id}\\r\\n\"}}",
            self.signals
        )
    }

    // ----- time -----

    /// Applies every transition due at or before `now`, in time order.
    pub fn advance(&mut self, now: Time) {
        for group in self.groups.iter_mut().filter(|g| g.status == "ACTIVATING" && g.ready_at <= now) {
            group.status = "ACTIVE".into();
            group.last_updated_at = group.ready_at;
            for loc in &mut group.location_states {
                loc.status = "ACTIVE".into();
            }
        }
        for app in self.apps.iter_mut().filter(|a| a.status == "PROCESSING" && a.ready_at <= now) {
            app.status = "READY".into();
            app.last_updated_at = app.ready_at;
            for r in &mut app.replication_statuses {
                r.status = "COMPLETED".into();
            }
        }
        while let Some((at, idx)) = self.next_due(now) {
            self.fire(idx, at);
        }
    }

    fn next_due(&self, now: Time) -> Option<(Time, usize)> {
        self.live
            .iter()
            .filter_map(|&i| next_event(&self.sessions[i]).map(|t| (t, i)))
            .filter(|(t, _)| *t <= now)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
    }

    fn fire(&mut self, idx: usize, at: Time) {
        let s = &self.sessions[idx];
        let length_due = s.ends_at.is_some_and(|e| s.deadline.is_none_or(|d| e <= d)) && s.status.is_running();
        if length_due {
            return self.begin_termination(idx, at, StatusReason::MaxSessionLengthTimeout);
        }
        match s.status {
            SessionStatus::Activating if s.placed => self.become_active(idx, at),
            SessionStatus::Activating => {
                self.waiting.retain(|&w| w != idx);
                self.set_status(idx, at, SessionStatus::Error, Some(StatusReason::PlacementTimeout));
                self.sessions[idx].deadline = None;
                self.live.remove(&idx);
            }
            SessionStatus::Active => self.begin_termination(idx, at, StatusReason::ConnectionTimeout),
            SessionStatus::PendingClientReconnection => {
                self.begin_termination(idx, at, StatusReason::ReconnectionTimeout)
            }
            SessionStatus::Reconnecting => self.become_active(idx, at),
            SessionStatus::Terminating => self.finish_termination(idx, at),
            SessionStatus::Connected | SessionStatus::Terminated | SessionStatus::Error => {
                self.sessions[idx].deadline = None;
                self.live.remove(&idx);
            }
        }
    }

    fn set_status(&mut self, idx: usize, at: Time, status: SessionStatus, reason: Option<StatusReason>) {
        let s = &mut self.sessions[idx];
        s.status = status;
        s.status_reason = reason;
        s.last_updated_at = at;
    }

    fn become_active(&mut self, idx: usize, at: Time) {
        self.set_status(idx, at, SessionStatus::Active, None);
        let needs_signal = {
            let s = &self.sessions[idx];
            s.signal_response.is_none() && s.signal_request != NO_CLIENT_CONNECTION
        };
        if needs_signal {
            let id = self.sessions[idx].id.clone();
            self.sessions[idx].signal_response = Some(self.new_signal_response(&id));
        }
        let s = &mut self.sessions[idx];
        s.deadline = Some(at + f64::from(s.connection_timeout_seconds));
        if s.application_started_at.is_none() {
            s.application_started_at = Some(at);
            s.ends_at = Some(at + f64::from(s.session_length_seconds));
        }
    }

    fn begin_termination(&mut self, idx: usize, at: Time, reason: StatusReason) {
        self.set_status(idx, at, SessionStatus::Terminating, Some(reason));
        self.sessions[idx].deadline = Some(at + self.config.timings.termination);
        self.sessions[idx].ends_at = None;
    }

    fn finish_termination(&mut self, idx: usize, at: Time) {
        let reason = self.sessions[idx].status_reason;
        self.set_status(idx, at, SessionStatus::Terminated, reason);
        let s = &mut self.sessions[idx];
        s.deadline = None;
        s.streaming_ended_at = Some(at);
        if let Some(export) = s.export_files_metadata.as_mut() {
            export.status = ExportStatus::Succeeded;
        }
        self.live.remove(&idx);
        self.release(idx, at);
    }

    // ----- capacity -----

    fn location_mut(&mut self, group_id: &str, location: &str) -> Option<&mut LocationState> {
        self.groups
            .iter_mut()
            .find(|g| g.id == group_id)?
            .location_states
            .iter_mut()
            .find(|l| l.location_name == location)
    }

    fn try_place(&mut self, idx: usize, at: Time) -> bool {
        let (group_id, candidates) = {
            let s = &self.sessions[idx];
            (s.stream_group_id.clone(), s.candidates.clone())
        };
        for location in candidates {
            let Some(state) = self.location_mut(&group_id, &location) else {
                continue;
            };
            if state.in_use < state.allocated_capacity {
                state.in_use += 1;
                state.idle_capacity = state.allocated_capacity - state.in_use;
                let activation = self.config.timings.activation;
                let s = &mut self.sessions[idx];
                s.location = Some(location);
                s.placed = true;
                s.deadline = Some(at + activation);
                return true;
            }
        }
        false
    }

    fn release(&mut self, idx: usize, at: Time) {
        let s = &self.sessions[idx];
        let (group_id, Some(location)) = (s.stream_group_id.clone(), s.location.clone()) else {
            return;
        };
        if let Some(state) = self.location_mut(&group_id, &location) {
            state.in_use = state.in_use.saturating_sub(1);
            state.idle_capacity = state.allocated_capacity - state.in_use;
        }
        let queued: Vec<usize> = self.waiting.iter().copied().collect();
        for w in queued {
            if self.try_place(w, at) {
                self.waiting.retain(|&x| x != w);
            }
        }
    }

    // ----- lookups -----

    fn id_from(&self, identifier: &str, kind: &str) -> Option<String> {
        let Some(rest) = identifier.strip_prefix("arn:aws:gameliftstreams:") else {
            return Some(identifier.to_string());
        };
        let prefix = format!("{}:{}:{kind}/", self.config.region, self.config.account_id);
        rest.strip_prefix(&prefix).map(str::to_string)
    }

    fn group_index(&self, identifier: &str) -> Result<usize, ApiError> {
        self.id_from(identifier, "streamgroup")
            .and_then(|id| self.groups.iter().position(|g| g.id == id))
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Stream group '{identifier}' was not found.")))
    }

    fn app_index(&self, identifier: &str) -> Result<usize, ApiError> {
        self.id_from(identifier, "application")
            .and_then(|id| self.apps.iter().position(|a| a.id == id))
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Application '{identifier}' was not found.")))
    }

    /// A session by ID or ARN, in any stream group.
    fn any_session_index(&self, identifier: &str) -> Result<usize, ApiError> {
        let id = match self.id_from(identifier, "streamsession") {
            Some(path) => path.rsplit('/').next().map(str::to_string),
            None => None,
        };
        id.and_then(|id| self.session_index.get(&id).copied())
            .filter(|&i| identifier == self.sessions[i].id || identifier == self.sessions[i].arn)
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Stream session '{identifier}' was not found.")))
    }

    fn session_index(&self, group: &str, session: &str) -> Result<usize, ApiError> {
        let g = self.group_index(group)?;
        let idx = self.any_session_index(session)?;
        if self.sessions[idx].stream_group_id != self.groups[g].id {
            return Err(ApiError::ResourceNotFound(format!(
                "Stream session '{session}' was not found in stream group '{group}'."
            )));
        }
        Ok(idx)
    }

    // ----- stream sessions -----

    /// StartStreamSession.
    pub fn start_session(
        &mut self,
        group: &str,
        req: StartSession,
        client_token: Option<String>,
        now: Time,
    ) -> Result<StreamSession, ApiError> {
        self.advance(now);
        if let Some((token_group, first, idx)) = client_token.as_ref().and_then(|t| self.start_tokens.get(t)) {
            if *first == req && token_group == group {
                return Ok(self.sessions[*idx].clone());
            }
            return Err(ApiError::Conflict(
                "ClientToken was already used for a StartStreamSession request with different parameters.".into(),
            ));
        }
        let g = self.group_index(group)?;
        if self.groups[g].status != "ACTIVE" {
            return Err(ApiError::Conflict(format!(
                "Stream group '{}' is {}; sessions start only in an ACTIVE stream group.",
                self.groups[g].id, self.groups[g].status
            )));
        }
        let a = self.app_index(&req.application_identifier)?;
        let app_arn = self.apps[a].arn.clone();
        if !self.groups[g].associated_applications.contains(&app_arn) {
            return Err(ApiError::Validation(format!(
                "Application '{}' is not associated with stream group '{}'.",
                self.apps[a].id, self.groups[g].id
            )));
        }
        let group_locations: Vec<String> =
            self.groups[g].location_states.iter().map(|l| l.location_name.clone()).collect();
        let candidates = if req.locations.is_empty() {
            group_locations.iter().take(1).cloned().collect()
        } else {
            if let Some(bad) = req.locations.iter().find(|l| !group_locations.contains(l)) {
                return Err(ApiError::Validation(format!(
                    "Location '{bad}' is not a location of stream group '{}'.",
                    self.groups[g].id
                )));
            }
            req.locations.clone()
        };
        let id = self.random_id(13);
        let group_id = self.groups[g].id.clone();
        let session = StreamSession {
            arn: self.arn("streamsession", &format!("{group_id}/{id}")),
            description: req.description.clone(),
            stream_group_id: group_id,
            user_id: req.user_id.clone(),
            status: SessionStatus::Activating,
            status_reason: None,
            protocol: req.protocol.clone(),
            location: None,
            signal_request: req.signal_request.clone(),
            signal_response: None,
            connection_timeout_seconds: req.connection_timeout_seconds.unwrap_or(120),
            session_length_seconds: req.session_length_seconds.unwrap_or(43_200),
            additional_launch_args: req.additional_launch_args.clone(),
            additional_environment_variables: req.additional_environment_variables.clone(),
            performance_stats_configuration: req.performance_stats_configuration.clone(),
            last_updated_at: now,
            created_at: now,
            application_arn: app_arn,
            export_files_metadata: None,
            role_arn: req.role_arn.clone(),
            display_configuration: req.display_configuration.clone(),
            application_started_at: None,
            streaming_started_at: None,
            streaming_ended_at: None,
            id: id.clone(),
            candidates,
            placed: false,
            deadline: None,
            ends_at: None,
        };
        let idx = self.sessions.len();
        self.sessions.push(session);
        self.session_index.insert(id, idx);
        self.live.insert(idx);
        if !self.try_place(idx, now) {
            self.sessions[idx].deadline = Some(now + self.config.timings.placement_timeout);
            self.waiting.push_back(idx);
        }
        if let Some(token) = client_token {
            self.start_tokens.insert(token, (group.to_string(), req, idx));
        }
        Ok(self.sessions[idx].clone())
    }

    /// Which ClientToken of StartStreamSession made which session: token → ARN.
    pub fn start_tokens(&self) -> BTreeMap<String, String> {
        self.start_tokens.iter().map(|(token, (_, _, idx))| (token.clone(), self.sessions[*idx].arn.clone())).collect()
    }

    /// GetStreamSession.
    pub fn get_session(&mut self, group: &str, session: &str, now: Time) -> Result<StreamSession, ApiError> {
        self.advance(now);
        let idx = self.session_index(group, session)?;
        Ok(self.sessions[idx].clone())
    }

    /// ListStreamSessions and ListStreamSessionsByAccount, oldest first.
    pub fn list_sessions(&mut self, filter: &SessionFilter, now: Time) -> Result<Vec<StreamSession>, ApiError> {
        self.advance(now);
        let group_id = match &filter.stream_group {
            Some(g) => Some(self.groups[self.group_index(g)?].id.clone()),
            None => None,
        };
        Ok(self
            .sessions
            .iter()
            .filter(|s| group_id.as_ref().is_none_or(|g| *g == s.stream_group_id))
            .filter(|s| filter.status.is_none_or(|st| st == s.status))
            .filter(|s| {
                filter.export_status.is_none_or(|st| s.export_files_metadata.as_ref().is_some_and(|e| e.status == st))
            })
            .cloned()
            .collect())
    }

    /// TerminateStreamSession.
    pub fn terminate_session(&mut self, group: &str, session: &str, now: Time) -> Result<(), ApiError> {
        self.advance(now);
        let idx = self.session_index(group, session)?;
        match self.sessions[idx].status {
            SessionStatus::Activating => Err(ApiError::Validation(format!(
                "Stream session '{}' is ACTIVATING and cannot be terminated yet.",
                self.sessions[idx].id
            ))),
            SessionStatus::Terminating | SessionStatus::Terminated | SessionStatus::Error => Ok(()),
            _ => {
                self.begin_termination(idx, now, StatusReason::ApiTerminated);
                Ok(())
            }
        }
    }

    /// CreateStreamSessionConnection: returns the new signal response.
    pub fn create_connection(
        &mut self,
        group: &str,
        session: &str,
        signal_request: &str,
        client_token: Option<String>,
        now: Time,
    ) -> Result<String, ApiError> {
        self.advance(now);
        let idx = self.session_index(group, session)?;
        if let Some((first_idx, first_signal, response)) =
            client_token.as_ref().and_then(|t| self.connection_tokens.get(t))
        {
            if *first_idx == idx && first_signal == signal_request {
                return Ok(response.clone());
            }
            return Err(ApiError::Conflict(
                "ClientToken was already used for a CreateStreamSessionConnection request with different parameters."
                    .into(),
            ));
        }
        let s = &self.sessions[idx];
        if !matches!(s.status, SessionStatus::Active | SessionStatus::PendingClientReconnection) {
            return Err(ApiError::Conflict(format!(
                "Stream session '{}' is {}; a connection can be created only in ACTIVE or PENDING_CLIENT_RECONNECTION.",
                s.id,
                status_name(s.status)
            )));
        }
        let id = s.id.clone();
        let response = self.new_signal_response(&id);
        self.set_status(idx, now, SessionStatus::Reconnecting, None);
        let s = &mut self.sessions[idx];
        s.signal_response = Some(response.clone());
        s.deadline = Some(now + self.config.timings.reconnect);
        if let Some(token) = client_token {
            self.connection_tokens.insert(token, (idx, signal_request.to_string(), response.clone()));
        }
        Ok(response)
    }

    /// ExportStreamSessionFiles.
    pub fn export_files(&mut self, group: &str, session: &str, output_uri: &str, now: Time) -> Result<(), ApiError> {
        self.advance(now);
        let idx = self.session_index(group, session)?;
        let s = &mut self.sessions[idx];
        if !s.status.is_running() {
            return Err(ApiError::Validation(format!(
                "Stream session '{}' is {}; files can be exported only while it runs.",
                s.id,
                status_name(s.status)
            )));
        }
        s.export_files_metadata = Some(ExportFiles {
            status: ExportStatus::Pending,
            status_reason: None,
            output_uri: output_uri.to_string(),
        });
        s.last_updated_at = now;
        Ok(())
    }

    /// The simulated WebRTC client connects: ACTIVE → CONNECTED.
    pub fn client_connect(&mut self, session: &str, now: Time) -> Result<StreamSession, ApiError> {
        self.advance(now);
        let idx = self.any_session_index(session)?;
        let s = &self.sessions[idx];
        if s.status != SessionStatus::Active || s.signal_response.is_none() {
            return Err(ApiError::Conflict(format!(
                "Stream session '{}' is {}{}; a client can connect only to an ACTIVE session with a signal response.",
                s.id,
                status_name(s.status),
                if s.signal_response.is_none() { " without a signal response" } else { "" }
            )));
        }
        self.set_status(idx, now, SessionStatus::Connected, None);
        let s = &mut self.sessions[idx];
        s.deadline = None;
        s.streaming_started_at.get_or_insert(now);
        Ok(s.clone())
    }

    /// The simulated WebRTC client goes away: CONNECTED → PENDING_CLIENT_RECONNECTION.
    pub fn client_disconnect(&mut self, session: &str, now: Time) -> Result<StreamSession, ApiError> {
        self.advance(now);
        let idx = self.any_session_index(session)?;
        let s = &self.sessions[idx];
        if s.status != SessionStatus::Connected {
            return Err(ApiError::Conflict(format!(
                "Stream session '{}' is {}; only a CONNECTED session can lose its client.",
                s.id,
                status_name(s.status)
            )));
        }
        self.set_status(idx, now, SessionStatus::PendingClientReconnection, None);
        let s = &mut self.sessions[idx];
        s.deadline = Some(now + f64::from(s.connection_timeout_seconds));
        Ok(s.clone())
    }

    // ----- stream groups and applications -----

    /// CreateStreamGroup.
    pub fn create_stream_group(
        &mut self,
        req: CreateStreamGroup,
        client_token: Option<String>,
        now: Time,
    ) -> Result<StreamGroup, ApiError> {
        self.advance(now);
        if let Some(arn) = client_token.as_ref().and_then(|t| self.create_tokens.get(t)) {
            if let Some(g) = self.groups.iter().find(|g| &g.arn == arn) {
                return Ok(g.clone());
            }
        }
        let default_app = match &req.default_application_identifier {
            Some(ident) => Some(self.app_index(ident)?),
            None => None,
        };
        let default_capacity = if req.stream_class.ends_with("_high") { 2 } else { 1 };
        let mut locations: Vec<LocationState> = req
            .location_configurations
            .iter()
            .map(|c| {
                let always_on = c.always_on_capacity.unwrap_or(0);
                let on_demand = c.on_demand_capacity.unwrap_or(0);
                let capacity = c.maximum_capacity.unwrap_or(0).max(always_on + on_demand);
                let capacity = if capacity == 0 { default_capacity } else { capacity };
                let mut state = location_state(&c.location_name, capacity, "ACTIVATING");
                state.always_on_capacity = always_on;
                state.on_demand_capacity = on_demand;
                state
            })
            .collect();
        if locations.is_empty() {
            locations.push(location_state(&self.config.region.clone(), default_capacity, "ACTIVATING"));
        }
        let id = format!("sg-{}", self.random_id(9));
        let arn = self.arn("streamgroup", &id);
        let mut group = StreamGroup {
            arn: arn.clone(),
            id,
            description: req.description,
            default_application: None,
            location_states: locations,
            stream_class: req.stream_class,
            status: "ACTIVATING".into(),
            created_at: now,
            last_updated_at: now,
            associated_applications: Vec::new(),
            ready_at: now + self.config.timings.provisioning,
        };
        if let Some(a) = default_app {
            let app = &mut self.apps[a];
            group.default_application = Some(DefaultApplication { id: app.id.clone(), arn: app.arn.clone() });
            group.associated_applications.push(app.arn.clone());
            app.associated_stream_groups.push(arn.clone());
        }
        if let Some(token) = client_token {
            self.create_tokens.insert(token, arn);
        }
        self.groups.push(group.clone());
        Ok(group)
    }

    /// GetStreamGroup.
    pub fn get_stream_group(&mut self, group: &str, now: Time) -> Result<StreamGroup, ApiError> {
        self.advance(now);
        let g = self.group_index(group)?;
        Ok(self.groups[g].clone())
    }

    /// ListStreamGroups, oldest first.
    pub fn list_stream_groups(&mut self, now: Time) -> Vec<StreamGroup> {
        self.advance(now);
        self.groups.clone()
    }

    /// CreateApplication.
    pub fn create_application(
        &mut self,
        req: CreateApplication,
        client_token: Option<String>,
        now: Time,
    ) -> Result<Application, ApiError> {
        self.advance(now);
        if let Some(arn) = client_token.as_ref().and_then(|t| self.create_tokens.get(t)) {
            if let Some(a) = self.apps.iter().find(|a| &a.arn == arn) {
                return Ok(a.clone());
            }
        }
        let id = format!("a-{}", self.random_id(9));
        let arn = self.arn("application", &id);
        let app = Application {
            arn: arn.clone(),
            id,
            description: req.description,
            runtime_environment: req.runtime_environment,
            executable_path: req.executable_path,
            application_source_uri: req.application_source_uri,
            application_log_paths: req.application_log_paths,
            application_log_output_uri: req.application_log_output_uri,
            status: "PROCESSING".into(),
            replication_statuses: vec![ReplicationStatus {
                location: self.config.region.clone(),
                status: "REPLICATING".into(),
            }],
            created_at: now,
            last_updated_at: now,
            associated_stream_groups: Vec::new(),
            ready_at: now + self.config.timings.provisioning,
        };
        if let Some(token) = client_token {
            self.create_tokens.insert(token, arn);
        }
        self.apps.push(app.clone());
        Ok(app)
    }

    /// GetApplication.
    pub fn get_application(&mut self, app: &str, now: Time) -> Result<Application, ApiError> {
        self.advance(now);
        let a = self.app_index(app)?;
        Ok(self.apps[a].clone())
    }

    /// ListApplications, oldest first.
    pub fn list_applications(&mut self, now: Time) -> Vec<Application> {
        self.advance(now);
        self.apps.clone()
    }

    /// AssociateApplications: returns the stream group's ARN and the associated applications' ARNs.
    pub fn associate_applications(
        &mut self,
        group: &str,
        apps: &[String],
        now: Time,
    ) -> Result<(String, Vec<String>), ApiError> {
        self.advance(now);
        let g = self.group_index(group)?;
        let indices = apps.iter().map(|a| self.app_index(a)).collect::<Result<Vec<_>, _>>()?;
        if let Some(&a) = indices.iter().find(|&&a| self.apps[a].status != "READY") {
            return Err(ApiError::Validation(format!(
                "Application '{}' is {}; only READY applications can be associated.",
                self.apps[a].id, self.apps[a].status
            )));
        }
        let group_arn = self.groups[g].arn.clone();
        let mut arns = Vec::new();
        for a in indices {
            let app_arn = self.apps[a].arn.clone();
            if !self.groups[g].associated_applications.contains(&app_arn) {
                self.groups[g].associated_applications.push(app_arn.clone());
                self.apps[a].associated_stream_groups.push(group_arn.clone());
            }
            arns.push(app_arn);
        }
        self.groups[g].last_updated_at = now;
        Ok((group_arn, arns))
    }
}

fn next_event(s: &StreamSession) -> Option<Time> {
    let length = s.ends_at.filter(|_| s.status.is_running());
    match (s.deadline, length) {
        (Some(d), Some(e)) => Some(d.min(e)),
        (d, e) => d.or(e),
    }
}

fn location_state(name: &str, capacity: u32, status: &str) -> LocationState {
    LocationState {
        location_name: name.to_string(),
        status: status.into(),
        always_on_capacity: capacity,
        on_demand_capacity: 0,
        maximum_capacity: capacity,
        requested_capacity: capacity,
        allocated_capacity: capacity,
        idle_capacity: capacity,
        in_use: 0,
    }
}

#[cfg(test)]
mod tests;
