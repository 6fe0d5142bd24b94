//! The Stages service's harness: the emulator (which serves IVS Real-Time
//! beside GameLift Streams), the gateway serving both services in front of
//! it, a generated Stages client, and the emulator's simulated participants.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ivsrealtime::config::retry::RetryConfig;
use aws_sdk_ivsrealtime::config::{BehaviorVersion, Credentials, Region};
use gamelift_streams_gateway::api::replay::Idempotency;
use gamelift_streams_gateway::api::stages::StagesGateway;
use gamelift_streams_gateway::emulator::EmulatorConfig;
use gamelift_streams_gateway::proto::ivs;
use gamelift_streams_gateway::proto::ivs::stages_client::StagesClient;
use gamelift_streams_gateway::server::{self, Access, Limits, ListenAddr, RunningGateway, Services};
use gamelift_streams_gateway::sessions::idempotency::{StoreLimits, DEFAULT_NAMESPACE};
use gamelift_streams_gateway::sessions::{Resilience, RetryPolicy, Sender, Sessions};
use gamelift_streams_gateway::stages::watch::{StageWatchConfig, StageWatches};
use reqwest::Method;
use serde_json::{json, Value};
use tonic::transport::Channel;

use super::{gateway_over, harness_with, Harness};

/// IVS Real-Time's SDK client, configured as a test against the emulator wants it.
pub fn ivs_client(endpoint_url: &str) -> aws_sdk_ivsrealtime::Client {
    let conf = aws_sdk_ivsrealtime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new("AKIDEMULATOR", "emulator-secret", None, None, "tests"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_ivsrealtime::Client::from_conf(conf)
}

/// Stage watches that read every 50 ms, with a heartbeat a second.
pub fn quick_stage_watches() -> StageWatchConfig {
    StageWatchConfig {
        interval: Duration::from_millis(50),
        idle_interval: Duration::from_millis(50),
        heartbeat: Duration::from_secs(1),
    }
}

/// The emulator, the gateway serving both services, and a Stages client.
pub struct StagesHarness {
    pub emulator: Harness,
    pub gateway: RunningGateway,
    pub client: StagesClient<Channel>,
    pub watches: StageWatches,
}

/// The harness over an emulator with `config`, retrying by `policy`.
pub async fn stages_with(config: EmulatorConfig, policy: RetryPolicy) -> StagesHarness {
    stages_watching(config, policy, quick_stage_watches()).await
}

/// The same, its stage watches polling by `watch`.
pub async fn stages_watching(config: EmulatorConfig, policy: RetryPolicy, watch: StageWatchConfig) -> StagesHarness {
    let emulator = harness_with(config).await;
    let resilience = Arc::new(Resilience::with_seed(policy, 7));
    let url = emulator.emulator.endpoint_url();
    let sender = Sender::new("IVSRealTime", ivs_client(&url), resilience.clone()).reaching(&url);
    let watches = StageWatches::new(Arc::new(sender.clone()), watch);
    let idempotency = Arc::new(Idempotency::in_process(DEFAULT_NAMESPACE.into(), StoreLimits::default()));
    let stages = StagesGateway::new(sender, idempotency, watches.clone());
    let streams = gateway_over(Sessions::new(emulator.client.clone(), resilience), StoreLimits::default());
    let listen = ListenAddr::Tcp("127.0.0.1:0".parse().expect("loopback"));
    let services = Services { streams, stages: Some(stages) };
    let gateway = server::start_with(&listen, services, Access::default(), Limits::default()).await.expect("starts");
    let client = StagesClient::connect(format!("http://{}", gateway.local_addr())).await.expect("reachable");
    StagesHarness { emulator, gateway, client, watches }
}

impl StagesHarness {
    /// Creates a stage named `name` through the gateway; its ARN.
    pub async fn stage(&mut self, name: &str) -> String {
        let request = ivs::CreateStageRequest { name: name.into(), ..Default::default() };
        let stage = self.client.create_stage(request).await.expect("stage created").into_inner().stage;
        stage.expect("a stage").arn
    }

    /// A token for `user` on `stage` through the gateway, allowed `capabilities`.
    pub async fn token(
        &mut self,
        stage: &str,
        user: &str,
        capabilities: &[ivs::ParticipantTokenCapability],
    ) -> ivs::ParticipantToken {
        let request = ivs::CreateParticipantTokenRequest {
            stage_arn: stage.into(),
            configuration: Some(ivs::ParticipantTokenConfiguration {
                user_id: user.into(),
                capabilities: capabilities.iter().map(|c| (*c).into()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let response = self.client.create_participant_token(request).await.expect("token created").into_inner();
        response.participant_token.expect("a token")
    }

    /// A simulated client joins with `token`; its stage session's ID.
    pub async fn join(&self, token: &str) -> String {
        let (status, body) =
            self.emulator.admin(Method::POST, "ivs/participants", Some(json!({ "token": token }))).await;
        assert_eq!(status, 200, "join: {body}");
        body["sessionId"].as_str().expect("sessionId").to_string()
    }

    /// Participant `id` does `action` (publish, unpublish, leave, error, …).
    pub async fn act(&self, id: &str, action: &str, body: Option<Value>) -> Value {
        let (status, answer) =
            self.emulator.admin(Method::POST, &format!("ivs/participants/{id}/{action}"), body).await;
        assert_eq!(status, 200, "{action}: {answer}");
        answer
    }
}
