//! Loading a manifest set: parse, merge `_defaults.yaml`, substitute variables, deserialize,
//! validate. One bad file or document never stops the others: it becomes an [`InvalidManifest`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{
    API_VERSION, KIND_SERVICE, ManifestDocument, ManifestSpans, Metadata, Origin, ServiceId,
    ServiceManifest, defaults, hints, vars,
};
use crate::de::from_node;
use crate::diag::{Diagnostic, FieldPath, Severity, Span};
use crate::field_path;
use crate::target::Targets;
use crate::validate;
use crate::yaml::{self, Limits, Node, Value, parse_documents_with};

/// A manifest file's path (relative to the manifest root, `/`-separated) and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the manifest root, e.g. `prod/web.yaml`.
    pub path: String,
    /// The file's text, or why the source could not read it.
    pub content: FileContent,
}

impl SourceFile {
    /// A file that was read as text.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            content: FileContent::Text(text.into()),
        }
    }

    /// A file the source found but could not read: it loads as one [`InvalidManifest`].
    pub fn unreadable(path: impl Into<String>, why: Unreadable) -> Self {
        SourceFile {
            path: path.into(),
            content: FileContent::Unreadable(why),
        }
    }

    /// A file read as `bytes` (at most `max_file_bytes` + 1 of them): its text, or why it is
    /// unreadable (over the limit, or not UTF-8, positioned at the first invalid byte).
    pub fn from_bytes(path: impl Into<String>, bytes: Vec<u8>, max_file_bytes: usize) -> Self {
        if bytes.len() > max_file_bytes {
            let why = Unreadable::TooLarge {
                limit: max_file_bytes,
            };
            return SourceFile::unreadable(path, why);
        }
        match String::from_utf8(bytes) {
            Ok(text) => SourceFile::new(path, text),
            Err(err) => {
                let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
                // The prefix is valid UTF-8, so this never falls back.
                let valid = std::str::from_utf8(valid).unwrap_or_default();
                let line = valid.matches('\n').count() + 1;
                let column = valid
                    .rsplit('\n')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .count()
                    + 1;
                let why = Unreadable::NotUtf8 {
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                };
                SourceFile::unreadable(path, why)
            }
        }
    }

    /// The file's text, when it could be read.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            FileContent::Text(text) => Some(text),
            FileContent::Unreadable(_) => None,
        }
    }
}

/// What a source found in a manifest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    /// The file's text.
    Text(String),
    /// The file exists in the set but could not be read. Its services are unknown, so the file
    /// is Invalid (and nothing may be pruned), while the other files still load.
    Unreadable(Unreadable),
}

/// Why a source could not read a manifest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Larger than the size limit: reading stopped at `limit + 1` bytes.
    TooLarge {
        /// The limit the source applied, in bytes (`Limits::max_file_bytes`).
        limit: usize,
    },
    /// Not UTF-8; the first invalid byte is at this 1-based line and column.
    NotUtf8 {
        /// Line of the first invalid byte.
        line: u32,
        /// Column (in characters) of the first invalid byte.
        column: u32,
    },
    /// Not a regular file (a FIFO, a socket, a device): never opened.
    NotRegularFile {
        /// What it is, e.g. `FIFO`.
        kind: String,
    },
    /// The operating system (or git) refused: permissions, a damaged object.
    Io {
        /// The OS's message.
        message: String,
    },
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::TooLarge { limit } => write!(f, "larger than {limit} bytes"),
            Unreadable::NotUtf8 { line, column } => {
                write!(f, "not UTF-8 (first invalid byte at {line}:{column})")
            }
            Unreadable::NotRegularFile { kind } => write!(f, "a {kind}, not a regular file"),
            Unreadable::Io { message } => write!(f, "cannot read: {message}"),
        }
    }
}

impl Unreadable {
    /// The error for this file: positioned, saying what to do.
    fn diagnostic(&self, file: &Arc<str>) -> Diagnostic {
        let at = |line, column| Span::new(file.clone(), line, column);
        let (span, message) = match self {
            Unreadable::TooLarge { limit } => {
                let limits = Limits {
                    max_file_bytes: *limit,
                    ..Limits::default()
                };
                return yaml::too_large(file, None, &limits);
            }
            Unreadable::NotUtf8 { line, column } => (
                at(*line, *column),
                "not UTF-8 text (the first invalid byte is here); manifests must be UTF-8 YAML: \
                 re-save the file as UTF-8"
                    .to_string(),
            ),
            Unreadable::NotRegularFile { kind } => (
                at(1, 1),
                format!(
                    "a {kind}, not a regular file, so berth does not open it; replace it with the \
                     manifest file itself, or rename it so it does not end in .yaml/.yml"
                ),
            ),
            Unreadable::Io { message } => (
                at(1, 1),
                format!("cannot read this file: {message}; check its permissions"),
            ),
        };
        Diagnostic::error(span, FieldPath::root(), message)
    }
}

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Values for `${NAME}` references.
    pub vars: vars::Vars,
    /// Whether to substitute `${NAME}` at all. Off, strings are taken literally (used for
    /// files written for other tools, whose `${...}`/`{{ }}` placeholders are not ours).
    pub substitute_vars: bool,
    /// Bounds on what one file may cost to parse (size, nesting, alias expansion).
    pub limits: Limits,
    /// `targets:` of berth.yaml: every service resolves to one of them
    /// ([`ServiceManifest::target`]). `None` (no targets): `metadata.target` is an error.
    pub targets: Option<Targets>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            vars: vars::Vars::new(),
            substitute_vars: true,
            limits: Limits::default(),
            targets: None,
        }
    }
}

/// A document (or a whole file) that could not be loaded; its service is Invalid.
#[derive(Debug, Clone)]
pub struct InvalidManifest {
    /// The service it declares, when that could still be read; `None` when the file did not
    /// even parse (then every service in it is unknown, so nothing may be pruned).
    pub id: Option<ServiceId>,
    /// The target it resolves to, when there are targets and it could still be resolved;
    /// `None` with targets: it may belong to any of them.
    pub target: Option<String>,
    /// Where it is.
    pub origin: Origin,
    /// Why it is invalid (errors first, then any warnings).
    pub diagnostics: Vec<Diagnostic>,
}

/// The result of loading a manifest set.
#[derive(Debug, Clone, Default)]
pub struct LoadOutcome {
    /// Services that loaded and validated, in file order.
    pub services: Vec<ServiceManifest>,
    /// Documents and files that did not.
    pub invalid: Vec<InvalidManifest>,
    /// Warnings about services that are still valid.
    pub warnings: Vec<Diagnostic>,
}

impl LoadOutcome {
    /// Every error, in file order.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.invalid
            .iter()
            .flat_map(|invalid| invalid.diagnostics.iter())
            .filter(|diag| diag.is_error())
    }

    /// Whether everything loaded.
    pub fn is_valid(&self) -> bool {
        self.invalid.is_empty()
    }
}

/// Whether `path` is a shared-settings file rather than a manifest.
pub fn is_defaults_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "_defaults.yaml" || name == "_defaults.yml"
}

fn directory_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Whether defaults in `dir` apply to a file in `file_dir`.
fn applies_to(dir: &str, file_dir: &str) -> bool {
    dir.is_empty()
        || file_dir == dir
        || file_dir
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A `_defaults.yaml`: its directory and its tree, or why it could not be read.
struct Defaults {
    dir: String,
    file: Arc<str>,
    tree: Result<Node, Vec<Diagnostic>>,
}

const DOCUMENT_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];

fn load_defaults(file: &SourceFile, limits: &Limits) -> Defaults {
    let name: Arc<str> = Arc::from(file.path.as_str());
    let tree = parse_file(&name, file, limits)
        .map_err(|diag| vec![diag])
        .and_then(|docs| {
            let mut docs: Vec<Node> = docs.into_iter().filter(|doc| !doc.is_null()).collect();
            if docs.len() != 1 {
                let span = docs.get(1).map_or_else(|| Span::new(name.clone(), 1, 1), |d| d.span.clone());
                return Err(vec![Diagnostic::error(
                    span,
                    FieldPath::root(),
                    "a `_defaults.yaml` holds exactly one YAML document (shared settings), not several",
                )]);
            }
            let doc = docs.remove(0);
            let Value::Map(entries) = &doc.value else {
                return Err(vec![Diagnostic::error(
                    doc.span.clone(),
                    FieldPath::root(),
                    "a `_defaults.yaml` must be a map with `metadata` and/or `spec`",
                )]);
            };
            let unknown: Vec<Diagnostic> = entries
                .iter()
                .filter(|(key, _)| !DOCUMENT_KEYS.contains(&key.name.as_str()))
                .map(|(key, _)| {
                    Diagnostic::error(
                        key.span.clone(),
                        field_path![key.name.as_str()],
                        format!(
                            "unknown field `{}`: defaults may set `metadata` and `spec` (as in a manifest)",
                            key.name
                        ),
                    )
                })
                .collect();
            if unknown.is_empty() { Ok(doc) } else { Err(unknown) }
        });
    Defaults {
        dir: directory_of(&file.path).to_string(),
        file: name,
        tree,
    }
}

/// Loads every manifest in `files`; see the module docs.
pub fn load(files: &[SourceFile], options: &LoadOptions) -> LoadOutcome {
    let mut outcome = LoadOutcome::default();
    let mut defaults: Vec<Defaults> = files
        .iter()
        .filter(|file| is_defaults_file(&file.path))
        .map(|file| load_defaults(file, &options.limits))
        .collect();
    // Outermost first, so that deeper directories override shallower ones.
    defaults.sort_by_key(|d| {
        (
            d.dir.split('/').filter(|s| !s.is_empty()).count(),
            d.dir.clone(),
        )
    });
    for broken in defaults.iter().filter_map(|d| d.tree.as_ref().err()) {
        outcome.invalid.push(InvalidManifest {
            id: None,
            target: None,
            origin: Origin {
                file: broken[0].span.file.clone(),
                document: 0,
                line: broken[0].span.line,
            },
            diagnostics: broken.clone(),
        });
    }

    for file in files.iter().filter(|file| !is_defaults_file(&file.path)) {
        load_file(file, &defaults, options, &mut outcome);
    }

    check_set(&mut outcome);
    outcome
}

fn load_file(
    file: &SourceFile,
    defaults: &[Defaults],
    options: &LoadOptions,
    outcome: &mut LoadOutcome,
) {
    let name: Arc<str> = Arc::from(file.path.as_str());
    let documents = match parse_file(&name, file, &options.limits) {
        Ok(documents) => documents,
        Err(diag) => {
            outcome.invalid.push(InvalidManifest {
                id: None,
                target: None,
                origin: Origin {
                    file: name,
                    document: 0,
                    line: diag.span.line,
                },
                diagnostics: vec![diag],
            });
            return;
        }
    };
    let file_dir = directory_of(&file.path);
    let chain: Vec<&Defaults> = defaults
        .iter()
        .filter(|d| applies_to(&d.dir, file_dir))
        .collect();
    for (index, document) in documents.into_iter().enumerate() {
        if document.is_null() {
            continue; // an empty document, e.g. after a trailing `---`
        }
        let origin = Origin {
            file: name.clone(),
            document: index,
            line: document.span.line,
        };
        match load_document(document, &chain, options) {
            Ok((manifest, warnings)) => {
                outcome.warnings.extend(warnings);
                outcome
                    .services
                    .push(ServiceManifest { origin, ..manifest });
            }
            Err(Rejected {
                id,
                target,
                mut diagnostics,
            }) => {
                diagnostics.sort_by(|a, b| (a.severity, &a.span).cmp(&(b.severity, &b.span)));
                outcome.invalid.push(InvalidManifest {
                    id,
                    target,
                    origin,
                    diagnostics,
                });
            }
        }
    }
}

/// Parses a file's documents, or says why it could not be read.
fn parse_file(
    name: &Arc<str>,
    file: &SourceFile,
    limits: &Limits,
) -> Result<Vec<Node>, Diagnostic> {
    match &file.content {
        FileContent::Text(text) => parse_documents_with(name, text, limits),
        FileContent::Unreadable(why) => Err(why.diagnostic(name)),
    }
}

/// A document that did not load: the service it declares and its target, when those could
/// still be read, and why.
struct Rejected {
    id: Option<ServiceId>,
    target: Option<String>,
    diagnostics: Vec<Diagnostic>,
}

type DocumentResult = Result<(ServiceManifest, Vec<Diagnostic>), Rejected>;

fn load_document(document: Node, chain: &[&Defaults], options: &LoadOptions) -> DocumentResult {
    if !matches!(document.value, Value::Map(_)) {
        return Err(Rejected {
            id: None,
            target: None,
            diagnostics: vec![Diagnostic::error(
                document.span.clone(),
                FieldPath::root(),
                "a manifest document must be a map with `apiVersion`, `kind`, `metadata` and `spec`",
            )],
        });
    }
    let (tree, mut errors) = merged_tree(document, chain, options);
    let id = best_effort_id(&tree);
    let target = best_effort_target(&tree, options.targets.as_ref());
    let rejected = |diagnostics| Rejected {
        id: id.clone(),
        target: target.clone(),
        diagnostics,
    };
    errors.extend(check_header(&tree));
    if !errors.is_empty() {
        return Err(rejected(errors));
    }

    let parsed: ManifestDocument = from_node(&tree).map_err(|err| {
        let span = err.span.clone().unwrap_or_else(|| tree.span.clone());
        rejected(vec![Diagnostic::error(
            span,
            err.path.clone(),
            hints::message(&err),
        )])
    })?;
    let resolved = resolve_target(&tree, &parsed.metadata, options.targets.as_ref());
    let parsed_dependencies = parsed.metadata.depends_on.len();
    let manifest = ServiceManifest {
        id: ServiceId::new(&parsed.metadata.cluster, &parsed.metadata.name),
        metadata: parsed.metadata,
        spec: parsed.spec,
        target: resolved.as_ref().ok().cloned().flatten(),
        origin: Origin {
            file: tree.span.file.clone(),
            document: 0,
            line: tree.span.line,
        },
        spans: ManifestSpans::of(&tree, parsed_dependencies),
    };
    let (mut errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = validate::service(&manifest)
        .into_iter()
        .map(|finding| finding.into_diagnostic(&tree))
        .partition(|diag| diag.severity == Severity::Error);
    errors.extend(resolved.err());
    if errors.is_empty() {
        Ok((manifest, warnings))
    } else {
        errors.extend(warnings);
        Err(rejected(errors))
    }
}

/// The document merged over its `_defaults.yaml` chain, with variables substituted, and the
/// errors of doing so.
fn merged_tree(
    document: Node,
    chain: &[&Defaults],
    options: &LoadOptions,
) -> (Node, Vec<Diagnostic>) {
    let mut errors = Vec::new();
    let mut tree: Option<Node> = None;
    for defaults in chain {
        match &defaults.tree {
            Ok(base) => {
                tree = Some(tree.map_or_else(|| base.clone(), |t| defaults::merge(&t, base)))
            }
            Err(_) => errors.push(Diagnostic::error(
                document.span.clone(),
                FieldPath::root(),
                format!(
                    "cannot apply shared settings: `{}` failed to load (see its error)",
                    defaults.file
                ),
            )),
        }
    }
    let mut tree = match tree {
        Some(base) => defaults::merge(&base, &document),
        None => document,
    };
    if options.substitute_vars {
        errors.extend(vars::substitute(&mut tree, &options.vars));
    }
    (tree, errors)
}

/// The name of the target `metadata` resolves to (`None` without targets), or the error,
/// positioned at `metadata.target` when it is set, else at `metadata.cluster`.
fn resolve_target(
    tree: &Node,
    metadata: &Metadata,
    targets: Option<&Targets>,
) -> Result<Option<String>, Diagnostic> {
    let target_path = field_path!["metadata", "target"];
    let explicit = metadata.target.as_deref();
    let Some(targets) = targets else {
        return match explicit {
            None => Ok(None),
            Some(_) => Err(Diagnostic::error(
                tree.span_of(&target_path),
                target_path,
                "`metadata.target` needs `targets:` in berth.yaml; remove it or configure targets",
            )),
        };
    };
    targets
        .resolve(&metadata.cluster, explicit)
        .map(|target| Some(target.name.clone()))
        .map_err(|unresolved| {
            let path = match explicit {
                Some(_) => target_path,
                None => field_path!["metadata", "cluster"],
            };
            Diagnostic::error(tree.span_of(&path), path, unresolved.message())
        })
}

/// The target a document resolves to, read straight from the tree as [`best_effort_id`] reads
/// its id; `None` without targets or when it does not resolve.
fn best_effort_target(tree: &Node, targets: Option<&Targets>) -> Option<String> {
    let metadata = tree.get("metadata")?;
    let cluster = metadata.get("cluster")?.as_str()?;
    let explicit = match metadata.get("target") {
        Some(node) if !node.is_null() => Some(node.as_str()?),
        _ => None,
    };
    let target = targets?.resolve(cluster, explicit).ok()?;
    Some(target.name.clone())
}

/// `metadata.cluster`/`metadata.name` read straight from the tree, so that even a manifest that
/// fails to deserialize is known as that service (Invalid, never pruned).
fn best_effort_id(tree: &Node) -> Option<ServiceId> {
    let metadata = tree.get("metadata")?;
    let name = metadata.get("name")?.as_str()?;
    let cluster = metadata.get("cluster")?.as_str()?;
    Some(ServiceId::new(cluster, name))
}

fn check_header(tree: &Node) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    match tree.get("apiVersion") {
        None => errors.push(Diagnostic::error(
            tree.span.clone(),
            FieldPath::root(),
            format!("missing `apiVersion: {API_VERSION}`"),
        )),
        Some(node) if node.as_str() != Some(API_VERSION) => errors.push(Diagnostic::error(
            node.span.clone(),
            field_path!["apiVersion"],
            format!(
                "unsupported apiVersion `{}`; this berth reads `{API_VERSION}`",
                node.as_str().unwrap_or("")
            ),
        )),
        Some(_) => {}
    }
    match tree.get("kind") {
        None => errors.push(Diagnostic::error(
            tree.span.clone(),
            FieldPath::root(),
            format!("missing `kind: {KIND_SERVICE}`"),
        )),
        Some(node) if node.as_str() != Some(KIND_SERVICE) => errors.push(Diagnostic::error(
            node.span.clone(),
            field_path!["kind"],
            format!(
                "unsupported kind `{}`; {API_VERSION} has only `{KIND_SERVICE}`",
                node.as_str().unwrap_or("")
            ),
        )),
        Some(_) => {}
    }
    errors
}

/// Where a service is declared, for the checks across manifests: its target (`None` without
/// targets, or for an invalid manifest whose target cannot be told: then it may be in any) and
/// its file.
struct Declared {
    target: Option<String>,
    origin: Origin,
}

impl Declared {
    /// Whether it may be the service of that id in `target`.
    fn may_be_in(&self, target: &Option<String>) -> bool {
        self.target.is_none() || self.target == *target
    }
}

/// The declarations of every service id, valid and invalid.
type Declarations = BTreeMap<ServiceId, Vec<Declared>>;

/// Checks across manifests, within each target: duplicate `(cluster, name)` and `dependsOn`
/// names and cycles.
fn check_set(outcome: &mut LoadOutcome) {
    let mut declared = Declarations::new();
    let valid = outcome
        .services
        .iter()
        .map(|s| (&s.id, &s.target, &s.origin));
    let invalid =
        (outcome.invalid.iter()).filter_map(|i| i.id.as_ref().map(|id| (id, &i.target, &i.origin)));
    for (id, target, origin) in valid.chain(invalid) {
        declared.entry(id.clone()).or_default().push(Declared {
            target: target.clone(),
            origin: origin.clone(),
        });
    }

    let mut rejected: HashMap<usize, Vec<Diagnostic>> = HashMap::new();
    for (index, service) in outcome.services.iter().enumerate() {
        let found = duplicate(service, &declared).into_iter();
        let found = found.chain(missing_dependencies(service, &declared));
        rejected.entry(index).or_default().extend(found);
    }
    for (index, cycle) in dependency_cycles(&outcome.services) {
        let service = &outcome.services[index];
        let path = field_path!["metadata", "dependsOn"];
        rejected.entry(index).or_default().push(Diagnostic::error(
            service.spans.depends_on.clone(),
            path,
            format!(
                "dependsOn cycle: {}; remove one of these dependencies",
                cycle.join(" -> ")
            ),
        ));
    }

    rejected.retain(|_, diagnostics| !diagnostics.is_empty());
    if rejected.is_empty() {
        return;
    }
    let services = std::mem::take(&mut outcome.services);
    for (index, service) in services.into_iter().enumerate() {
        match rejected.remove(&index) {
            Some(diagnostics) => outcome.invalid.push(InvalidManifest {
                id: Some(service.id),
                target: service.target,
                origin: service.origin,
                diagnostics,
            }),
            None => outcome.services.push(service),
        }
    }
}

/// The error for `service` when another manifest declares it too (in its target).
fn duplicate(service: &ServiceManifest, declared: &Declarations) -> Option<Diagnostic> {
    let others: Vec<String> = declared
        .get(&service.id)?
        .iter()
        .filter(|other| other.origin != service.origin && other.may_be_in(&service.target))
        .map(|other| other.origin.to_string())
        .collect();
    if others.is_empty() {
        return None;
    }
    let message = match &service.target {
        None => format!(
            "service `{}` is declared more than once (also at {}); each (cluster, name) must have exactly one manifest",
            service.id,
            others.join(", ")
        ),
        Some(target) => format!(
            "service `{}` of target `{target}` is declared more than once (also at {}); each (cluster, name) must have exactly one manifest per target",
            service.id,
            others.join(", ")
        ),
    };
    let path = field_path!["metadata", "name"];
    Some(Diagnostic::error(service.spans.name.clone(), path, message))
}

/// An error for each `dependsOn` entry of `service` that names no service of its target and
/// cluster.
fn missing_dependencies(service: &ServiceManifest, declared: &Declarations) -> Vec<Diagnostic> {
    let cluster = &service.id.cluster;
    let mut errors = Vec::new();
    for (i, dependency) in service.metadata.depends_on.iter().enumerate() {
        let exists = declared
            .get(&ServiceId::new(cluster, dependency))
            .is_some_and(|all| all.iter().any(|d| d.may_be_in(&service.target)));
        if exists {
            continue;
        }
        let place = match &service.target {
            None => format!("cluster `{cluster}`"),
            Some(target) => format!("cluster `{cluster}` of target `{target}`"),
        };
        let span = service.spans.dependencies.get(i);
        errors.push(Diagnostic::error(
            span.unwrap_or(&service.spans.depends_on).clone(),
            field_path!["metadata", "dependsOn", i],
            format!(
                "depends on `{dependency}`, but {place} has no manifest for a service of that name"
            ),
        ));
    }
    errors
}

/// For every service on a `dependsOn` cycle: its index and the cycle as names, starting at it.
fn dependency_cycles(services: &[ServiceManifest]) -> Vec<(usize, Vec<String>)> {
    let index_of: HashMap<(&Option<String>, &ServiceId), usize> = services
        .iter()
        .enumerate()
        .map(|(i, s)| ((&s.target, &s.id), i))
        .collect();
    let edges: Vec<Vec<usize>> = services
        .iter()
        .map(|service| {
            service
                .metadata
                .depends_on
                .iter()
                .filter_map(|dep| {
                    let id = ServiceId::new(&service.id.cluster, dep);
                    index_of.get(&(&service.target, &id)).copied()
                })
                .collect()
        })
        .collect();
    let mut cycles = Vec::new();
    for start in 0..services.len() {
        if let Some(path) = path_back_to(start, &edges) {
            let mut names: Vec<String> =
                path.iter().map(|&i| services[i].id.name.clone()).collect();
            names.push(services[start].id.name.clone());
            cycles.push((start, names));
        }
    }
    cycles
}

/// A path `start -> ... -> start` through `edges`, if there is one (depth-first).
fn path_back_to(start: usize, edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    let mut visited = vec![false; edges.len()];
    let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
    while let Some((node, next_edge)) = stack.last().copied() {
        match edges[node].get(next_edge) {
            None => {
                stack.pop();
            }
            Some(&target) => {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                if target == start {
                    return Some(stack.iter().map(|(n, _)| *n).collect());
                }
                if !visited[target] {
                    visited[target] = true;
                    stack.push((target, 0));
                }
            }
        }
    }
    None
}
