//! berth-codegen: generates berth's serde model of the ECS API input shapes
//! (`crates/berth-core/src/model/ecs.rs`) from botocore's ECS API model.
//!
//! `botocore` reads the model, `plan` picks the shapes berth embeds and applies berth's
//! overrides, `docs` turns the model's HTML documentation into rustdoc, `names` makes Rust
//! identifiers, and `render` writes the source.

mod botocore;
mod docs;
mod names;
mod plan;
mod render;

use std::path::PathBuf;

/// The botocore release the committed model comes from (see `model/SOURCE.md`).
pub const BOTOCORE_VERSION: &str = "1.44.5";

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model file is not a botocore service model.
    #[error("cannot read the AWS model: {0}")]
    Model(#[source] serde_json::Error),
    /// A shape or member berth names is not in the model.
    #[error("the AWS model has no shape or member `{0}`")]
    MissingShape(String),
    /// A shape berth uses as an object is not a structure.
    #[error("AWS model shape `{0}` is not a structure")]
    NotAStructure(String),
    /// A name does not make a Rust identifier.
    #[error("{0}")]
    Name(String),
    /// Two model names map to the same Rust name.
    #[error("name clash: {0}")]
    Clash(String),
    /// A structure contains itself without a list or map in between.
    #[error("shape `{0}` contains itself; the generator would need to box it")]
    Recursive(String),
}

/// The committed AWS model the generator reads.
pub fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("model/ecs-2014-11-13.json")
}

/// The generated file.
pub fn output_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../berth-core/src/model/ecs.rs")
}

/// Generates the Rust source of `ecs.rs` from the JSON text of the AWS model.
pub fn generate(model_json: &str) -> Result<String, Error> {
    let model = botocore::ServiceModel::parse(model_json)?;
    let plan = plan::plan(&model)?;
    Ok(render::render(&plan, BOTOCORE_VERSION))
}
