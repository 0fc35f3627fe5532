//! The mutating calls: register and deregister task definitions, create and update services,
//! tag and untag them.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_ecs::types::{SortOrder, Tag, TaskDefinitionStatus};
use backon::{BackoffBuilder, ExponentialBuilder};
use berth_core::live::{LiveService, LiveTaskDefinition};
use berth_core::manifest::ServiceId;
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};
use berth_core::normalize::ImageDigests;
use berth_engine::apply::same_task_definition;
use berth_engine::retention::family_and_revision;

use crate::convert::{self, ConvertError};
use crate::ecs::live_service;
use crate::{Aws, AwsError};

fn convert_error(what: impl Into<String>) -> impl FnOnce(ConvertError) -> AwsError {
    let what = what.into();
    move |source| AwsError::Convert { what, source }
}

fn incomplete(operation: &'static str, what: &str) -> AwsError {
    AwsError::Incomplete {
        service: "ECS",
        operation,
        what: what.to_string(),
    }
}

impl Aws {
    /// `RegisterTaskDefinition`; the registered revision is read back (and cached) by ARN.
    ///
    /// Not retried blindly: a call that failed in a way worth retrying (throttled, 5xx, timed
    /// out, no answer) may have registered the revision with only its answer lost, and a blind
    /// retry would register a duplicate. So the SDK's retries are off for this call, and after
    /// such a failure the family's latest ACTIVE revision is looked up: when it is the same as
    /// `spec` (berth-engine's [`same_task_definition`]) it is the answer; else the call is
    /// made again after a backoff, within the adapter's attempts (`max_attempts`). When the
    /// lookup itself fails, the first failure is returned rather than risking a duplicate.
    pub async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> Result<Arc<LiveTaskDefinition>, AwsError> {
        let family = spec.family.clone().unwrap_or_default();
        let mut delays = self.retry_delays();
        loop {
            let error = match self.register_once(spec, &family).await {
                Ok(registered) => return Ok(registered),
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => error,
            };
            match self.latest_active_task_definition(&family).await {
                Ok(Some(latest))
                    if same_task_definition(&latest.spec, spec, &ImageDigests::new()) =>
                {
                    tracing::warn!(task_definition = %latest.arn, %error,
                        "RegisterTaskDefinition failed, but ECS holds the revision: using it");
                    return Ok(latest);
                }
                Ok(_) => {}
                Err(lookup) => {
                    tracing::warn!(%lookup, "cannot tell whether RegisterTaskDefinition took effect");
                    return Err(error);
                }
            }
            let Some(delay) = delays.next() else {
                return Err(error);
            };
            tracing::debug!(%error, ?delay, "RegisterTaskDefinition failed; trying again");
            tokio::time::sleep(delay).await;
        }
    }

    /// One `RegisterTaskDefinition` request, the SDK's retries off.
    async fn register_once(
        &self,
        spec: &TaskDefinitionSpec,
        family: &str,
    ) -> Result<Arc<LiveTaskDefinition>, AwsError> {
        let request =
            convert::register_task_definition(self.ecs_client().register_task_definition(), spec)
                .map_err(convert_error(format!("task definition {family}")))?;
        let output = request
            .customize()
            .config_override(
                aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "RegisterTaskDefinition", e))?;
        // The answer holds the revision as ECS stored it, tags included: no read needed.
        let task_definition = output
            .task_definition()
            .ok_or_else(|| incomplete("RegisterTaskDefinition", "taskDefinition"))?;
        let registered = Arc::new(crate::ecs::live_task_definition(
            "RegisterTaskDefinition",
            task_definition,
            output.tags(),
        )?);
        tracing::debug!(task_definition = %registered.arn, "registered task definition");
        self.remember_task_definition(Arc::clone(&registered)).await;
        Ok(registered)
    }

    /// The delays between the attempts of a call berth retries itself: the SDK's retry
    /// settings (attempts, initial and longest backoff), exponential with jitter.
    fn retry_delays(&self) -> impl Iterator<Item = Duration> {
        let retry = self
            .sdk_config
            .retry_config()
            .cloned()
            .unwrap_or_else(RetryConfig::standard);
        let attempts = retry.max_attempts();
        ExponentialBuilder::default()
            .with_min_delay(retry.initial_backoff())
            .with_max_delay(retry.max_backoff())
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(usize::try_from(attempts.saturating_sub(1)).unwrap_or(0))
            .build()
    }

    /// The family's newest ACTIVE revision, if any.
    pub async fn latest_active_task_definition(
        &self,
        family: &str,
    ) -> Result<Option<Arc<LiveTaskDefinition>>, AwsError> {
        match self.latest_active_task_definition_arn(family).await? {
            Some(arn) => self.describe_task_definition(&arn).await.map(Some),
            None => Ok(None),
        }
    }

    /// The ARN of the family's latest ACTIVE revision (one `ListTaskDefinitions`), if any.
    pub async fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> Result<Option<String>, AwsError> {
        let output = self
            .ecs_client()
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .max_results(1)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "ListTaskDefinitions", e))?;
        // `familyPrefix` is a prefix on some implementations: keep only the exact family.
        Ok(output
            .task_definition_arns()
            .iter()
            .find(|arn| {
                arn.rsplit('/')
                    .next()
                    .and_then(|r| r.rsplit_once(':'))
                    .is_some_and(|(f, _)| f == family)
            })
            .cloned())
    }

    /// ARNs of every ACTIVE revision of exactly `family`: `ListTaskDefinitions` with
    /// `familyPrefix` and `status: ACTIVE`, all pages (100 per page). `familyPrefix` matches
    /// prefixes (`web` also lists `web-canary`), so only ARNs whose family is `family` are kept.
    pub async fn list_active_task_definitions(
        &self,
        family: &str,
    ) -> Result<Vec<String>, AwsError> {
        let listed: Vec<String> = self
            .ecs_client()
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .max_results(100)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "ListTaskDefinitions", e))?;
        Ok(listed
            .into_iter()
            .filter(|arn| family_and_revision(arn).is_some_and(|(f, _)| f == family))
            .collect())
    }

    /// `DeregisterTaskDefinition`: the revision `arn` becomes INACTIVE (still readable; what
    /// runs it is unaffected), and leaves the adapter's cache, whose copy says ACTIVE.
    pub async fn deregister_task_definition(&self, arn: &str) -> Result<(), AwsError> {
        self.ecs_client()
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DeregisterTaskDefinition", e))?;
        tracing::debug!(task_definition = arn, "deregistered task definition");
        self.forget_task_definition(arn).await;
        Ok(())
    }

    /// `CreateService` running `task_definition_arn`, with a `clientToken` derived from the
    /// request ([`client_token`]): when the SDK retries a create whose answer was lost, ECS
    /// recognises the retry and answers with the service it created, instead of failing it as
    /// "not idempotent" or creating it twice.
    pub async fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<LiveService, AwsError> {
        let request = convert::create_service(self.ecs_client().create_service(), spec)
            .map_err(convert_error(format!("service {id}")))?
            .cluster(&id.cluster)
            .service_name(&id.name)
            .task_definition(task_definition_arn)
            .client_token(client_token(id, spec, task_definition_arn));
        let output = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "CreateService", e))?;
        let service = output
            .service()
            .ok_or_else(|| incomplete("CreateService", "service"))?;
        tracing::debug!(task_definition = task_definition_arn, "created service");
        live_service(&id.cluster, service)
    }

    /// `UpdateService` with only the fields set in `spec`, and the task definition if given.
    pub async fn update_service(
        &self,
        id: &ServiceId,
        task_definition_arn: Option<&str>,
        spec: &ServiceSpec,
    ) -> Result<LiveService, AwsError> {
        let request = convert::update_service(self.ecs_client().update_service(), spec)
            .map_err(convert_error(format!("service {id}")))?
            .cluster(&id.cluster)
            .service(&id.name)
            .set_task_definition(task_definition_arn.map(str::to_string));
        let output = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "UpdateService", e))?;
        let service = output
            .service()
            .ok_or_else(|| incomplete("UpdateService", "service"))?;
        tracing::debug!(task_definition = task_definition_arn, "updated service");
        live_service(&id.cluster, service)
    }

    /// `DeleteService` with `force`: one call that stops the service's tasks and deletes it,
    /// so a failed delete never leaves a service scaled to 0 behind. A service ECS reports as
    /// already not active (a retry of a delete whose answer was lost) counts as deleted.
    pub async fn delete_service(&self, id: &ServiceId) -> Result<(), AwsError> {
        let result = self
            .ecs_client()
            .delete_service()
            .cluster(&id.cluster)
            .service(&id.name)
            .force(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DeleteService", e));
        match result {
            Ok(_) => tracing::debug!(service = %id, "deleted service"),
            Err(error) if error.code() == Some("ServiceNotActiveException") => {
                tracing::debug!(service = %id, "service already deleted");
            }
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// `TagResource`: adds or overwrites `tags` on the resource `arn`.
    pub async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect();
        self.ecs_client()
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "TagResource", e))?;
        Ok(())
    }

    /// `UntagResource`: removes the tags `keys` from the resource `arn`.
    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.ecs_client()
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "UntagResource", e))?;
        Ok(())
    }
}

/// The `clientToken` of a `CreateService`: `berth-` and 16 hex digits of an FNV-1a hash of the
/// cluster, the service name, the task definition and the rest of the request (whose tags carry
/// berth's spec hash and revision). The same create asked again gets the same token; a
/// different one (another revision, another spec) gets another. ECS allows up to 36 characters.
pub(crate) fn client_token(
    id: &ServiceId,
    spec: &ServiceSpec,
    task_definition_arn: &str,
) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let spec = serde_json::to_string(spec).unwrap_or_default();
    let hash = [
        id.cluster.as_str(),
        id.name.as_str(),
        task_definition_arn,
        spec.as_str(),
    ]
    .iter()
    .flat_map(|part| part.bytes().chain(std::iter::once(0)))
    .fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    format!("berth-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_token_is_the_same_for_the_same_create_and_fits_ecs() {
        let id = ServiceId::new("prod", "web");
        let spec = ServiceSpec {
            desired_count: Some(2),
            ..ServiceSpec::default()
        };
        let token = client_token(&id, &spec, "arn:td/web:1");
        assert_eq!(token, client_token(&id, &spec, "arn:td/web:1"));
        assert!(token.len() <= 36 && token.bytes().all(|b| (33..=126).contains(&b)));
        assert_ne!(token, client_token(&id, &spec, "arn:td/web:2"));
        assert_ne!(
            token,
            client_token(&ServiceId::new("prod", "api"), &spec, "arn:td/web:1")
        );
        let scaled = ServiceSpec {
            desired_count: Some(3),
            ..ServiceSpec::default()
        };
        assert_ne!(token, client_token(&id, &scaled, "arn:td/web:1"));
    }
}
