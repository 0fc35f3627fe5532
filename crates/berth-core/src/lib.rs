//! berth-core: the pure core everything else depends on — manifest model, loading, validation,
//! rendering. No IO, no async: inputs are strings and values, outputs are values.

pub mod de;
pub mod diag;
#[doc(hidden)]
pub mod fuzzing;
pub mod image;
pub mod live;
pub mod manifest;
pub mod model;
pub mod normalize;
pub mod plan;
pub mod redact;
pub mod render;
pub mod secret;
pub mod target;
pub mod validate;
pub mod vocabulary;
pub mod yaml;

#[cfg(test)]
mod fixtures;
