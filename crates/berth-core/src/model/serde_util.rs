//! Serde helpers shared by the generated ECS model.

use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer};

/// Deserializes an optional enum where an empty string means unset.
///
/// `describe-task-definition` output and tools that dump it (ecspresso) write `""` for enum
/// fields that are not set (`ipcMode: ""`); ECS treats that as absent, and so does berth.
pub fn option_enum_empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => text.parse().map(Some).map_err(de::Error::custom),
    }
}
