//! ECR reads: image tags (or digests) resolved to digests with `DescribeImages`, one call per
//! repository in the common case where every image exists.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{ImageDetail, ImageIdentifier};
use berth_core::image::EcrImage;
use berth_core::live::ImageResolution;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::{Aws, AwsError};

/// Image ids per `DescribeImages` call: the API's limit.
const DESCRIBE_IMAGES_BATCH: usize = 100;

/// Repositories described at once: the engine's ceiling on reads in flight; the pace follows
/// throttling (the SDK's adaptive retry).
const REPOSITORY_CONCURRENCY: usize = berth_engine::defaults::READS_IN_FLIGHT;

/// The tag an image reference without tag or digest means.
const DEFAULT_TAG: &str = "latest";

/// ECR's error for an image id that does not exist (it fails the whole call).
const IMAGE_NOT_FOUND: &str = "ImageNotFoundException";

/// ECR's error for a repository that does not exist.
const REPOSITORY_NOT_FOUND: &str = "RepositoryNotFoundException";

/// What one image reference asks ECR for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Wanted {
    /// A digest (a reference with `@sha256:…`; a tag next to it does not matter).
    Digest(String),
    /// A tag.
    Tag(String),
}

impl Wanted {
    fn of(image: &EcrImage) -> Wanted {
        match (&image.digest, &image.tag) {
            (Some(digest), _) => Wanted::Digest(digest.clone()),
            (None, Some(tag)) => Wanted::Tag(tag.clone()),
            (None, None) => Wanted::Tag(DEFAULT_TAG.to_string()),
        }
    }

    fn identifier(&self) -> ImageIdentifier {
        match self {
            Wanted::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
            Wanted::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
        }
    }

    /// Whether an image detail is this image.
    fn matches(&self, detail: &ImageDetail) -> bool {
        match self {
            Wanted::Digest(digest) => detail.image_digest() == Some(digest.as_str()),
            Wanted::Tag(tag) => detail.image_tags().iter().any(|t| t == tag),
        }
    }

    /// Whether ECR's "image not found" message names this image: ECR writes the id as
    /// `{imageDigest:'…', imageTag:'…'}`.
    fn named_in(&self, message: &str) -> bool {
        match self {
            Wanted::Digest(digest) => message.contains(&format!("imageDigest:'{digest}'")),
            Wanted::Tag(tag) => message.contains(&format!("imageTag:'{tag}'")),
        }
    }
}

/// A repository's coordinates: ECR calls are per registry, region and repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Repository {
    account: String,
    region: String,
    name: String,
}

/// The outcome for one wanted image: its digest, or why there is none.
type Resolved = BTreeMap<Wanted, Result<String, String>>;

impl Aws {
    /// Resolves ECR images to digests: one `DescribeImages` per repository (registry account,
    /// region, repository) with all its tags and digests. Answers one resolution per image, in
    /// the order asked. A missing tag or digest, or repository, is an
    /// [`ImageResolution::Missing`] with ECR's reason, not an error.
    ///
    /// ECR fails the whole call when one id does not exist; berth then drops the id ECR's
    /// message names and asks again for the rest (or, if the message names none, asks per
    /// image), so each missing image costs one more call.
    pub async fn describe_images(
        &self,
        images: &[EcrImage],
    ) -> Result<Vec<ImageResolution>, AwsError> {
        let mut by_repository: BTreeMap<Repository, Vec<Wanted>> = BTreeMap::new();
        for image in images {
            let wanted = by_repository
                .entry(Repository {
                    account: image.account.clone(),
                    region: image.region.clone(),
                    name: image.repository.clone(),
                })
                .or_default();
            let id = Wanted::of(image);
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        let resolved: Vec<(Repository, Resolved)> = stream::iter(by_repository)
            .map(|(repository, wanted)| async move {
                let resolved = self.resolve_repository(&repository, wanted).await?;
                Ok::<_, AwsError>((repository, resolved))
            })
            .buffer_unordered(REPOSITORY_CONCURRENCY)
            .try_collect()
            .await?;
        let resolved: BTreeMap<Repository, Resolved> = resolved.into_iter().collect();
        Ok(images
            .iter()
            .map(|image| {
                let repository = Repository {
                    account: image.account.clone(),
                    region: image.region.clone(),
                    name: image.repository.clone(),
                };
                let outcome = resolved
                    .get(&repository)
                    .and_then(|r| r.get(&Wanted::of(image)))
                    .cloned()
                    .unwrap_or_else(|| Err(IMAGE_NOT_FOUND.to_string()));
                let reference = reference(image);
                match outcome {
                    Ok(digest) => ImageResolution::Found { reference, digest },
                    Err(reason) => ImageResolution::Missing { reference, reason },
                }
            })
            .collect())
    }

    /// Resolves the images of one repository, in batches of 100 ids.
    async fn resolve_repository(
        &self,
        repository: &Repository,
        wanted: Vec<Wanted>,
    ) -> Result<Resolved, AwsError> {
        let mut resolved = Resolved::new();
        for batch in wanted.chunks(DESCRIBE_IMAGES_BATCH) {
            let mut pending: Vec<Wanted> = batch.to_vec();
            while !pending.is_empty() {
                match self.describe_image_batch(repository, &pending).await? {
                    Answer::Details(details) => {
                        for id in pending.drain(..) {
                            let digest = details
                                .iter()
                                .find(|detail| id.matches(detail))
                                .and_then(|detail| detail.image_digest().map(str::to_string))
                                .ok_or_else(|| IMAGE_NOT_FOUND.to_string());
                            resolved.insert(id, digest);
                        }
                    }
                    Answer::RepositoryNotFound => {
                        for id in pending.drain(..) {
                            resolved.insert(id, Err(REPOSITORY_NOT_FOUND.to_string()));
                        }
                    }
                    Answer::ImageNotFound(message) => {
                        let named = pending.iter().position(|id| id.named_in(&message));
                        match named {
                            Some(index) => {
                                let id = pending.remove(index);
                                resolved.insert(id, Err(IMAGE_NOT_FOUND.to_string()));
                            }
                            None if pending.len() == 1 => {
                                for id in pending.drain(..) {
                                    resolved.insert(id, Err(IMAGE_NOT_FOUND.to_string()));
                                }
                            }
                            None => {
                                // The message names no id we asked for: ask one by one.
                                for id in pending.drain(..) {
                                    let one = std::slice::from_ref(&id);
                                    let outcome =
                                        match self.describe_image_batch(repository, one).await? {
                                            Answer::Details(details) => details
                                                .iter()
                                                .find(|detail| id.matches(detail))
                                                .and_then(|d| d.image_digest().map(str::to_string))
                                                .ok_or_else(|| IMAGE_NOT_FOUND.to_string()),
                                            Answer::RepositoryNotFound => {
                                                Err(REPOSITORY_NOT_FOUND.to_string())
                                            }
                                            Answer::ImageNotFound(_) => {
                                                Err(IMAGE_NOT_FOUND.to_string())
                                            }
                                        };
                                    resolved.insert(id, outcome);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(resolved)
    }

    /// One `DescribeImages` call.
    async fn describe_image_batch(
        &self,
        repository: &Repository,
        ids: &[Wanted],
    ) -> Result<Answer, AwsError> {
        let client = self.ecr_client(&repository.region);
        let result = client
            .describe_images()
            .registry_id(&repository.account)
            .repository_name(&repository.name)
            .set_image_ids(Some(ids.iter().map(Wanted::identifier).collect()))
            .send()
            .await;
        match result {
            Ok(output) => Ok(Answer::Details(output.image_details().to_vec())),
            Err(error) => match AwsError::from_sdk("ECR", "DescribeImages", error) {
                AwsError::Api { code, message, .. } if code == IMAGE_NOT_FOUND => {
                    Ok(Answer::ImageNotFound(message))
                }
                AwsError::Api { code, .. } if code == REPOSITORY_NOT_FOUND => {
                    Ok(Answer::RepositoryNotFound)
                }
                other => Err(other),
            },
        }
    }
}

/// What one `DescribeImages` call said.
enum Answer {
    /// The images.
    Details(Vec<ImageDetail>),
    /// Some id does not exist; ECR's message (which names it).
    ImageNotFound(String),
    /// The repository does not exist.
    RepositoryNotFound,
}

/// The image reference an ECR image was parsed from.
fn reference(image: &EcrImage) -> String {
    let mut text = format!(
        "{}.dkr.ecr.{}.amazonaws.com/{}",
        image.account, image.region, image.repository
    );
    if let Some(tag) = &image.tag {
        text.push(':');
        text.push_str(tag);
    }
    if let Some(digest) = &image.digest {
        text.push('@');
        text.push_str(digest);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ids_are_found_in_ecr_messages() {
        let message = "The image with imageId {imageDigest:'null', imageTag:'v9'} does not exist \
                       within the repository with name 'web' in the registry with id '123'";
        assert!(Wanted::Tag("v9".into()).named_in(message));
        assert!(!Wanted::Tag("v".into()).named_in(message));
        assert!(!Wanted::Digest("sha256:ab".into()).named_in(message));
    }

    #[test]
    fn references_round_trip_through_the_parser() {
        let text = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:1.2";
        let image = berth_core::image::ImageRef::parse(text)
            .unwrap()
            .ecr()
            .unwrap();
        assert_eq!(reference(&image), text);
        assert_eq!(Wanted::of(&image), Wanted::Tag("1.2".into()));
    }
}
