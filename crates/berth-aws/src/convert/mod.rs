//! Conversions between berth's ECS model (`berth_core::model::ecs`) and the AWS SDK's types.
//!
//! The per-type impls and the request/response functions are generated (`generated.rs`, from
//! botocore's model by berth-codegen); this module holds the two traits, the error, and the
//! impls for the building blocks the generated code relies on: strings, numbers, `Option`,
//! lists, maps, JSON documents and task-level cpu/memory.

#[rustfmt::skip]
mod generated;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

use aws_smithy_types::error::operation::BuildError;
use aws_smithy_types::{Document, Number};
use berth_core::model::units::{TaskCpu, TaskMemory};

pub use generated::{
    NOT_IN_SDK, SERVICE_SPEC_NOT_ON_SERVICE, SERVICE_SPEC_NOT_UPDATABLE, create_service,
    register_task_definition, service_spec_from_sdk, service_to_sdk, task_definition_from_sdk,
    task_definition_to_sdk, update_service,
};

/// A berth model value that converts into an AWS SDK value.
pub trait ToSdk {
    /// The SDK type.
    type Sdk;

    /// Converts; fails when the SDK cannot represent the value (see [`ConvertError`]).
    fn to_sdk(&self) -> Result<Self::Sdk, ConvertError>;
}

/// A berth model type that can be read from an AWS SDK value of type `S`.
pub trait FromSdk<S: ?Sized>: Sized {
    /// Converts; fails when berth's model cannot represent the value (see [`ConvertError`]).
    fn from_sdk(value: &S) -> Result<Self, ConvertError>;
}

/// An SDK enum: its wire string (every SDK enum has an inherent `as_str`; this trait lets the
/// generated code treat them alike).
pub trait SdkEnum {
    /// The value as ECS writes it.
    fn wire(&self) -> &str;
}

/// Why a value does not convert between berth's model and the SDK. Every variant carries the
/// field path inside the converted value (`containerDefinitions[0].logConfiguration.logDriver`),
/// empty for the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The SDK holds an enum value that berth's model does not know (ECS added it after the
    /// AWS model berth was generated from).
    #[error(
        "{}unknown {type_name} value `{value}`: berth's ECS model does not know it (a newer ECS feature? upgrade berth)",
        At(path)
    )]
    UnknownEnumValue {
        /// Where.
        path: String,
        /// The model enum.
        type_name: &'static str,
        /// The value.
        value: String,
    },
    /// The SDK returned a union variant that the SDK itself does not know.
    #[error(
        "{}unknown {shape} variant: the AWS SDK does not know it (a newer ECS feature?)",
        At(path)
    )]
    UnknownUnionVariant {
        /// Where.
        path: String,
        /// The union shape.
        shape: &'static str,
    },
    /// A union (exactly one member must be set) has none or several set.
    #[error("{}{shape} needs exactly one member set, found {set}", At(path))]
    Union {
        /// Where.
        path: String,
        /// The union shape.
        shape: &'static str,
        /// How many members were set.
        set: usize,
    },
    /// The SDK's builder refused the value: a member ECS requires is missing.
    #[error("{}invalid {shape}: {message}", At(path))]
    Build {
        /// Where.
        path: String,
        /// The SDK shape.
        shape: &'static str,
        /// The SDK's message (names the missing member).
        message: String,
    },
    /// An SDK value lacks a member that berth's model requires.
    #[error("{}missing: ECS returned no value for a required member", At(path))]
    MissingMember {
        /// Where (ends with the member).
        path: String,
    },
    /// The value sets a member that the AWS SDK version berth is built with does not have, so
    /// it cannot be sent.
    #[error(
        "{}is not supported by the AWS SDK berth is built with (aws-sdk-ecs is older than the ECS model); leave it out or upgrade berth",
        At(path)
    )]
    NotInSdk {
        /// Where (ends with the member).
        path: String,
    },
    /// A value that does not convert (task cpu/memory text ECS returned, a number in a JSON
    /// document that JSON cannot hold).
    #[error("{}{message}", At(path))]
    InvalidValue {
        /// Where.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Displays a path as `path: `, or nothing when empty.
struct At<'a>(&'a str);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "{}: ", self.0)
        }
    }
}

impl ConvertError {
    /// The field path inside the converted value.
    pub fn path(&self) -> &str {
        match self {
            ConvertError::UnknownEnumValue { path, .. }
            | ConvertError::UnknownUnionVariant { path, .. }
            | ConvertError::Union { path, .. }
            | ConvertError::Build { path, .. }
            | ConvertError::MissingMember { path }
            | ConvertError::NotInSdk { path }
            | ConvertError::InvalidValue { path, .. } => path,
        }
    }

    /// The error as seen from the value containing the field `segment` (a member name, or
    /// `[index]`): `segment` is put in front of the path.
    pub fn at(mut self, segment: &str) -> Self {
        let path = match &mut self {
            ConvertError::UnknownEnumValue { path, .. }
            | ConvertError::UnknownUnionVariant { path, .. }
            | ConvertError::Union { path, .. }
            | ConvertError::Build { path, .. }
            | ConvertError::MissingMember { path }
            | ConvertError::NotInSdk { path }
            | ConvertError::InvalidValue { path, .. } => path,
        };
        let joined = if path.is_empty() {
            segment.to_string()
        } else if path.starts_with('[') {
            format!("{segment}{path}")
        } else {
            format!("{segment}.{path}")
        };
        *path = joined;
        self
    }

    /// A builder's refusal for the SDK shape `shape`.
    pub(crate) fn build(shape: &'static str, error: &BuildError) -> Self {
        ConvertError::Build {
            path: String::new(),
            shape,
            message: error.to_string(),
        }
    }
}

/// Converts the field `name` to the SDK, naming it in any error.
fn to_field<T: ToSdk + ?Sized>(name: &str, value: &T) -> Result<T::Sdk, ConvertError> {
    value.to_sdk().map_err(|error| error.at(name))
}

/// Reads the field `name` from the SDK, naming it in any error.
fn from_field<S: ?Sized, T: FromSdk<S>>(name: &str, value: &S) -> Result<T, ConvertError> {
    T::from_sdk(value).map_err(|error| error.at(name))
}

/// Reads a member the model requires but the SDK keeps optional.
fn required_field<S, T: FromSdk<S>>(name: &str, value: Option<&S>) -> Result<T, ConvertError> {
    match value {
        Some(value) => from_field(name, value),
        None => Err(ConvertError::MissingMember {
            path: name.to_string(),
        }),
    }
}

/// Reads an optional enum; an empty string reads as unset, as the model's serde does.
fn optional_enum_field<S: SdkEnum, T: FromSdk<S>>(
    name: &str,
    value: &Option<S>,
) -> Result<Option<T>, ConvertError> {
    match value {
        Some(value) if !value.wire().is_empty() => from_field(name, value).map(Some),
        _ => Ok(None),
    }
}

/// Fails when a member the SDK does not have is set.
fn not_in_sdk<T>(name: &str, value: &Option<T>) -> Result<(), ConvertError> {
    match value {
        Some(_) => Err(ConvertError::NotInSdk {
            path: name.to_string(),
        }),
        None => Ok(()),
    }
}

/// A model enum from an SDK enum's wire string.
fn enum_from_sdk<T: FromStr>(type_name: &'static str, value: &str) -> Result<T, ConvertError> {
    value.parse().map_err(|_| ConvertError::UnknownEnumValue {
        path: String::new(),
        type_name,
        value: value.to_string(),
    })
}

/// `None` for an empty string (a member the SDK defaults to empty).
fn empty_as_none(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

/// `None` for an empty list.
fn non_empty<T>(values: Vec<T>) -> Option<Vec<T>> {
    if values.is_empty() {
        None
    } else {
        Some(values)
    }
}

/// Impls for values that are the same type on both sides.
macro_rules! identity {
    ($($ty:ty),*) => {$(
        impl ToSdk for $ty {
            type Sdk = $ty;

            fn to_sdk(&self) -> Result<$ty, ConvertError> {
                Ok(self.clone())
            }
        }

        impl FromSdk<$ty> for $ty {
            fn from_sdk(value: &$ty) -> Result<$ty, ConvertError> {
                Ok(value.clone())
            }
        }
    )*};
}

identity!(String, bool, i32, i64, f64);

impl<T: ToSdk> ToSdk for Option<T> {
    type Sdk = Option<T::Sdk>;

    fn to_sdk(&self) -> Result<Self::Sdk, ConvertError> {
        self.as_ref().map(T::to_sdk).transpose()
    }
}

impl<S, T: FromSdk<S>> FromSdk<Option<S>> for Option<T> {
    fn from_sdk(value: &Option<S>) -> Result<Self, ConvertError> {
        value.as_ref().map(T::from_sdk).transpose()
    }
}

impl<T: ToSdk> ToSdk for Vec<T> {
    type Sdk = Vec<T::Sdk>;

    fn to_sdk(&self) -> Result<Self::Sdk, ConvertError> {
        self.iter()
            .enumerate()
            .map(|(index, item)| item.to_sdk().map_err(|e| e.at(&format!("[{index}]"))))
            .collect()
    }
}

impl<S, T: FromSdk<S>> FromSdk<[S]> for Vec<T> {
    fn from_sdk(value: &[S]) -> Result<Self, ConvertError> {
        value
            .iter()
            .enumerate()
            .map(|(index, item)| T::from_sdk(item).map_err(|e| e.at(&format!("[{index}]"))))
            .collect()
    }
}

impl<S, T: FromSdk<S>> FromSdk<Vec<S>> for Vec<T> {
    fn from_sdk(value: &Vec<S>) -> Result<Self, ConvertError> {
        Self::from_sdk(value.as_slice())
    }
}

impl<K, V> ToSdk for BTreeMap<K, V>
where
    K: ToSdk + fmt::Display,
    K::Sdk: Eq + Hash,
    V: ToSdk,
{
    type Sdk = HashMap<K::Sdk, V::Sdk>;

    fn to_sdk(&self) -> Result<Self::Sdk, ConvertError> {
        self.iter()
            .map(|(key, value)| {
                let at = |e: ConvertError| e.at(&format!("[{key}]"));
                Ok((key.to_sdk().map_err(at)?, value.to_sdk().map_err(at)?))
            })
            .collect()
    }
}

impl<KS, VS, K, V> FromSdk<HashMap<KS, VS>> for BTreeMap<K, V>
where
    KS: fmt::Display,
    K: FromSdk<KS> + Ord,
    V: FromSdk<VS>,
{
    fn from_sdk(value: &HashMap<KS, VS>) -> Result<Self, ConvertError> {
        value
            .iter()
            .map(|(key, value)| {
                let at = |e: ConvertError| e.at(&format!("[{key}]"));
                Ok((
                    K::from_sdk(key).map_err(at)?,
                    V::from_sdk(value).map_err(at)?,
                ))
            })
            .collect()
    }
}

impl ToSdk for TaskCpu {
    type Sdk = String;

    fn to_sdk(&self) -> Result<String, ConvertError> {
        Ok(self.to_string())
    }
}

impl FromSdk<String> for TaskCpu {
    fn from_sdk(value: &String) -> Result<Self, ConvertError> {
        TaskCpu::parse(value).map_err(|message| ConvertError::InvalidValue {
            path: String::new(),
            message,
        })
    }
}

impl ToSdk for TaskMemory {
    type Sdk = String;

    fn to_sdk(&self) -> Result<String, ConvertError> {
        Ok(self.to_string())
    }
}

impl FromSdk<String> for TaskMemory {
    fn from_sdk(value: &String) -> Result<Self, ConvertError> {
        TaskMemory::parse(value).map_err(|message| ConvertError::InvalidValue {
            path: String::new(),
            message,
        })
    }
}

impl ToSdk for serde_json::Value {
    type Sdk = Document;

    fn to_sdk(&self) -> Result<Document, ConvertError> {
        Ok(match self {
            serde_json::Value::Null => Document::Null,
            serde_json::Value::Bool(value) => Document::Bool(*value),
            serde_json::Value::Number(number) => Document::Number(json_number(number)),
            serde_json::Value::String(text) => Document::String(text.clone()),
            serde_json::Value::Array(items) => Document::Array(items.to_sdk()?),
            serde_json::Value::Object(entries) => Document::Object(
                entries
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), to_field(key, value)?)))
                    .collect::<Result<_, ConvertError>>()?,
            ),
        })
    }
}

/// A JSON number as a document number (integers stay integers).
fn json_number(number: &serde_json::Number) -> Number {
    if let Some(value) = number.as_u64() {
        Number::PosInt(value)
    } else if let Some(value) = number.as_i64() {
        Number::NegInt(value)
    } else {
        // serde_json numbers are u64, i64 or a finite f64.
        Number::Float(number.as_f64().unwrap_or_default())
    }
}

impl FromSdk<Document> for serde_json::Value {
    fn from_sdk(value: &Document) -> Result<Self, ConvertError> {
        Ok(match value {
            Document::Null => serde_json::Value::Null,
            Document::Bool(value) => serde_json::Value::Bool(*value),
            Document::Number(Number::PosInt(value)) => serde_json::Value::from(*value),
            Document::Number(Number::NegInt(value)) => serde_json::Value::from(*value),
            Document::Number(Number::Float(value)) => serde_json::Number::from_f64(*value)
                .map(serde_json::Value::Number)
                .ok_or_else(|| ConvertError::InvalidValue {
                    path: String::new(),
                    message: format!("{value} is not a JSON number"),
                })?,
            Document::String(text) => serde_json::Value::String(text.clone()),
            Document::Array(items) => serde_json::Value::Array(Vec::from_sdk(items)?),
            Document::Object(entries) => {
                // Sorted, so that a value read twice compares equal.
                let sorted: BTreeMap<&String, &Document> = entries.iter().collect();
                let mut object = serde_json::Map::new();
                for (key, value) in sorted {
                    object.insert(key.clone(), from_field(key, value)?);
                }
                serde_json::Value::Object(object)
            }
        })
    }
}

#[cfg(test)]
mod tests;
