//! Builds the `aws-sdk-gameliftstreams` client from aws-config's default chain
//! (Region, credentials, profiles, IRSA, `AWS_ENDPOINT_URL`), with the SDK's own
//! retries off: one call is one HTTP attempt, and the gateway's retry layer
//! (which also bounds each attempt's time) is the only one.

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

/// The SDK client for `settings`.
pub async fn connect(settings: &AwsSettings) -> Result<Client, NoRegion> {
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
    if shared.region().is_none() {
        return Err(NoRegion);
    }
    let conf = aws_sdk_gameliftstreams::config::Builder::from(&shared).retry_config(RetryConfig::disabled()).build();
    Ok(Client::from_conf(conf))
}
