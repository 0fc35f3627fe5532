//! How berth connects to AWS: region, endpoint override, retries and timeouts.

use std::time::Duration;

/// The SDK retry policy for throttling, 5xx answers and transient network errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RetryMode {
    /// Exponential backoff with jitter (the SDK's `standard` mode).
    Standard,
    /// `standard` plus client-side rate limiting that slows down when AWS throttles (the SDK's
    /// `adaptive` mode). The default: berth makes its reads and changes concurrently and lets
    /// throttling, not a fixed cap, set the pace, which also leaves room for other tools that
    /// share the account's ECS API quota.
    #[default]
    Adaptive,
}

/// Connection settings. Credentials come from the standard chain (environment, profile, web
/// identity, the ECS task role on Fargate), or from a role assumed with them (`role_arn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Region; `None` takes it from the standard chain (`AWS_REGION`, profile, ...).
    pub region: Option<String>,
    /// Endpoint override for ECS and ECR (an emulator, e.g. `http://127.0.0.1:5000`); `None`
    /// takes `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_ECS` / `_ECR`) when set, as the SDK does.
    pub endpoint_url: Option<String>,
    /// Attempts per call, the first included (1 disables retries). Default 3.
    pub max_attempts: u32,
    /// Retry policy. Default [`RetryMode::Adaptive`].
    pub retry_mode: RetryMode,
    /// Limit for a whole call, retries included. Default 60 s; `None` for no limit.
    pub operation_timeout: Option<Duration>,
    /// Limit for one attempt. Default 20 s; `None` for no limit.
    pub attempt_timeout: Option<Duration>,
    /// A role to assume with the standard chain's credentials (a target in another account,
    /// docs/cli.md "Targets"): every call is signed with its temporary credentials, which the
    /// SDK caches and renews before they expire. `None`: the standard chain's own.
    pub role_arn: Option<String>,
    /// The `ExternalId` the role's trust policy asks for, if any.
    pub external_id: Option<String>,
    /// Headers sent with every request, e.g. moto's `x-moto-account-id` to select an emulated
    /// account. Empty for AWS.
    pub headers: Vec<(String, String)>,
}

impl AwsConfig {
    /// These settings for `target` (berth.yaml's `targets:`): its region and role, the rest
    /// (endpoint, retries, timeouts, headers) as they are.
    pub fn for_target(&self, target: &berth_core::target::Target) -> AwsConfig {
        AwsConfig {
            region: Some(target.region.clone()),
            role_arn: target.role_arn.clone(),
            external_id: target.external_id.clone(),
            ..self.clone()
        }
    }
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: None,
            endpoint_url: None,
            max_attempts: 3,
            retry_mode: RetryMode::Adaptive,
            operation_timeout: Some(Duration::from_secs(60)),
            attempt_timeout: Some(Duration::from_secs(20)),
            role_arn: None,
            external_id: None,
            headers: Vec::new(),
        }
    }
}
