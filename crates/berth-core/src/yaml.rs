//! A YAML document tree that remembers where every node came from.
//!
//! Manifests are merged (`_defaults.yaml`), substituted (`${VAR}`) and validated after parsing,
//! and every error must still point at `file:line:column`. Plain YAML values forget positions,
//! so berth parses into this tree (with `yaml-rust2`'s event parser) and deserializes the typed
//! model from it (see [`crate::de`]).

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

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

/// Bounds on what parsing one file may cost.
///
/// Manifests come from anyone who can merge, so no file may exhaust the daemon's stack, memory
/// or time. Every bound is far beyond what a real manifest needs; going past one is an error at
/// the `file:line:column` where it happened, naming the bound. [`Limits::default`] is the one
/// place the defaults are set; loaders take them through `LoadOptions::limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest file read, in bytes. Default: 1 MiB (1,048,576).
    pub max_file_bytes: usize,
    /// The deepest nesting of sequences and maps; a document's top level is level 1. The tree
    /// (and everything that walks it: clone, drop, merge, deserialize) recurses once per level,
    /// so this bound is also what keeps the stack safe. Default: 64.
    pub max_depth: usize,
    /// Anchors (`&a`) and aliases (`*a`) copy nodes. A file may copy at most this many times
    /// the nodes it contains (and this many times its size in scalar text), so that a few
    /// hundred bytes cannot expand into gigabytes. Default: 10.
    pub alias_expansion_factor: usize,
    /// Copies allowed whatever the file's size, in nodes (scalar text: `max_file_bytes`).
    /// Default: 10,000.
    pub min_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 1024 * 1024,
            max_depth: 64,
            alias_expansion_factor: 10,
            min_alias_nodes: 10_000,
        }
    }
}

/// How to name a limit in a message: which field to change, and where.
fn knob(field: &str) -> String {
    format!("the bound is `{field}` in berth's parse limits (`LoadOptions::limits`)")
}

/// The error for a file over [`Limits::max_file_bytes`] (`size` when known), positioned at the
/// file's start.
pub fn too_large(file: &Arc<str>, size: Option<usize>, limits: &Limits) -> Diagnostic {
    let what = match size {
        Some(size) => format!("file is {size} bytes, over"),
        None => "file is larger than".to_string(),
    };
    Diagnostic::error(
        Span::new(file.clone(), 1, 1),
        FieldPath::root(),
        format!(
            "{what} the {} byte limit for one manifest file ({}); split it into several files",
            limits.max_file_bytes,
            knob("max_file_bytes")
        ),
    )
}

/// Parses every document of a YAML (or JSON) file within the default [`Limits`].
///
/// JSON is YAML's flow syntax, so `.json` task definitions load through the same path; the one
/// thing JSON allows that YAML does not is tab indentation, so tabs are turned into spaces first
/// (a tab can only be whitespace in valid JSON, and one byte for one byte keeps every column).
pub fn parse_documents(file: &Arc<str>, text: &str) -> Result<Vec<Node>, Diagnostic> {
    parse_documents_with(file, text, &Limits::default())
}

/// Parses every document of a YAML (or JSON) file within `limits`; see [`parse_documents`].
///
/// yaml-rust2's scanner and parser keep their own explicit stacks (no recursion on the input's
/// shape), and this loop pulls their events one at a time, so the only recursive structure is
/// the finished tree, whose depth [`Limits::max_depth`] bounds.
pub fn parse_documents_with(
    file: &Arc<str>,
    text: &str,
    limits: &Limits,
) -> Result<Vec<Node>, Diagnostic> {
    if text.len() > limits.max_file_bytes {
        return Err(too_large(file, Some(text.len()), limits));
    }
    let owned;
    let text = if file.ends_with(".json") && text.contains('\t') {
        owned = text.replace('\t', " ");
        owned.as_str()
    } else {
        text
    };
    let mut builder = TreeBuilder {
        file: file.clone(),
        text,
        limits,
        stack: Vec::new(),
        documents: Vec::new(),
        anchors: HashMap::new(),
        copied: Stats::default(),
        source_nodes: None,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|scan| syntax_error(file, &scan, limits))?;
        if event == Event::StreamEnd {
            break;
        }
        builder.on_event(event, &mark)?;
    }
    Ok(builder.documents)
}

/// yaml-rust2's scanner counts flow nesting (`[`, `{`) in a `u8` and stops at this level.
const SCANNER_MAX_FLOW_DEPTH: usize = 255;

fn syntax_error(file: &Arc<str>, scan: &ScanError, limits: &Limits) -> Diagnostic {
    let span = span_at(file, scan.marker());
    // The scanner reads ahead of the events (a flow collection may turn out to be a key), so
    // deep flow nesting can reach its own bound before the builder sees level `max_depth`.
    if scan.info() == "recursion limit exceeded" {
        return too_deep(
            span,
            "this value",
            limits.max_depth.min(SCANNER_MAX_FLOW_DEPTH),
        );
    }
    Diagnostic::error(
        span,
        FieldPath::root(),
        format!("YAML syntax error: {}", scan.info()),
    )
}

/// The error for nesting deeper than `max` levels.
fn too_deep(span: Span, what: &str, max: usize) -> Diagnostic {
    Diagnostic::error(
        span,
        FieldPath::root(),
        format!(
            "{what} is nested more than {max} levels deep ({}); no manifest needs that much \
             nesting: flatten it",
            knob("max_depth")
        ),
    )
}

fn span_at(file: &Arc<str>, mark: &Marker) -> Span {
    let line = u32::try_from(mark.line()).unwrap_or(u32::MAX);
    // yaml-rust2 counts columns from 0.
    let column = u32::try_from(mark.col() + 1).unwrap_or(u32::MAX);
    Span::new(file.clone(), line.max(1), column)
}

/// The size of a node: how many nodes it holds (itself included), how many collection levels
/// deep it is (a scalar is 0), and how many bytes of scalar text it holds.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    nodes: usize,
    depth: usize,
    bytes: usize,
}

impl Stats {
    fn scalar(text: &str) -> Self {
        Stats {
            nodes: 1,
            depth: 0,
            bytes: text.len(),
        }
    }

    fn collection() -> Self {
        Stats {
            nodes: 1,
            depth: 1,
            bytes: 0,
        }
    }

    /// Counts `child` into this collection.
    fn add(&mut self, child: &Stats) {
        self.nodes = self.nodes.saturating_add(child.nodes);
        self.bytes = self.bytes.saturating_add(child.bytes);
        self.depth = self.depth.max(child.depth.saturating_add(1));
    }
}

/// A collection being built: its start, anchor, size and items so far.
enum Open {
    Seq {
        span: Span,
        anchor: usize,
        stats: Stats,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        stats: Stats,
        entries: Vec<(Key, Node)>,
        /// Key name to its entry's index: the duplicate check stays linear in the map's size.
        index: HashMap<String, usize>,
        pending_key: Option<Key>,
    },
}

impl Open {
    fn finish(self) -> (Node, Stats, usize) {
        match self {
            Open::Seq {
                span,
                anchor,
                stats,
                items,
            } => (
                Node {
                    value: Value::Seq(items),
                    span,
                },
                stats,
                anchor,
            ),
            Open::Map {
                span,
                anchor,
                stats,
                entries,
                ..
            } => (
                Node {
                    value: Value::Map(entries),
                    span,
                },
                stats,
                anchor,
            ),
        }
    }
}

/// Builds [`Node`] trees from parser events, one event at a time, within [`Limits`].
struct TreeBuilder<'a> {
    file: Arc<str>,
    text: &'a str,
    limits: &'a Limits,
    stack: Vec<Open>,
    documents: Vec<Node>,
    /// Anchored nodes of the current document, by the parser's anchor id.
    anchors: HashMap<usize, (Node, Stats)>,
    /// What anchors and aliases have copied so far (`depth` unused).
    copied: Stats,
    /// Nodes written in the file, counted on first need (most files never need it).
    source_nodes: Option<usize>,
}

impl TreeBuilder<'_> {
    fn error(&self, span: Span, message: String) -> Diagnostic {
        Diagnostic::error(span, FieldPath::root(), message)
    }

    fn on_event(&mut self, event: Event, mark: &Marker) -> Result<(), Diagnostic> {
        let span = span_at(&self.file, mark);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let stats = Stats::scalar(&text);
                let node = Node {
                    value: Value::Scalar(Scalar { text, quoted }),
                    span,
                };
                self.push(node, stats, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.check_open(&span)?;
                self.stack.push(Open::Seq {
                    span,
                    anchor,
                    stats: Stats::collection(),
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.check_open(&span)?;
                self.stack.push(Open::Map {
                    span,
                    anchor,
                    stats: Stats::collection(),
                    entries: Vec::new(),
                    index: HashMap::new(),
                    pending_key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(open) => {
                    let (node, stats, anchor) = open.finish();
                    self.push(node, stats, anchor)
                }
                None => Ok(()),
            },
            Event::Alias(anchor) => self.alias(anchor, span),
            Event::DocumentStart => {
                // Anchors are scoped to their document.
                self.anchors.clear();
                Ok(())
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        }
    }

    /// Checks that a collection may start here: not too deep, and not as a mapping key (a key
    /// must be a string; rejecting it at its start keeps `? ? ? …` from nesting at all).
    fn check_open(&self, span: &Span) -> Result<(), Diagnostic> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(too_deep(span.clone(), "this value", self.limits.max_depth));
        }
        if let Some(Open::Map {
            pending_key: None, ..
        }) = self.stack.last()
        {
            return Err(self.error(span.clone(), "a mapping key must be a plain string".into()));
        }
        Ok(())
    }

    fn alias(&mut self, anchor: usize, span: Span) -> Result<(), Diagnostic> {
        let Some(stats) = self.anchors.get(&anchor).map(|(_, stats)| *stats) else {
            return Err(self.error(span, "alias to an unknown anchor".into()));
        };
        if self.stack.len().saturating_add(stats.depth) > self.limits.max_depth {
            return Err(too_deep(
                span,
                "the value this alias copies",
                self.limits.max_depth,
            ));
        }
        // Counted before copying, so a bomb stops before it allocates.
        self.charge(&stats, &span)?;
        let Some((node, _)) = self.anchors.get(&anchor) else {
            return Err(self.error(span, "alias to an unknown anchor".into()));
        };
        // The alias points at the anchored value, but errors in it should point where it is
        // used.
        let mut node = node.clone();
        node.span = span;
        self.push(node, stats, 0)
    }

    /// Counts a copy made for an anchor or alias against the expansion bounds.
    fn charge(&mut self, stats: &Stats, span: &Span) -> Result<(), Diagnostic> {
        self.copied.add(stats);
        let limits = self.limits;
        let factor = limits.alias_expansion_factor;
        let max_bytes = limits
            .max_file_bytes
            .max(factor.saturating_mul(self.text.len()));
        let too_many = if self.copied.nodes > limits.min_alias_nodes {
            let source = self.source_nodes();
            let max_nodes = limits.min_alias_nodes.max(factor.saturating_mul(source));
            (self.copied.nodes > max_nodes).then(|| {
                format!(
                    "{max_nodes} nodes (the larger of {} and {factor} × the {source} nodes \
                     written in the file)",
                    limits.min_alias_nodes
                )
            })
        } else {
            None
        };
        let too_many = too_many.or_else(|| {
            (self.copied.bytes > max_bytes).then(|| format!("{max_bytes} bytes of text"))
        });
        match too_many {
            None => Ok(()),
            Some(what) => Err(self.error(
                span.clone(),
                format!(
                    "anchors and aliases expand to more than {what} ({} and `min_alias_nodes`); \
                     write the values out, or copy less through aliases",
                    knob("alias_expansion_factor")
                ),
            )),
        }
    }

    /// The nodes written in the file (aliases not counted), by a second pass of the parser.
    fn source_nodes(&mut self) -> usize {
        if let Some(count) = self.source_nodes {
            return count;
        }
        let mut parser = Parser::new_from_str(self.text);
        let mut count = 0usize;
        while let Ok((event, _)) = parser.next_token() {
            match event {
                Event::StreamEnd => break,
                Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => {
                    count += 1;
                }
                _ => {}
            }
        }
        self.source_nodes = Some(count);
        count
    }

    /// Adds a finished node to the innermost open collection (or as a document).
    fn push(&mut self, node: Node, stats: Stats, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.charge(&stats, &node.span)?;
            self.anchors.insert(anchor, (node.clone(), stats));
        }
        let Some(open) = self.stack.last_mut() else {
            self.documents.push(node);
            return Ok(());
        };
        match open {
            Open::Seq {
                items, stats: own, ..
            } => {
                own.add(&stats);
                items.push(node);
                Ok(())
            }
            Open::Map {
                stats: own,
                entries,
                index,
                pending_key,
                ..
            } => {
                own.add(&stats);
                match pending_key.take() {
                    Some(key) => {
                        entries.push((key, node));
                        Ok(())
                    }
                    None => {
                        let key = map_key(node, entries, index)?;
                        *pending_key = Some(key);
                        Ok(())
                    }
                }
            }
        }
    }
}

/// Turns a finished node in key position into a [`Key`], rejecting non-strings and duplicates.
fn map_key(
    node: Node,
    entries: &[(Key, Node)],
    index: &mut HashMap<String, usize>,
) -> Result<Key, Diagnostic> {
    let Value::Scalar(scalar) = node.value else {
        return Err(Diagnostic::error(
            node.span,
            FieldPath::root(),
            "a mapping key must be a plain string",
        ));
    };
    if let Some(&first) = index.get(&scalar.text) {
        let line = entries.get(first).map_or(0, |(key, _)| key.span.line);
        return Err(Diagnostic::error(
            node.span,
            FieldPath::root(),
            format!(
                "duplicate key `{}` (first at line {line}); a later value would silently replace \
                 the earlier one, so remove one of them",
                scalar.text
            ),
        ));
    }
    index.insert(scalar.text.clone(), entries.len());
    Ok(Key {
        name: scalar.text,
        span: node.span,
    })
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
