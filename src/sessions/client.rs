//! Builds the `aws-sdk-gameliftstreams` client from aws-config's default chain
//! (Region, credentials, profiles, IRSA, `AWS_ENDPOINT_URL`), with the SDK's own
//! retries off: one call is one HTTP attempt, and the gateway's retry layer
//! (which also bounds each attempt's time) is the only one.

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

/// The SDK client for `settings`, and the endpoint it sends requests to
/// (the endpoint URL, or GameLift Streams' regional endpoint).
pub async fn connect(settings: &AwsSettings) -> Result<(Client, String), NoRegion> {
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
    let endpoint = match shared.endpoint_url() {
        Some(url) => url.to_string(),
        None => {
            if !AWS_REGIONS.contains(&region.as_ref()) {
                tracing::warn!(
                    region = %region,
                    "AWS has no Region of this name (as of this build): calls will not reach GameLift Streams; \
                     check --aws-region or AWS_REGION"
                );
            }
            format!("https://gameliftstreams.{region}.amazonaws.com")
        }
    };
    if !settings.dummy_credentials {
        check_credentials(&shared).await;
    }
    tracing::info!(%region, %endpoint, "calling GameLift Streams");
    let conf = aws_sdk_gameliftstreams::config::Builder::from(&shared).retry_config(RetryConfig::disabled()).build();
    Ok((Client::from_conf(conf), endpoint))
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
