//! Diagnostics: what a user reads when a manifest is wrong, positioned as `file:line:column`.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A place in a source file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    /// Path of the file as the user knows it (relative to the manifest root where possible).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Span {
    /// A span at `line:column` of `file`.
    pub fn new(file: Arc<str>, line: u32, column: u32) -> Self {
        Span { file, line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One step into a YAML document: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A map key (wire name of a field).
    Key(String),
    /// A list index, 0-based.
    Index(usize),
}

/// Where a field sits in a manifest, e.g. `spec.taskDefinition.containerDefinitions[0].image`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// The empty path: the document itself.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path with a map key appended.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.into()));
        next
    }

    /// This path with a list index appended.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// Puts a segment in front (used while an error bubbles up from a nested value).
    pub fn prepend(&mut self, segment: Segment) {
        self.0.insert(0, segment);
    }

    /// The last map key on the path, if any.
    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|segment| match segment {
            Segment::Key(key) => Some(key.as_str()),
            Segment::Index(_) => None,
        })
    }

    /// Whether the path has no segments.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Builds a [`FieldPath`] from keys (`&str`) and indexes (`usize`).
#[macro_export]
macro_rules! field_path {
    ($($segment:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut path = $crate::diag::FieldPath::root();
        $( path.0.push($crate::diag::IntoSegment::into_segment($segment)); )*
        path
    }};
}

/// Conversion used by [`field_path!`].
pub trait IntoSegment {
    /// Turns a key or an index into a path segment.
    fn into_segment(self) -> Segment;
}

impl IntoSegment for &str {
    fn into_segment(self) -> Segment {
        Segment::Key(self.to_string())
    }
}

impl IntoSegment for String {
    fn into_segment(self) -> Segment {
        Segment::Key(self)
    }
}

impl IntoSegment for usize {
    fn into_segment(self) -> Segment {
        Segment::Index(self)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The service (or file) cannot be used; it is Invalid.
    Error,
    /// Worth fixing, but the service still reconciles.
    Warning,
}

/// A message about a manifest, positioned at the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where in which file.
    #[serde(flatten)]
    pub span: Span,
    /// The field the message is about (empty for a whole file or document).
    pub path: FieldPath,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl Diagnostic {
    /// An error at `span` about the field at `path`.
    pub fn error(span: Span, path: FieldPath, message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Error, span, path, &message.into())
    }

    /// A diagnostic whose message is made fit to print first ([`crate::redact::message`]):
    /// every diagnostic is made through here.
    pub fn new(severity: Severity, span: Span, path: FieldPath, message: &str) -> Self {
        let message = crate::redact::message(&path, message);
        Diagnostic {
            severity,
            span,
            path,
            message,
        }
    }

    /// A warning at `span` about the field at `path`.
    pub fn warning(span: Span, path: FieldPath, message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Warning, span, path, &message.into())
    }

    /// Whether this makes the service Invalid.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.span)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_displays_keys_and_indexes() {
        let path = field_path![
            "spec",
            "taskDefinition",
            "containerDefinitions",
            0usize,
            "image"
        ];
        assert_eq!(
            path.to_string(),
            "spec.taskDefinition.containerDefinitions[0].image"
        );
        assert_eq!(path.last_key(), Some("image"));
    }

    #[test]
    fn diagnostic_reads_file_line_column_field_message() {
        let diag = Diagnostic::error(
            Span::new("prod/web.yaml".into(), 7, 3),
            field_path!["spec", "desiredCont"],
            "unknown field; did you mean `desiredCount`?",
        );
        assert_eq!(
            diag.to_string(),
            "prod/web.yaml:7:3: spec.desiredCont: unknown field; did you mean `desiredCount`?"
        );
        let warn = Diagnostic::warning(Span::new("a.yaml".into(), 1, 1), FieldPath::root(), "x");
        assert_eq!(warn.to_string(), "a.yaml:1:1: warning: x");
    }
}
