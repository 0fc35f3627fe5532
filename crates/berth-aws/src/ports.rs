//! berth-engine's ports, implemented by [`Aws`]: the engine reads and changes ECS and ECR
//! through these traits and never names an SDK type.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_core::image::EcrImage;
use berth_core::live::{ImageResolution, LiveService, LiveTaskDefinition, ServiceLookup};
use berth_core::manifest::ServiceId;
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};
use berth_engine::ports::{EcsRead, EcsWrite, ImageRegistry, ServiceUpdate};

use crate::{Aws, AwsError};

impl EcsRead for Aws {
    type Error = AwsError;

    async fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> Result<Option<String>, AwsError> {
        Aws::latest_active_task_definition_arn(self, family).await
    }

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, AwsError> {
        Aws::describe_services(self, cluster, names).await
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<Arc<LiveTaskDefinition>, AwsError> {
        Aws::describe_task_definition(self, arn).await
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        Aws::list_services(self, cluster).await
    }

    async fn list_active_task_definitions(&self, family: &str) -> Result<Vec<String>, AwsError> {
        Aws::list_active_task_definitions(self, family).await
    }

    async fn retain_task_definitions(&self, keep: &std::collections::BTreeSet<String>) {
        Aws::retain_task_definitions(self, keep).await;
    }
}

impl ImageRegistry for Aws {
    type Error = AwsError;

    async fn describe_images(&self, images: &[EcrImage]) -> Result<Vec<ImageResolution>, AwsError> {
        Aws::describe_images(self, images).await
    }
}

impl EcsWrite for Aws {
    async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> Result<Arc<LiveTaskDefinition>, AwsError> {
        Aws::register_task_definition(self, spec).await
    }

    async fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<LiveService, AwsError> {
        Aws::create_service(self, id, spec, task_definition_arn).await
    }

    async fn update_service(
        &self,
        id: &ServiceId,
        update: &ServiceUpdate,
    ) -> Result<LiveService, AwsError> {
        Aws::update_service(
            self,
            id,
            update.task_definition_arn.as_deref(),
            &update.spec,
        )
        .await
    }

    async fn delete_service(&self, id: &ServiceId) -> Result<(), AwsError> {
        Aws::delete_service(self, id).await
    }

    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        Aws::tag_resource(self, arn, tags).await
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        Aws::untag_resource(self, arn, keys).await
    }

    async fn deregister_task_definition(&self, arn: &str) -> Result<(), AwsError> {
        Aws::deregister_task_definition(self, arn).await
    }
}
