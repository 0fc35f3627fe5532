//! berth-codegen: generates berth's serde model of the ECS API input shapes
//! (`crates/berth-core/src/model/ecs.rs`) from botocore's ECS API model, the conversions
//! between that model and the Rust AWS SDK's types (`crates/berth-aws/src/convert/generated.rs`),
//! and the manifest reference for users (`docs/manifest-reference.md`).
//!
//! `botocore` reads the model, `plan` picks the shapes berth embeds and applies berth's
//! overrides, `fields` derives the service field tables berth-engine uses, `docs` turns the
//! model's HTML documentation into rustdoc, `names` makes Rust identifiers, and `render` writes
//! the model source, with a table of every struct's fields by wire name. `sdk` maps the model onto the SDK's
//! types (with its override table) and `convert` writes the conversions. `reference` writes the
//! manifest reference from the same plan, with berth's envelope and validation rules from the
//! Markdown templates in `src/reference/` (berth-core's `tests/reference.rs` checks those
//! against the loader and the validation rules).

mod botocore;
mod convert;
mod docs;
mod fields;
mod names;
mod plan;
mod reference;
mod render;
mod sdk;

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
    /// The manifest reference cannot be written (a type it cannot name, a broken link).
    #[error("cannot write the manifest reference: {0}")]
    Reference(String),
}

/// The committed AWS model the generator reads.
pub fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("model/ecs-2014-11-13.json")
}

/// The generated file.
pub fn output_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../berth-core/src/model/ecs.rs")
}

/// The generated conversions file.
pub fn convert_output_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../berth-aws/src/convert/generated.rs")
}

/// The generated manifest reference.
pub fn reference_output_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/manifest-reference.md")
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Where it is written.
    pub path: PathBuf,
    /// Its path relative to the workspace root, for messages.
    pub shown: &'static str,
    /// Its content.
    pub text: String,
}

/// Generates the Rust source of `ecs.rs` from the JSON text of the AWS model.
pub fn generate(model_json: &str) -> Result<String, Error> {
    let model = botocore::ServiceModel::parse(model_json)?;
    let plan = plan::plan(&model)?;
    Ok(render::render(&plan, BOTOCORE_VERSION))
}

/// Generates every output file from the JSON text of the AWS model: the model (`ecs.rs`), the
/// SDK conversions (`generated.rs`) and the manifest reference (`manifest-reference.md`).
pub fn generate_all(model_json: &str) -> Result<Vec<Output>, Error> {
    let model = botocore::ServiceModel::parse(model_json)?;
    let plan = plan::plan(&model)?;
    let convert_plan = sdk::convert_plan(&model, &plan)?;
    Ok(vec![
        Output {
            path: output_path(),
            shown: "crates/berth-core/src/model/ecs.rs",
            text: render::render(&plan, BOTOCORE_VERSION),
        },
        Output {
            path: convert_output_path(),
            shown: "crates/berth-aws/src/convert/generated.rs",
            text: convert::render(&convert_plan, &plan.api_version, BOTOCORE_VERSION),
        },
        Output {
            path: reference_output_path(),
            shown: "docs/manifest-reference.md",
            text: reference::render(&plan, BOTOCORE_VERSION)?,
        },
    ])
}
