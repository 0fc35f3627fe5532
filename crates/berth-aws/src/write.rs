//! The mutating calls: register task definitions, create and update services, tag and untag them.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ecs::types::{SortOrder, Tag, TaskDefinitionStatus};
use berth_core::live::{LiveService, LiveTaskDefinition};
use berth_core::manifest::ServiceId;
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};

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
    pub async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> Result<Arc<LiveTaskDefinition>, AwsError> {
        let family = spec.family.clone().unwrap_or_default();
        let request =
            convert::register_task_definition(self.ecs_client().register_task_definition(), spec)
                .map_err(convert_error(format!("task definition {family}")))?;
        let output = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "RegisterTaskDefinition", e))?;
        let arn = output
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .ok_or_else(|| {
                incomplete("RegisterTaskDefinition", "taskDefinition.taskDefinitionArn")
            })?;
        tracing::debug!(task_definition = arn, "registered task definition");
        self.describe_task_definition(arn).await
    }

    /// The family's newest ACTIVE revision, if any.
    pub async fn latest_active_task_definition(
        &self,
        family: &str,
    ) -> Result<Option<Arc<LiveTaskDefinition>>, AwsError> {
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
        let newest = output.task_definition_arns().iter().find(|arn| {
            arn.rsplit('/')
                .next()
                .and_then(|r| r.rsplit_once(':'))
                .is_some_and(|(f, _)| f == family)
        });
        match newest {
            Some(arn) => self.describe_task_definition(arn).await.map(Some),
            None => Ok(None),
        }
    }

    /// `CreateService` running `task_definition_arn`.
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
            .task_definition(task_definition_arn);
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

    /// `DeleteService` (the service must already be scaled to 0).
    pub async fn delete_service(&self, id: &ServiceId) -> Result<(), AwsError> {
        self.ecs_client()
            .delete_service()
            .cluster(&id.cluster)
            .service(&id.name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DeleteService", e))?;
        tracing::debug!(service = %id, "deleted service");
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
