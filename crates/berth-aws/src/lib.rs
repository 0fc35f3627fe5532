//! berth-aws: berth's adapter to Amazon ECS and ECR through the AWS SDK for Rust. It is the
//! only crate that names SDK types: what it hands out are `berth_core` types.
//!
//! [`connect`] builds an [`Aws`] from an [`AwsConfig`] with the standard credential chain, the
//! SDK's retry policy and timeouts. Its reads (`describe_services`, `describe_task_definition`,
//! `list_services`, `describe_images`) batch as the APIs allow and convert answers into
//! `berth_core::live` types through the generated [`convert`] module; its writes register task
//! definitions (and deregister old revisions), create, update, tag and delete services. [`Aws`] implements berth-engine's ports
//! (`EcsRead`, `EcsWrite`, `ImageRegistry`); [`DynamoLeases`] implements its `LeaseStore` on a
//! DynamoDB table. Every request is counted in [`ApiCounters`].
//!
//! Writes stay safe when an answer is lost (ECS applied the call, berth saw a 5xx, a timeout or
//! a dropped connection): `RegisterTaskDefinition` is never retried blindly (the SDK's retries
//! are off for it; after a retryable failure the family's latest revision is looked up and used
//! when it is the one being registered); `CreateService` carries a `clientToken` derived from
//! the request, so ECS recognises the SDK's retry; `DeleteService` is one forced call.

mod config;
pub mod convert;
mod ecr;
mod ecs;
mod error;
mod interceptors;
mod leases;
mod ports;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use berth_core::live::LiveTaskDefinition;
use tokio::sync::OnceCell;

pub use config::{AwsConfig, RetryMode};
pub use error::{AwsError, CallFailure};
pub use interceptors::{ApiCounters, SUCCESS, TRANSPORT_ERROR};
pub use leases::DynamoLeases;

use interceptors::{CountingInterceptor, HeaderInterceptor};

/// Task definition revisions read so far, by full ARN; a cell per ARN so that concurrent reads
/// of one ARN make one call.
type TaskDefinitionCache =
    tokio::sync::Mutex<HashMap<String, Arc<OnceCell<Arc<LiveTaskDefinition>>>>>;

/// ECS and ECR clients sharing one configuration, request counters and a task definition cache.
/// Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct Aws {
    sdk_config: SdkConfig,
    ecs: aws_sdk_ecs::Client,
    /// ECR clients by region, made on first use (ECR is regional: an image's registry names
    /// its region).
    ecr: Mutex<HashMap<String, aws_sdk_ecr::Client>>,
    headers: Vec<(String, String)>,
    counters: ApiCounters,
    task_definitions: TaskDefinitionCache,
}

/// Connects: resolves region and credentials with the standard chain (environment, profile,
/// the ECS task role), applies the endpoint override, retry policy and timeouts. Nothing is
/// sent yet; a missing region or credentials shows on the first call as an [`AwsError::Call`].
pub async fn connect(config: &AwsConfig) -> Aws {
    connect_with(config, aws_config::defaults(BehaviorVersion::latest())).await
}

/// [`connect`] starting from a given `aws-config` loader, e.g. one with static credentials
/// (tests, emulators). The settings of `config` override the loader's.
pub async fn connect_with(config: &AwsConfig, loader: aws_config::ConfigLoader) -> Aws {
    let retry = match config.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(config.max_attempts.max(1));
    let mut timeouts = TimeoutConfig::builder();
    if let Some(timeout) = config.operation_timeout {
        timeouts = timeouts.operation_timeout(timeout);
    }
    if let Some(timeout) = config.attempt_timeout {
        timeouts = timeouts.operation_attempt_timeout(timeout);
    }
    let mut loader = loader.retry_config(retry).timeout_config(timeouts.build());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk_config = loader.load().await;
    let sdk_config = match &config.role_arn {
        Some(role_arn) => assume_role(sdk_config, role_arn, config.external_id.as_deref()).await,
        None => sdk_config,
    };
    Aws::from_sdk_config(sdk_config, config.headers.clone())
}

/// `base` with its credentials replaced by `role_arn`'s, assumed through STS (at the same
/// endpoint and region) with `base`'s credentials. Nothing is sent yet: a role that cannot be
/// assumed fails each call of this adapter with STS's reason, and the identity cache keeps
/// the temporary credentials until shortly before they expire.
async fn assume_role(base: SdkConfig, role_arn: &str, external_id: Option<&str>) -> SdkConfig {
    let mut provider = AssumeRoleProvider::builder(role_arn)
        .session_name(ROLE_SESSION_NAME)
        .configure(&base);
    if let Some(external_id) = external_id {
        provider = provider.external_id(external_id);
    }
    let provider = provider.build().await;
    base.into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// The `RoleSessionName` of berth's assumed roles: CloudTrail shows it beside every call.
pub const ROLE_SESSION_NAME: &str = "berth";

impl Aws {
    /// An adapter over an already loaded SDK configuration; `headers` go on every request.
    pub fn from_sdk_config(sdk_config: SdkConfig, headers: Vec<(String, String)>) -> Aws {
        let counters = ApiCounters::new();
        let ecs_config = aws_sdk_ecs::config::Builder::from(&sdk_config)
            .interceptor(CountingInterceptor {
                counters: counters.clone(),
            })
            .interceptor(HeaderInterceptor {
                headers: headers.clone(),
            })
            .build();
        Aws {
            ecs: aws_sdk_ecs::Client::from_conf(ecs_config),
            sdk_config,
            ecr: Mutex::new(HashMap::new()),
            headers,
            counters,
            task_definitions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The request counters of every client of this adapter.
    pub fn counters(&self) -> &ApiCounters {
        &self.counters
    }

    /// The region ECS calls go to, if one was configured or found.
    pub fn region(&self) -> Option<&str> {
        self.sdk_config.region().map(Region::as_ref)
    }

    /// The ECS client (counted, with the configured headers).
    pub fn ecs_client(&self) -> &aws_sdk_ecs::Client {
        &self.ecs
    }

    /// The ECR client for `region` (counted, with the configured headers), made on first use.
    pub fn ecr_client(&self, region: &str) -> aws_sdk_ecr::Client {
        let mut clients = self
            .ecr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_ecr::config::Builder::from(&self.sdk_config)
                    .region(Region::new(region.to_string()))
                    .interceptor(CountingInterceptor {
                        counters: self.counters.clone(),
                    })
                    .interceptor(HeaderInterceptor {
                        headers: self.headers.clone(),
                    })
                    .build();
                aws_sdk_ecr::Client::from_conf(config)
            })
            .clone()
    }
}
