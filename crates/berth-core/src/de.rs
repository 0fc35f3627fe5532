//! Deserializes typed values from a positioned [`Node`] tree, so errors keep `file:line:column`.
//!
//! Errors carry the field path and the span of the innermost node that failed. Scalars are
//! read leniently where that cannot hide a mistake: a plain `8080` is accepted where ECS wants a
//! string and `"8080"` where it wants a number, since YAML quoting is easy to get wrong and the
//! value is the same.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};

use crate::diag::{FieldPath, Segment, Span};
use crate::yaml::{Node, Resolved, Value};

/// A deserialization failure, positioned at the node that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    /// Path from the deserialized root to the failing field.
    pub path: FieldPath,
    /// Where the failing node (or unknown key) is; set by the innermost level.
    pub span: Option<Span>,
    /// What went wrong.
    pub kind: DeErrorKind,
}

/// What went wrong while deserializing.
#[derive(Debug, Clone, PartialEq)]
pub enum DeErrorKind {
    /// A key the model does not have.
    UnknownField {
        /// The key as written.
        field: String,
        /// The keys the model accepts there.
        expected: &'static [&'static str],
    },
    /// A required key is absent.
    MissingField(&'static str),
    /// A value of the wrong shape (e.g. a map where a list is expected).
    InvalidType {
        /// What was found, e.g. `map`.
        found: String,
        /// What was expected, e.g. `a sequence`.
        expected: String,
    },
    /// Any other message (bad enum value, out-of-range number, …).
    Custom(String),
}

impl DeError {
    fn new(kind: DeErrorKind) -> Self {
        DeError {
            path: FieldPath::root(),
            span: None,
            kind,
        }
    }

    /// Records where the error happened, unless a deeper level already did.
    fn at(mut self, span: &Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span.clone());
        }
        self
    }

    fn within(mut self, segment: Segment) -> Self {
        self.path.prepend(segment);
        self
    }
}

impl fmt::Display for DeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeErrorKind::UnknownField { field, .. } => write!(f, "unknown field `{field}`"),
            DeErrorKind::MissingField(field) => write!(f, "missing field `{field}`"),
            DeErrorKind::InvalidType { found, expected } => {
                write!(f, "expected {expected}, found {found}")
            }
            DeErrorKind::Custom(message) => f.write_str(message),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(DeErrorKind::Custom(msg.to_string()))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(DeErrorKind::UnknownField {
            field: field.to_string(),
            expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(DeErrorKind::MissingField(field))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let found = match unexp {
            de::Unexpected::Map => "a map".to_string(),
            de::Unexpected::Seq => "a list".to_string(),
            de::Unexpected::Unit | de::Unexpected::Option => "null".to_string(),
            other => other.to_string(),
        };
        DeError::new(DeErrorKind::InvalidType {
            found,
            expected: exp.to_string(),
        })
    }
}

/// Deserializes `T` from `node`; errors are positioned in `node`'s file.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer(node)).map_err(|e| e.at(&node.span))
}

/// A serde deserializer over one node.
struct NodeDeserializer<'a>(&'a Node);

impl<'a> NodeDeserializer<'a> {
    fn kind_name(&self) -> de::Unexpected<'a> {
        match &self.0.value {
            Value::Map(_) => de::Unexpected::Map,
            Value::Seq(_) => de::Unexpected::Seq,
            Value::Scalar(scalar) => match scalar.resolve() {
                Resolved::Null => de::Unexpected::Unit,
                Resolved::Bool(b) => de::Unexpected::Bool(b),
                Resolved::Int(i) => de::Unexpected::Signed(i),
                Resolved::Float(x) => de::Unexpected::Float(x),
                Resolved::Str(s) => de::Unexpected::Str(s),
            },
        }
    }

    /// The scalar's text, for numbers given as strings.
    fn scalar_text(&self) -> Option<&'a str> {
        match &self.0.value {
            Value::Scalar(scalar) if scalar.resolve() != Resolved::Null => Some(&scalar.text),
            _ => None,
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.scalar_text().map(str::trim) {
                Some(text) => match text.parse::<i64>() {
                    Ok(value) => visitor.visit_i64(value),
                    Err(_) => match text.parse::<u64>() {
                        Ok(value) => visitor.visit_u64(value),
                        Err(_) => Err(<DeError as de::Error>::invalid_type(
                            self.kind_name(),
                            &"an integer",
                        )),
                    },
                },
                None => Err(<DeError as de::Error>::invalid_type(self.kind_name(), &"an integer")),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for NodeDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Map(entries) => visitor.visit_map(NodeMapAccess {
                entries: entries.iter(),
                value: None,
            }),
            Value::Seq(items) => visitor.visit_seq(NodeSeqAccess {
                items: items.iter().enumerate(),
            }),
            Value::Scalar(scalar) => match scalar.resolve() {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::Float(x) => visitor.visit_f64(x),
                Resolved::Str(_) => visitor.visit_borrowed_str(&scalar.text),
            },
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar_text() {
            Some("true" | "True" | "TRUE") => visitor.visit_bool(true),
            Some("false" | "False" | "FALSE") => visitor.visit_bool(false),
            _ => Err(<DeError as de::Error>::invalid_type(
                self.kind_name(),
                &"a boolean (true or false)",
            )),
        }
    }

    deserialize_integer!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar_text().map(|t| t.trim().parse::<f64>()) {
            Some(Ok(value)) => visitor.visit_f64(value),
            _ => Err(<DeError as de::Error>::invalid_type(
                self.kind_name(),
                &"a number",
            )),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Scalar(scalar) if scalar.resolve() != Resolved::Null => {
                visitor.visit_borrowed_str(&scalar.text)
            }
            _ => Err(<DeError as de::Error>::invalid_type(
                self.kind_name(),
                &visitor,
            )),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_null() {
            visitor.visit_unit()
        } else {
            Err(<DeError as de::Error>::invalid_type(
                self.kind_name(),
                &"null",
            ))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Seq(items) => visitor.visit_seq(NodeSeqAccess {
                items: items.iter().enumerate(),
            }),
            _ => Err(<DeError as de::Error>::invalid_type(
                self.kind_name(),
                &"a list",
            )),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Map(entries) => visitor.visit_map(NodeMapAccess {
                entries: entries.iter(),
                value: None,
            }),
            _ => Err(<DeError as de::Error>::invalid_type(
                self.kind_name(),
                &"a map",
            )),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.scalar_text() {
            Some(text) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(text)),
            None => Err(<DeError as de::Error>::invalid_type(
                self.kind_name(),
                &"a string",
            )),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct NodeSeqAccess<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
}

impl<'de> SeqAccess<'de> for NodeSeqAccess<'de> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        match self.items.next() {
            None => Ok(None),
            Some((index, item)) => seed
                .deserialize(NodeDeserializer(item))
                .map(Some)
                .map_err(|e| e.at(&item.span).within(Segment::Index(index))),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct NodeMapAccess<'a> {
    entries: std::slice::Iter<'a, (crate::yaml::Key, Node)>,
    value: Option<(&'a str, &'a Node)>,
}

impl<'de> MapAccess<'de> for NodeMapAccess<'de> {
    type Error = DeError;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, value)) => {
                self.value = Some((&key.name, value));
                let key_deserializer =
                    de::value::BorrowedStrDeserializer::<DeError>::new(&key.name);
                seed.deserialize(key_deserializer)
                    .map(Some)
                    .map_err(|e| e.at(&key.span).within(Segment::Key(key.name.clone())))
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        match self.value.take() {
            Some((name, value)) => seed
                .deserialize(NodeDeserializer(value))
                .map_err(|e| e.at(&value.span).within(Segment::Key(name.to_string()))),
            None => Err(<DeError as de::Error>::custom("value requested before key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde::Deserialize;

    use super::*;
    use crate::yaml::parse_documents;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Port {
        #[serde(rename = "containerPort")]
        container_port: i32,
        name: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        ports: Option<Vec<Port>>,
        labels: Option<BTreeMap<String, String>>,
        enabled: Option<bool>,
    }

    fn load(text: &str) -> Result<Doc, DeError> {
        let docs = parse_documents(&Arc::from("t.yaml"), text).expect("yaml");
        from_node(&docs[0])
    }

    #[test]
    fn reads_nested_values_leniently() {
        let doc = load(
            "ports:\n  - containerPort: '8080'\n    name: 443\nlabels: {a: 1}\nenabled: true\n",
        )
        .expect("valid");
        assert_eq!(doc.ports.as_ref().map(|p| p[0].container_port), Some(8080));
        assert_eq!(
            doc.ports.as_ref().and_then(|p| p[0].name.clone()),
            Some("443".into())
        );
        assert_eq!(
            doc.labels.and_then(|l| l.get("a").cloned()),
            Some("1".into())
        );
    }

    #[test]
    fn unknown_field_is_positioned_at_its_key() {
        let err = load("ports:\n  - containerPort: 80\n    hostPrt: 80\n").unwrap_err();
        assert_eq!(err.path.to_string(), "ports[0].hostPrt");
        let span = err.span.expect("span");
        assert_eq!((span.line, span.column), (3, 5));
        assert!(
            matches!(err.kind, DeErrorKind::UnknownField { ref field, .. } if field == "hostPrt")
        );
    }

    #[test]
    fn wrong_type_is_positioned_at_the_value() {
        let err = load("labels: [a, b]\n").unwrap_err();
        assert_eq!(err.path.to_string(), "labels");
        let span = err.span.expect("span");
        assert_eq!((span.line, span.column), (1, 9));
        assert!(
            matches!(err.kind, DeErrorKind::InvalidType { ref found, .. } if found == "a list")
        );
    }

    #[test]
    fn missing_field_is_positioned_at_the_map() {
        let err = load("ports:\n  - name: http\n").unwrap_err();
        assert_eq!(err.path.to_string(), "ports[0]");
        assert_eq!(err.kind, DeErrorKind::MissingField("containerPort"));
        assert_eq!(err.span.map(|s| s.line), Some(2));
    }

    #[test]
    fn null_is_none_and_bad_bool_is_an_error() {
        assert_eq!(load("ports: null\n").expect("null ok").ports, None);
        let err = load("enabled: yes\n").unwrap_err();
        assert_eq!(err.path.to_string(), "enabled");
    }
}
