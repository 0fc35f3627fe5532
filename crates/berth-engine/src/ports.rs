//! The engine's view of AWS: the few operations it needs, as traits.

use std::future::Future;
use std::sync::Arc;

use berth_core::image::EcrImage;
use berth_core::live::{ImageResolution, LiveTaskDefinition, ServiceLookup};

/// Reading ECS.
pub trait EcsRead: Send + Sync {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Describes services by name in one cluster (with tags). The implementation batches the
    /// API's limit of 10 names per call; names ECS does not know come back as `Missing`.
    fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<ServiceLookup>, Self::Error>> + Send;

    /// Describes one task definition revision by full ARN (with tags). Revisions are immutable,
    /// so implementations cache them.
    fn describe_task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Arc<LiveTaskDefinition>, Self::Error>> + Send;

    /// ARNs of every service in a cluster.
    fn list_services(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;
}

/// Reading the image registry (ECR).
pub trait ImageRegistry: Send + Sync {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Resolves image tags (or digests) to digests, batched per repository. Answers one
    /// resolution per image, in the order asked.
    fn describe_images(
        &self,
        images: &[EcrImage],
    ) -> impl Future<Output = Result<Vec<ImageResolution>, Self::Error>> + Send;
}
