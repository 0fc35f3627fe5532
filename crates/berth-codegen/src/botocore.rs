//! Reading botocore's `service-2.json`: the shapes, their members and documentation.
//!
//! Only what the generator uses is read; validation traits (`min`, `max`, `pattern`), operations
//! and errors are ignored.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use crate::Error;

/// The parts of a botocore service model the generator reads.
#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    /// `metadata`: API version and names.
    pub metadata: Metadata,
    /// All shapes by name.
    pub shapes: BTreeMap<String, Shape>,
}

/// The model's `metadata` object.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// API version, e.g. `2014-11-13`.
    pub api_version: String,
}

/// One shape, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Shape {
    /// An object with named members.
    Structure(Structure),
    /// A homogeneous list.
    List {
        /// The element shape.
        member: ShapeRef,
        /// Marked deprecated by AWS.
        #[serde(default)]
        deprecated: bool,
    },
    /// A map (keys are strings in the ECS model).
    Map {
        /// The key shape.
        key: ShapeRef,
        /// The value shape.
        value: ShapeRef,
    },
    /// A string, possibly restricted to an `enum` list.
    String {
        /// Allowed values, if restricted.
        #[serde(default, rename = "enum")]
        values: Option<Vec<String>>,
        /// HTML documentation.
        #[serde(default)]
        documentation: Option<String>,
    },
    /// A 32-bit integer.
    Integer(Primitive),
    /// A 64-bit integer.
    Long(Primitive),
    /// A boolean.
    Boolean(Primitive),
    /// A double-precision number.
    Double(Primitive),
    /// A single-precision number.
    Float(Primitive),
    /// A point in time.
    Timestamp,
    /// Binary data.
    Blob,
}

/// A number or boolean shape.
#[derive(Debug, Deserialize)]
pub struct Primitive {
    /// botocore's `box`: the value may be absent. An unboxed primitive has a zero default in the
    /// Smithy model, which the Rust SDK stores as a plain value rather than an `Option`.
    #[serde(default, rename = "box")]
    pub boxed: bool,
}

/// A `structure` shape.
#[derive(Debug, Deserialize)]
pub struct Structure {
    /// Members in model order.
    #[serde(deserialize_with = "ordered_members")]
    pub members: Vec<(String, Member)>,
    /// Names of the members that must be present.
    #[serde(default)]
    pub required: Vec<String>,
    /// HTML documentation.
    #[serde(default)]
    pub documentation: Option<String>,
    /// `true` for a free-form JSON document (no fixed members).
    #[serde(default)]
    pub document: bool,
    /// `true` for a union: exactly one member is set.
    #[serde(default)]
    pub union: bool,
    /// Marked deprecated by AWS (the SDK marks its type `#[deprecated]`).
    #[serde(default)]
    pub deprecated: bool,
}

/// A member of a structure.
#[derive(Debug, Deserialize)]
pub struct Member {
    /// The member's shape name.
    pub shape: String,
    /// HTML documentation.
    #[serde(default)]
    pub documentation: Option<String>,
    /// Marked deprecated by AWS (the SDK marks its field and setter `#[deprecated]`).
    #[serde(default)]
    pub deprecated: bool,
}

/// A reference to a shape from a list or map.
#[derive(Debug, Deserialize)]
pub struct ShapeRef {
    /// The referenced shape name.
    pub shape: String,
}

impl ServiceModel {
    /// Parses the JSON text of a `service-2.json`.
    pub fn parse(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json).map_err(Error::Model)
    }

    /// Looks a shape up by name.
    pub fn shape(&self, name: &str) -> Result<&Shape, Error> {
        self.shapes
            .get(name)
            .ok_or_else(|| Error::MissingShape(name.to_string()))
    }

    /// Looks a structure shape up by name.
    pub fn structure(&self, name: &str) -> Result<&Structure, Error> {
        match self.shape(name)? {
            Shape::Structure(structure) => Ok(structure),
            _ => Err(Error::NotAStructure(name.to_string())),
        }
    }
}

impl Shape {
    /// Whether AWS marked the shape deprecated.
    pub fn is_deprecated(&self) -> bool {
        match self {
            Shape::Structure(structure) => structure.deprecated,
            Shape::List { deprecated, .. } => *deprecated,
            _ => false,
        }
    }

    /// Whether this is a number or boolean without `box`: a value with a zero default.
    pub fn is_unboxed_primitive(&self) -> bool {
        match self {
            Shape::Integer(primitive)
            | Shape::Long(primitive)
            | Shape::Boolean(primitive)
            | Shape::Double(primitive)
            | Shape::Float(primitive) => !primitive.boxed,
            _ => false,
        }
    }
}

impl Structure {
    /// Whether the member named `name` is in the `required` list.
    pub fn is_required(&self, name: &str) -> bool {
        self.required.iter().any(|required| required == name)
    }

    /// Whether the structure has a member named `name`.
    pub fn has_member(&self, name: &str) -> bool {
        self.members.iter().any(|(member, _)| member == name)
    }
}

/// Deserializes a JSON object into its entries in document order.
fn ordered_members<'de, D>(deserializer: D) -> Result<Vec<(String, Member)>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    /// Collects map entries in the order they arrive.
    struct Entries;

    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, Member)>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an object of structure members")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }

    deserializer.deserialize_map(Entries)
}
