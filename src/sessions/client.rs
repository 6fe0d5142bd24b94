//! Builds the `aws-sdk-gameliftstreams` and `aws-sdk-ivsrealtime` clients
//! from aws-config's default chain (Region, credentials, profiles, IRSA,
//! `AWS_ENDPOINT_URL`), with the SDKs' own retries off: one call is one HTTP
//! attempt, and the gateway's retry layer (which also bounds each attempt's
//! time) is the only one. An endpoint URL (the emulator) serves both.

use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_gameliftstreams::config::retry::RetryConfig;
use aws_sdk_gameliftstreams::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_gameliftstreams::Client;

/// How to reach GameLift Streams.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    /// Overrides the endpoint (an emulator, a VPC endpoint).
    pub endpoint_url: Option<String>,
    /// Overrides the Region of the default chain.
    pub region: Option<String>,
    /// Use fixed dummy credentials instead of the default chain (the emulator
    /// accepts any).
    pub dummy_credentials: bool,
}

/// A Region is needed and none was found.
#[derive(Debug, thiserror::Error)]
#[error("no AWS Region is configured: set --aws-region, AWS_REGION or a profile's region")]
pub struct NoRegion;

/// The SDK clients of both services, and the endpoints they send requests to.
#[derive(Debug, Clone)]
pub struct Clients {
    /// GameLift Streams.
    pub streams: Client,
    /// Where GameLift Streams' requests go (the endpoint URL, or its
    /// regional endpoint).
    pub streams_endpoint: String,
    /// IVS Real-Time.
    pub ivs: aws_sdk_ivsrealtime::Client,
    /// Where IVS Real-Time's requests go.
    pub ivs_endpoint: String,
}

/// The SDK clients for `settings`.
pub async fn connect(settings: &AwsSettings) -> Result<Clients, NoRegion> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if settings.dummy_credentials {
        loader = loader.credentials_provider(Credentials::new("EMULATOR", "emulator", None, None, "emulator"));
    }
    let shared = loader.load().await;
    let Some(region) = shared.region() else { return Err(NoRegion) };
    if shared.endpoint_url().is_none() && !AWS_REGIONS.contains(&region.as_ref()) {
        tracing::warn!(
            region = %region,
            "AWS has no Region of this name (as of this build): calls will not reach GameLift Streams \
             nor IVS Real-Time; check --aws-region or AWS_REGION"
        );
    }
    let endpoint = |prefix: &str| {
        shared.endpoint_url().map_or_else(|| format!("https://{prefix}.{region}.amazonaws.com"), str::to_string)
    };
    let (streams_endpoint, ivs_endpoint) = (endpoint("gameliftstreams"), endpoint("ivsrealtime"));
    if !settings.dummy_credentials {
        check_credentials(&shared).await;
    }
    tracing::info!(%region, endpoint = %streams_endpoint, "calling GameLift Streams");
    tracing::info!(%region, endpoint = %ivs_endpoint, "calling IVS Real-Time");
    let conf = aws_sdk_gameliftstreams::config::Builder::from(&shared).retry_config(RetryConfig::disabled()).build();
    let ivs_conf = aws_sdk_ivsrealtime::config::Builder::from(&shared)
        .retry_config(aws_sdk_ivsrealtime::config::retry::RetryConfig::disabled())
        .build();
    Ok(Clients {
        streams: Client::from_conf(conf),
        streams_endpoint,
        ivs: aws_sdk_ivsrealtime::Client::from_conf(ivs_conf),
        ivs_endpoint,
    })
}

/// The Regions AWS has (commercial, GovCloud, China, the European Sovereign
/// Cloud), as of this build: a Region not among them is warned about.
const AWS_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// How long the credentials check at start may take.
const CREDENTIALS_CHECK: Duration = Duration::from_secs(5);

/// Resolves the credentials once, at start, and says in one line when there
/// are none (calls then fail with CREDENTIALS_UNAVAILABLE until the chain
/// finds some: it is asked again on each call).
async fn check_credentials(shared: &aws_config::SdkConfig) {
    let Some(provider) = shared.credentials_provider() else {
        tracing::warn!("no AWS credentials provider is configured: every call will fail with CREDENTIALS_UNAVAILABLE");
        return;
    };
    match tokio::time::timeout(CREDENTIALS_CHECK, provider.provide_credentials()).await {
        Ok(Ok(_)) => tracing::info!("AWS credentials found"),
        Ok(Err(e)) => tracing::warn!(
            error = %e,
            tried = "environment variables, profile files (AWS_PROFILE), web identity token (IRSA), \
                     ECS and EKS Pod Identity container credentials, EC2 instance metadata (IMDS)",
            "no AWS credentials: calls fail with CREDENTIALS_UNAVAILABLE until one of the providers tried has some"
        ),
        Err(_) => tracing::warn!(
            seconds = CREDENTIALS_CHECK.as_secs(),
            "AWS credentials were not resolved at start in time: calls resolve them again"
        ),
    }
}
