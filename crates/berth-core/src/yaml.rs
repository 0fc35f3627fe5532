//! A YAML document tree that remembers where every node came from.
//!
//! Manifests are merged (`_defaults.yaml`), substituted (`${VAR}`) and validated after parsing,
//! and every error must still point at `file:line:column`. Plain YAML values forget positions,
//! so berth parses into this tree (with `yaml-rust2`'s event parser) and deserializes the typed
//! model from it (see [`crate::de`]).

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diag::{Diagnostic, FieldPath, Segment, Span};

/// A YAML value with the position it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts.
    pub span: Span,
}

/// The shape of a YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar: its text and whether it was quoted (quoted scalars are always strings).
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order. Keys are strings; duplicates are rejected at parse time.
    Map(Vec<(Key, Node)>),
}

/// A scalar's text and style.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The text as written (after YAML unescaping).
    pub text: String,
    /// Plain scalars are resolved (null, bool, number, string); quoted ones are strings.
    pub quoted: bool,
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key starts.
    pub span: Span,
}

/// A plain scalar resolved by the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved<'a> {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits i64.
    Int(i64),
    /// A float.
    Float(f64),
    /// Anything else, or any quoted scalar.
    Str(&'a str),
}

impl Scalar {
    /// Resolves the scalar by the YAML 1.2 core schema.
    pub fn resolve(&self) -> Resolved<'_> {
        if self.quoted {
            return Resolved::Str(&self.text);
        }
        let text = self.text.as_str();
        match text {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return Resolved::Float(f64::INFINITY);
            }
            "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
            _ => {}
        }
        if let Some(int) = resolve_int(text) {
            return Resolved::Int(int);
        }
        if looks_like_float(text)
            && let Ok(float) = text.parse::<f64>()
        {
            return Resolved::Float(float);
        }
        Resolved::Str(text)
    }
}

fn resolve_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    !body.is_empty()
        && body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
}

impl Node {
    /// A plain (unquoted) scalar node.
    pub fn scalar(text: impl Into<String>, span: Span) -> Self {
        Node {
            value: Value::Scalar(Scalar {
                text: text.into(),
                quoted: false,
            }),
            span,
        }
    }

    /// A quoted scalar: always a string.
    pub fn string(text: impl Into<String>, span: Span) -> Self {
        Node {
            value: Value::Scalar(Scalar {
                text: text.into(),
                quoted: true,
            }),
            span,
        }
    }

    /// Whether this is a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.resolve() == Resolved::Null)
    }

    /// The string value of a scalar (any plain scalar's text counts).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(scalar) if scalar.resolve() != Resolved::Null => Some(&scalar.text),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key (with its span) of a mapping entry.
    pub fn get_key(&self, key: &str) -> Option<&Key> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, _)| k),
            _ => None,
        }
    }

    /// Removes a key from a mapping node, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        match &mut self.value {
            Value::Map(entries) => {
                let at = entries.iter().position(|(k, _)| k.name == key)?;
                Some(entries.remove(at).1)
            }
            _ => None,
        }
    }

    /// The node at `path`, if every step exists.
    pub fn at(&self, path: &FieldPath) -> Option<&Node> {
        let mut node = self;
        for segment in &path.0 {
            node = match (segment, &node.value) {
                (Segment::Key(key), Value::Map(_)) => node.get(key)?,
                (Segment::Index(i), Value::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The best position for a message about `path`: the key of the field when it exists (so
    /// the caret lands on the field name), else the nearest ancestor that exists.
    pub fn span_of(&self, path: &FieldPath) -> Span {
        let mut node = self;
        let mut best = self.span.clone();
        for segment in &path.0 {
            match (segment, &node.value) {
                (Segment::Key(key), Value::Map(_)) => match (node.get_key(key), node.get(key)) {
                    (Some(k), Some(v)) => {
                        best = k.span.clone();
                        node = v;
                    }
                    _ => return best,
                },
                (Segment::Index(i), Value::Seq(items)) => match items.get(*i) {
                    Some(item) => {
                        best = item.span.clone();
                        node = item;
                    }
                    None => return best,
                },
                _ => return best,
            }
        }
        best
    }
}

/// Parses every document of a YAML (or JSON) file.
///
/// JSON is YAML's flow syntax, so `.json` task definitions load through the same path; the one
/// thing JSON allows that YAML does not is tab indentation, so tabs are turned into spaces first
/// (a tab can only be whitespace in valid JSON, and one byte for one byte keeps every column).
pub fn parse_documents(file: &Arc<str>, text: &str) -> Result<Vec<Node>, Diagnostic> {
    let owned;
    let text = if file.ends_with(".json") && text.contains('\t') {
        owned = text.replace('\t', " ");
        owned.as_str()
    } else {
        text
    };
    let mut builder = TreeBuilder {
        file: file.clone(),
        stack: Vec::new(),
        documents: Vec::new(),
        anchors: HashMap::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(scan) = parser.load(&mut builder, true) {
        let mark = scan.marker();
        return Err(Diagnostic::error(
            span_at(file, mark),
            FieldPath::root(),
            format!("YAML syntax error: {}", scan.info()),
        ));
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.documents)
}

fn span_at(file: &Arc<str>, mark: &Marker) -> Span {
    let line = u32::try_from(mark.line()).unwrap_or(u32::MAX);
    // yaml-rust2 counts columns from 0.
    let column = u32::try_from(mark.col() + 1).unwrap_or(u32::MAX);
    Span::new(file.clone(), line.max(1), column)
}

/// A collection being built: its start, anchor and items so far.
enum Open {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
    },
}

struct TreeBuilder {
    file: Arc<str>,
    stack: Vec<Open>,
    documents: Vec<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<Diagnostic>,
}

impl TreeBuilder {
    fn fail(&mut self, span: Span, message: String) {
        if self.error.is_none() {
            self.error = Some(Diagnostic::error(span, FieldPath::root(), message));
        }
    }

    /// Adds a finished node to the innermost open collection (or as a document).
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    let name = match &node.value {
                        Value::Scalar(scalar) => scalar.text.clone(),
                        _ => {
                            let span = node.span.clone();
                            self.fail(span, "a mapping key must be a plain string".into());
                            return;
                        }
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name) {
                        let message = format!(
                            "duplicate key `{name}` (first at line {}); a later value would silently replace the earlier one, so remove one of them",
                            first.span.line
                        );
                        let span = node.span.clone();
                        self.fail(span, message);
                        return;
                    }
                    *pending_key = Some(Key {
                        name,
                        span: node.span,
                    });
                }
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let span = span_at(&self.file, &mark);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let node = Node {
                    value: Value::Scalar(Scalar { text, quoted }),
                    span,
                };
                self.push(node, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq {
                span,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map {
                span,
                anchor,
                entries: Vec::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq {
                        span,
                        anchor,
                        items,
                    }) => (
                        Node {
                            value: Value::Seq(items),
                            span,
                        },
                        anchor,
                    ),
                    Some(Open::Map {
                        span,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            value: Value::Map(entries),
                            span,
                        },
                        anchor,
                    ),
                    None => return,
                };
                self.push(node, anchor);
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(node) => {
                    // The alias points at the anchored value, but errors in it should point
                    // where it is used.
                    let mut node = node.clone();
                    node.span = span;
                    self.push(node, 0);
                }
                None => self.fail(span, "alias to an unknown anchor".into()),
            },
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Node> {
        parse_documents(&Arc::from("t.yaml"), text).expect("parses")
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let docs = parse("a: 1\nb:\n  c: [x, y]\n");
        let root = &docs[0];
        let c = root.at(&crate::field_path!["b", "c"]).expect("b.c");
        assert_eq!((c.span.line, c.span.column), (3, 6));
        let key = root.span_of(&crate::field_path!["b", "c"]);
        assert_eq!((key.line, key.column), (3, 3));
        let y = root.at(&crate::field_path!["b", "c", 1usize]).expect("y");
        assert_eq!((y.span.line, y.span.column), (3, 10));
    }

    #[test]
    fn several_documents_per_file() {
        let docs = parse("a: 1\n---\nb: 2\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].span.line, 3);
    }

    #[test]
    fn plain_scalars_resolve_by_core_schema_and_quoted_stay_strings() {
        let docs = parse("a: 8080\nb: '8080'\nc: true\nd: ~\ne: 1.5\nf: web\n");
        let resolve = |k: &str| match &docs[0].get(k).expect(k).value {
            Value::Scalar(s) => format!("{:?}", s.resolve()),
            other => panic!("{other:?}"),
        };
        assert_eq!(resolve("a"), "Int(8080)");
        assert_eq!(resolve("b"), "Str(\"8080\")");
        assert_eq!(resolve("c"), "Bool(true)");
        assert_eq!(resolve("d"), "Null");
        assert_eq!(resolve("e"), "Float(1.5)");
        assert_eq!(resolve("f"), "Str(\"web\")");
    }

    #[test]
    fn syntax_error_is_positioned() {
        let err = parse_documents(&Arc::from("bad.yaml"), "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert_eq!(&*err.span.file, "bad.yaml");
        assert!(err.message.starts_with("YAML syntax error"), "{err}");
        assert!(err.span.line >= 2, "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents(&Arc::from("d.yaml"), "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((err.span.line, err.span.column), (3, 1));
        assert!(
            err.message.contains("duplicate key `a` (first at line 1)"),
            "{err}"
        );
    }

    #[test]
    fn aliases_copy_the_anchored_value() {
        let docs = parse("base: &b {x: 1}\nother: *b\n");
        assert_eq!(
            docs[0]
                .get("other")
                .and_then(|n| n.get("x"))
                .and_then(Node::as_str),
            Some("1")
        );
    }

    #[test]
    fn json_with_tab_indentation_parses_with_exact_columns() {
        let docs = parse_documents(
            &Arc::from("t.json"),
            "{\n\t\"a\": {\n\t\t\"b\": 1\n\t}\n}\n",
        )
        .expect("json");
        let b = docs[0].at(&crate::field_path!["a", "b"]).expect("a.b");
        assert_eq!((b.span.line, b.span.column), (3, 8));
    }
}
