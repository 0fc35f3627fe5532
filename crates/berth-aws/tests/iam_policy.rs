//! The IAM policy of berth's task role in `deploy/aws/berth.yaml` is derived from the code: it
//! must grant exactly the AWS actions berth-aws can call, no more and no fewer.
//!
//! What berth can call is read from the source of this crate (the only one that names AWS SDK
//! types): every SDK fluent-builder call (`self.ecs.describe_services()`, `self.ecs_client()
//! .tag_resource()`, however the chain is spread over lines) whose method is one of the real
//! operations of `aws-sdk-ecs`, `aws-sdk-ecr` or `aws-sdk-dynamodb`. The operations are listed
//! from those crates' own sources (`src/operation/`, located with `cargo metadata`), so a method
//! that is not an operation is never counted and a new operation call always is. Each operation
//! becomes the IAM action of the same name (`ecs:DescribeServices`), plus the actions the call
//! implies ([`IMPLIED`]). The task role's `Allow` statements are read from the template (CloudFormation
//! short tags such as `!Ref`, `!Sub` and `!If` included) and the two sets compared.
//!
//! The template's structural rules are checked too: `iam:PassRole` only on named roles and only
//! to ECS tasks, and berth's service deploying with at most 100 % and at least 0 % (never two
//! berth tasks at once). docs/operations.md explains the policy line by line.
//!
//! berth's own manifest (`deploy/aws/manifest/berth.yaml`) must describe the service the template
//! creates, since every berth task after the first comes from it: it is loaded as `berth
//! validate` loads it (with `vars.example.yaml`), rendered as `berth render` renders it, and
//! compared with the template's task definition and service; its variables must be the ones the
//! template passes to berth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use berth_core::manifest::{self, LoadOptions, SourceFile};
use berth_core::render::{self, Provenance};
use serde_json::{Value as Json, json};

/// The template, relative to the workspace root.
const TEMPLATE: &str = "deploy/aws/berth.yaml";
/// berth's own manifest, describing the service the template creates.
const SELF_MANIFEST: &str = "deploy/aws/manifest/berth.yaml";
/// The example values of that manifest's variables.
const SELF_MANIFEST_VARS: &str = "deploy/aws/manifest/vars.example.yaml";

/// The SDK crates berth-aws calls AWS through, by the name berth-aws depends on them.
const SDK_CRATES: [&str; 3] = ["aws_sdk_ecs", "aws_sdk_ecr", "aws_sdk_dynamodb"];

/// Actions a call needs besides its own, and why. IAM authorizes some requests as more than one
/// action; these are the ones berth's calls trigger.
const IMPLIED: &[(&str, &str, &str)] = &[
    (
        "ecs:CreateService",
        "ecs:TagResource",
        "CreateService carries berth's ownership tags, and ECS authorizes tags given at creation \
         as ecs:TagResource (condition key ecs:CreateAction = CreateService)",
    ),
    (
        "ecs:RegisterTaskDefinition",
        "ecs:TagResource",
        "RegisterTaskDefinition carries berth's ownership tags, and ECS authorizes tags given at \
         creation as ecs:TagResource (condition key ecs:CreateAction = RegisterTaskDefinition)",
    ),
    (
        "ecs:RegisterTaskDefinition",
        "iam:PassRole",
        "a task definition's taskRoleArn and executionRoleArn are passed to ECS tasks \
         (iam:PassedToService = ecs-tasks.amazonaws.com)",
    ),
];

// ---------------------------------------------------------------------------------------------
// The operations of the SDK crates

/// One SDK operation: its IAM action, by the fluent-builder method that calls it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Operation {
    /// The SDK crate (`aws_sdk_ecs`).
    sdk: String,
    /// `ecs:DescribeServices`.
    action: String,
}

/// Every operation of the SDK crates, by method name (`describe_services`). A name both crates
/// have (`tag_resource`) maps to both operations.
type Operations = BTreeMap<String, Vec<Operation>>;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The real operations of the SDK versions berth-aws builds with.
fn sdk_operations() -> &'static Operations {
    static OPERATIONS: OnceLock<Operations> = OnceLock::new();
    OPERATIONS.get_or_init(|| {
        let mut operations = Operations::new();
        for (sdk, root) in sdk_crate_roots() {
            for (method, action) in operations_of(&root) {
                operations.entry(method).or_default().push(Operation {
                    sdk: sdk.clone(),
                    action,
                });
            }
        }
        operations
    })
}

/// Where each SDK crate's sources are, from `cargo metadata`: the packages berth-aws's resolved
/// dependencies named in [`SDK_CRATES`] point at.
fn sdk_crate_roots() -> Vec<(String, PathBuf)> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run `cargo metadata`");
    assert!(
        output.status.success(),
        "`cargo metadata --format-version 1 --locked` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Json = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let own_manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("Cargo.toml")
        .canonicalize()
        .expect("berth-aws's Cargo.toml");
    let own_id = packages
        .iter()
        .find(|package| {
            package["manifest_path"]
                .as_str()
                .and_then(|path| Path::new(path).canonicalize().ok())
                .is_some_and(|path| path == own_manifest)
        })
        .and_then(|package| package["id"].as_str())
        .expect("berth-aws in cargo metadata's packages");
    let node = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .find(|node| node["id"].as_str() == Some(own_id))
        .expect("berth-aws in cargo metadata's resolve graph");
    SDK_CRATES
        .iter()
        .map(|sdk| {
            let id = node["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .find(|dep| dep["name"].as_str() == Some(sdk))
                .and_then(|dep| dep["pkg"].as_str())
                .unwrap_or_else(|| panic!("berth-aws depends on {sdk}"));
            let manifest = packages
                .iter()
                .find(|package| package["id"].as_str() == Some(id))
                .and_then(|package| package["manifest_path"].as_str())
                .unwrap_or_else(|| panic!("{id} in cargo metadata's packages"));
            let root = Path::new(manifest)
                .parent()
                .expect("crate root")
                .to_path_buf();
            (sdk.to_string(), root)
        })
        .collect()
}

/// The operations of one SDK crate: each module of `src/operation/` is one, and its
/// `src/operation/<name>.rs` names the API operation and the service
/// (`Metadata::new("DescribeServices", "ECS")`): the IAM action is `ecs:DescribeServices`.
fn operations_of(crate_root: &Path) -> Vec<(String, String)> {
    let dir = crate_root.join("src/operation");
    let mut operations = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if !path.is_dir() {
            continue;
        }
        let method = path
            .file_name()
            .and_then(|name| name.to_str())
            .expect("UTF-8 module name")
            .to_string();
        let file = dir.join(format!("{method}.rs"));
        let source =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (operation, service) = operation_metadata(&source).unwrap_or_else(|| {
            panic!("{}: no `Metadata::new(operation, service)`", file.display())
        });
        assert_eq!(
            snake_case(&operation),
            method,
            "{}: operation {operation} in module {method}",
            file.display()
        );
        operations.push((method, format!("{}:{operation}", service.to_lowercase())));
    }
    assert!(
        operations.len() > 10,
        "{}: only {} operations found",
        dir.display(),
        operations.len()
    );
    operations
}

/// The two string arguments of the SDK's `orchestrator::Metadata::new("Operation", "SERVICE")`.
fn operation_metadata(source: &str) -> Option<(String, String)> {
    let start = source.find("orchestrator::Metadata::new(")? + "orchestrator::Metadata::new(".len();
    let arguments = &source[start..start + source[start..].find(')')?];
    let mut literals = arguments.split('"').skip(1).step_by(2);
    Some((literals.next()?.to_string(), literals.next()?.to_string()))
}

/// `DescribeServices` -> `describe_services`.
fn snake_case(pascal: &str) -> String {
    let mut out = String::new();
    for (index, c) in pascal.char_indices() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Scanning berth-aws's sources for SDK calls

/// The actions berth's code needs, each with where it comes from (`src/ecs.rs:100`, or the call
/// that implies it).
type Needed = BTreeMap<String, BTreeSet<String>>;

/// The actions a set of Rust sources (path relative to `src/`, text) calls, or the call sites
/// whose SDK cannot be told.
fn calls_in(files: &[(String, String)], operations: &Operations) -> Result<Needed, Vec<String>> {
    let cleaned: Vec<(String, String, Vec<String>)> = files
        .iter()
        .map(|(path, text)| {
            let (code, test_modules) = without_test_code(&code_only(text));
            let excluded = test_modules
                .iter()
                .map(|name| module_dir(path).join(name))
                .map(|dir| dir.to_string_lossy().into_owned())
                .collect();
            (path.clone(), code, excluded)
        })
        .collect();
    let excluded: Vec<&String> = cleaned.iter().flat_map(|(_, _, ex)| ex).collect();
    let is_test_file = |path: &str| {
        excluded
            .iter()
            .any(|module| path == format!("{module}.rs") || path.starts_with(&format!("{module}/")))
    };
    let mut needed = Needed::new();
    let mut unresolved = Vec::new();
    for (path, code, _) in &cleaned {
        if is_test_file(path) {
            continue;
        }
        for call in sdk_calls(code) {
            let Some(candidates) = operations.get(&call.method) else {
                continue;
            };
            let site = format!("src/{path}:{}", call.line);
            let operation = match candidates.as_slice() {
                [only] => only,
                several => match receiver_sdk(code, &call, several) {
                    Some(operation) => operation,
                    None => {
                        unresolved.push(format!(
                            "{site}: `.{}()` is an operation of {}, and its receiver `{}` does \
                             not say which client it is; call it on a receiver whose name says \
                             (`ecs`, `ecs_client()`, `ecr_client(..)`) or bind the client to a \
                             variable from one",
                            call.method,
                            several
                                .iter()
                                .map(|o| o.sdk.as_str())
                                .collect::<Vec<_>>()
                                .join(" and "),
                            call.receiver.join(".")
                        ));
                        continue;
                    }
                },
            };
            needed
                .entry(operation.action.clone())
                .or_default()
                .insert(site);
        }
    }
    if unresolved.is_empty() {
        Ok(needed)
    } else {
        Err(unresolved)
    }
}

/// The actions of [`calls_in`], plus the ones [`IMPLIED`] adds.
fn with_implied(mut needed: Needed) -> Needed {
    for (call, action, why) in IMPLIED {
        if needed.contains_key(*call) {
            needed
                .entry(action.to_string())
                .or_default()
                .insert(format!("implied by {call}: {why}"));
        }
    }
    needed
}

/// Every `.rs` file under `dir`, as (path relative to `dir` with `/`, text), sorted.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("read source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let text = std::fs::read_to_string(&path).expect("read source file");
                files.push((relative, text));
            }
        }
    }
    files.sort();
    files
}

/// The directory that holds the child modules of the module in `path` (`lib.rs` -> ``,
/// `convert/mod.rs` -> `convert`, `ecs.rs` -> `ecs`).
fn module_dir(path: &str) -> PathBuf {
    let path = Path::new(path);
    let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
    match path.file_name().and_then(|name| name.to_str()) {
        Some("lib.rs" | "main.rs" | "mod.rs") => parent,
        _ => parent.join(path.file_stem().expect("file stem")),
    }
}

/// `text` with comments and the contents of string and character literals replaced by spaces
/// (newlines kept, so lines still count): what is left is code.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        match literal_or_comment_end(&chars, i) {
            Some(end) => {
                let blanked = chars[i..end]
                    .iter()
                    .map(|&c| if c == '\n' { '\n' } else { ' ' });
                out.extend(blanked);
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// Where the comment, string or character literal that starts at `chars[i]` ends (exclusive),
/// if one starts there.
fn literal_or_comment_end(chars: &[char], i: usize) -> Option<usize> {
    let next = chars.get(i + 1).copied();
    let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    match chars[i] {
        '/' if next == Some('/') => Some(
            (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len()),
        ),
        '/' if next == Some('*') => Some(block_comment_end(chars, i)),
        'r' if !after_ident => raw_string_end(chars, i),
        '"' => Some(string_end(chars, i)),
        // A character literal ('x', '\n', '\u{1F600}'); otherwise `'` starts a lifetime.
        '\'' if next == Some('\\') || chars.get(i + 2) == Some(&'\'') => Some(
            (i + 2..chars.len())
                .find(|&j| chars[j] == '\'' && (chars[j - 1] != '\\' || j == i + 3))
                .map_or(chars.len(), |j| j + 1),
        ),
        _ => None,
    }
}

/// The end of the block comment at `start`; block comments nest.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// The end of the raw string `r"…"` or `r#"…"#` at `start` (it ends at `"` followed by as many
/// `#`), or `None` when `r` starts no raw string there.
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    let hashes = chars[start + 1..].iter().take_while(|&&c| c == '#').count();
    if chars.get(start + 1 + hashes) != Some(&'"') {
        return None;
    }
    let closes = |j: usize| {
        chars[j] == '"'
            && chars[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
    };
    Some(
        (start + 2 + hashes..chars.len())
            .find(|&j| closes(j))
            .map_or(chars.len(), |j| j + 1 + hashes),
    )
}

/// The end of the string literal at `start` (a `"`), escapes included.
fn string_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// `code` (from [`code_only`]) with every item under `#[cfg(test)]` blanked, and the names of the
/// test modules declared as files (`#[cfg(test)] mod tests;`).
fn without_test_code(code: &str) -> (String, Vec<String>) {
    let mut chars: Vec<char> = code.chars().collect();
    let mut modules = Vec::new();
    let pattern: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + pattern.len() <= chars.len() {
        if chars[i..i + pattern.len()] != pattern[..] {
            i += 1;
            continue;
        }
        let end = item_end(&chars, i + pattern.len());
        let item: String = chars[i + pattern.len()..end].iter().collect();
        let words: Vec<&str> = item
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        if item.trim_end().ends_with(';')
            && let Some(at) = words.iter().position(|w| *w == "mod")
            && let Some(name) = words.get(at + 1)
        {
            modules.push(name.to_string());
        }
        for c in &mut chars[i..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end;
    }
    (chars.into_iter().collect(), modules)
}

/// The end (exclusive) of the item that starts at `start`: its first `;` outside brackets, or
/// the `}` closing its first `{`.
fn item_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    for (j, &c) in chars.iter().enumerate().skip(start) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => return j + 1,
            '{' if depth == 0 => {
                let mut braces = 0usize;
                for (k, &c) in chars.iter().enumerate().skip(j) {
                    match c {
                        '{' => braces += 1,
                        '}' => {
                            braces -= 1;
                            if braces == 0 {
                                return k + 1;
                            }
                        }
                        _ => {}
                    }
                }
                return chars.len();
            }
            _ => {}
        }
    }
    chars.len()
}

/// A method call with no arguments, `<receiver>.<method>()`: the shape of every SDK
/// fluent-builder call (its inputs are set on the builder afterwards).
#[derive(Debug)]
struct Call {
    method: String,
    /// The receiver chain, outermost first (`self.ecs_client()` -> `["self", "ecs_client"]`).
    receiver: Vec<String>,
    /// Where the `.` is, in chars.
    at: usize,
    line: usize,
}

/// Every call `.name()` in `code` (whitespace allowed anywhere between the tokens).
fn sdk_calls(code: &str) -> Vec<Call> {
    let chars: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let skip_ws = |mut k: usize| {
        while k < chars.len() && chars[k].is_whitespace() {
            k += 1;
        }
        k
    };
    let mut calls = Vec::new();
    for at in 0..chars.len() {
        if chars[at] != '.' || chars.get(at + 1) == Some(&'.') || (at > 0 && chars[at - 1] == '.') {
            continue;
        }
        let start = skip_ws(at + 1);
        let mut end = start;
        while end < chars.len() && is_ident(chars[end]) {
            end += 1;
        }
        if end == start || chars[start].is_ascii_digit() {
            continue;
        }
        let open = skip_ws(end);
        if chars.get(open) != Some(&'(') {
            continue;
        }
        let close = skip_ws(open + 1);
        if chars.get(close) != Some(&')') {
            continue;
        }
        calls.push(Call {
            method: chars[start..end].iter().collect(),
            receiver: receiver_chain(&chars, at),
            at,
            line: 1 + chars[..at].iter().filter(|&&c| c == '\n').count(),
        });
    }
    calls
}

/// The identifiers of the receiver expression that ends just before `chars[dot]`, walking back
/// over `.`, `::`, `?`, calls with their arguments, and whitespace.
fn receiver_chain(chars: &[char], dot: usize) -> Vec<String> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut idents = Vec::new();
    let mut k = dot;
    loop {
        while k > 0 && chars[k - 1].is_whitespace() {
            k -= 1;
        }
        while k > 0 && chars[k - 1] == '?' {
            k -= 1;
        }
        if k > 0 && chars[k - 1] == ')' {
            let mut depth = 0usize;
            while k > 0 {
                k -= 1;
                match chars[k] {
                    ')' => depth += 1,
                    '(' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            while k > 0 && chars[k - 1].is_whitespace() {
                k -= 1;
            }
        }
        let end = k;
        while k > 0 && is_ident(chars[k - 1]) {
            k -= 1;
        }
        if k == end {
            break;
        }
        idents.push(chars[k..end].iter().collect::<String>());
        while k > 0 && chars[k - 1].is_whitespace() {
            k -= 1;
        }
        if k > 0 && chars[k - 1] == '.' && !(k > 1 && chars[k - 2] == '.') {
            k -= 1;
        } else if k > 1 && chars[k - 1] == ':' && chars[k - 2] == ':' {
            k -= 2;
        } else {
            break;
        }
    }
    idents.reverse();
    idents
}

/// Which of `candidates` a call whose method several SDKs have goes to, told by its receiver:
/// an identifier of the chain with `ecs` or `ecr` as a `_`-separated word (`self.ecs`,
/// `ecs_client()`, `ecr_client(region)`), or, for a plain variable, the same in its `let`
/// binding or its parameter type.
fn receiver_sdk<'a>(code: &str, call: &Call, candidates: &'a [Operation]) -> Option<&'a Operation> {
    let by_words = |words: &[String]| -> Option<&'a Operation> {
        let found: BTreeSet<&Operation> = words
            .iter()
            .flat_map(|word| word.split('_'))
            .filter_map(|part| {
                candidates
                    .iter()
                    .find(|operation| operation.sdk.rsplit('_').next() == Some(part))
            })
            .collect();
        match found.len() {
            1 => found.into_iter().next(),
            _ => None,
        }
    };
    if let Some(operation) = by_words(&call.receiver) {
        return Some(operation);
    }
    let [variable] = call.receiver.as_slice() else {
        return None;
    };
    let before: String = code.chars().take(call.at).collect();
    // `let client = …;` or `let mut client = …;`, the last before the call.
    let binding = [
        format!("let {variable} "),
        format!("let {variable}="),
        format!("let mut {variable} "),
    ]
    .iter()
    .filter_map(|pattern| before.rfind(pattern.as_str()))
    .max()
    .map(|at| {
        before[at..]
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string()
    });
    // `client: &aws_sdk_ecr::Client` in a parameter list.
    let parameter = before
        .rfind(&format!("{variable}:"))
        .filter(|&at| !before[at + variable.len() + 1..].starts_with(':'))
        .map(|at| {
            before[at..]
                .split([',', ')'])
                .next()
                .unwrap_or_default()
                .to_string()
        });
    [binding, parameter].into_iter().flatten().find_map(|text| {
        let words: Vec<String> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        // Leave out the first word: `let`, or the parameter's own name.
        by_words(words.get(1..).unwrap_or_default())
    })
}

// ---------------------------------------------------------------------------------------------
// Reading the template

/// A YAML document as JSON, CloudFormation's short tags turned into their long form:
/// `!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": "A.B"}`, `!If [...]` ->
/// `{"Fn::If": [...]}`, `!Condition C` -> `{"Condition": "C"}`.
fn yaml_to_json(value: serde_yaml::Value) -> Json {
    match value {
        serde_yaml::Value::Null => Json::Null,
        serde_yaml::Value::Bool(b) => Json::Bool(b),
        serde_yaml::Value::Number(n) => {
            serde_json::to_value(&n).expect("a YAML number is a JSON number")
        }
        serde_yaml::Value::String(s) => Json::String(s),
        serde_yaml::Value::Sequence(items) => {
            Json::Array(items.into_iter().map(yaml_to_json).collect())
        }
        serde_yaml::Value::Mapping(map) => Json::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let key = match yaml_to_json(key) {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(value))
                })
                .collect(),
        ),
        serde_yaml::Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_string(),
                _ => format!("Fn::{name}"),
            };
            json!({ key: yaml_to_json(tagged.value) })
        }
    }
}

fn parse_template(text: &str) -> Json {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).expect("the template parses as YAML");
    yaml_to_json(yaml)
}

/// `{"Ref": "X"}` -> `X`; `{"Fn::GetAtt": "X.Arn"}` or `{"Fn::GetAtt": ["X", "Arn"]}` -> `X`.
fn referenced_resource(value: &Json) -> Option<&str> {
    if let Some(name) = value.get("Ref").and_then(Json::as_str) {
        return Some(name);
    }
    match value.get("Fn::GetAtt")? {
        Json::String(path) => path.split('.').next(),
        Json::Array(parts) => parts.first()?.as_str(),
        _ => None,
    }
}

/// The resources of `template` of the type `kind`, by logical id.
fn resources_of<'a>(template: &'a Json, kind: &str) -> Vec<(&'a String, &'a Json)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .collect()
}

/// The one resource of type `kind`.
fn only_resource<'a>(template: &'a Json, kind: &str) -> (&'a String, &'a Json) {
    let found = resources_of(template, kind);
    assert_eq!(found.len(), 1, "{TEMPLATE}: expected exactly one {kind}");
    found[0]
}

/// The logical id of the role berth runs as: the task definition's `TaskRoleArn`.
fn task_role(template: &Json) -> &str {
    let (_, task_definition) = only_resource(template, "AWS::ECS::TaskDefinition");
    referenced_resource(&task_definition["Properties"]["TaskRoleArn"])
        .expect("the task definition's TaskRoleArn refers to a role of the template")
}

/// Both branches of every `Fn::If` in a value or list, `AWS::NoValue` and absent values left
/// out: everything it may hold under some parameters.
fn possible_items(value: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Json::Array(items) => stack.extend(items.iter().rev()),
            Json::Object(map) if map.contains_key("Fn::If") => {
                if let Some([_, yes, no]) = map["Fn::If"].as_array().map(Vec::as_slice) {
                    stack.push(no);
                    stack.push(yes);
                }
            }
            Json::Null => {}
            Json::Object(map) if map.get("Ref").and_then(Json::as_str) == Some("AWS::NoValue") => {}
            other => out.push(other),
        }
    }
    out
}

/// Every statement of every policy attached to the role `role` (its inline `Policies`, and
/// `AWS::IAM::Policy`, `AWS::IAM::ManagedPolicy` and `AWS::IAM::RolePolicy` resources naming it),
/// with the resource that holds it.
fn role_statements<'a>(template: &'a Json, role: &str) -> Result<Vec<(String, &'a Json)>, String> {
    let resources = template["Resources"].as_object().expect("Resources");
    let role_resource = &resources[role];
    if !possible_items(&role_resource["Properties"]["ManagedPolicyArns"]).is_empty() {
        return Err(format!(
            "{TEMPLATE}: the task role {role} has ManagedPolicyArns, which this test cannot read; \
             write berth's permissions as statements in the template"
        ));
    }
    let mut documents: Vec<(String, &Json)> =
        possible_items(&role_resource["Properties"]["Policies"])
            .into_iter()
            .map(|policy| (role.to_string(), &policy["PolicyDocument"]))
            .collect();
    for (id, resource) in resources {
        let properties = &resource["Properties"];
        let attached = match resource["Type"].as_str() {
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy") => {
                possible_items(&properties["Roles"])
                    .into_iter()
                    .any(|item| referenced_resource(item) == Some(role))
            }
            Some("AWS::IAM::RolePolicy") => {
                referenced_resource(&properties["RoleName"]) == Some(role)
            }
            _ => false,
        };
        if attached {
            documents.push((id.clone(), &properties["PolicyDocument"]));
        }
    }
    Ok(documents
        .into_iter()
        .flat_map(|(holder, document)| {
            possible_items(&document["Statement"])
                .into_iter()
                .map(move |statement| (holder.clone(), statement))
        })
        .collect())
}

/// The actions the role's `Allow` statements grant, each with the statements that grant it
/// (`TaskRolePolicy/ServicesInManagedClusters`).
fn granted_actions(template: &Json, role: &str) -> Result<Needed, Vec<String>> {
    let mut granted = Needed::new();
    let mut problems = Vec::new();
    for (holder, statement) in role_statements(template, role).map_err(|e| vec![e])? {
        if statement["Effect"] != "Allow" {
            continue;
        }
        let name = format!(
            "{holder}/{}",
            statement["Sid"]
                .as_str()
                .unwrap_or("(a statement without Sid)")
        );
        if statement.get("NotAction").is_some() {
            problems.push(format!(
                "{TEMPLATE}: {name} uses NotAction, which grants every action but some; list \
                 the actions berth calls in Action instead"
            ));
        }
        for action in possible_items(&statement["Action"]) {
            let Some(action) = action.as_str() else {
                problems.push(format!(
                    "{TEMPLATE}: {name}: an Action that is not a string"
                ));
                continue;
            };
            if action.contains(['*', '?']) {
                problems.push(format!(
                    "{TEMPLATE}: {name} grants `{action}`, a wildcard: it grants actions berth \
                     never calls; list each action berth calls instead"
                ));
            }
            granted
                .entry(action.to_string())
                .or_default()
                .insert(name.clone());
        }
    }
    if problems.is_empty() {
        Ok(granted)
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison

/// What differs between the actions the code needs and those the template grants, as messages
/// that say what to do. IAM action names are compared without regard to case, as IAM does.
fn compare(needed: &Needed, granted: &Needed) -> Vec<String> {
    let lower = |set: &Needed| -> BTreeMap<String, String> {
        set.keys()
            .map(|action| (action.to_ascii_lowercase(), action.clone()))
            .collect()
    };
    let (needed_names, granted_names) = (lower(needed), lower(granted));
    let mut problems = Vec::new();
    for (key, action) in &needed_names {
        if !granted_names.contains_key(key) {
            let from: Vec<&str> = needed[action].iter().map(String::as_str).collect();
            problems.push(format!(
                "{TEMPLATE} does not grant `{action}` to berth's task role, but berth needs it \
                 ({}). Add it to the task role's policy, scoped as tightly as the action allows, \
                 and explain it in docs/operations.md (\"The IAM policy, line by line\").",
                from.join("; ")
            ));
        }
    }
    for (key, action) in &granted_names {
        if !needed_names.contains_key(key) {
            let statements: Vec<&str> = granted[action].iter().map(String::as_str).collect();
            problems.push(format!(
                "{TEMPLATE} grants `{action}` to berth's task role ({}), but berth's code never \
                 calls it. Remove it from the policy (and from docs/operations.md), or, if a call \
                 needs it that this test does not see, add the call's implied action to IMPLIED \
                 in crates/berth-aws/tests/iam_policy.rs with the reason.",
                statements.join(", ")
            ));
        }
    }
    problems
}

fn real_needed() -> Needed {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let needed = calls_in(&rust_files(&src), sdk_operations())
        .unwrap_or_else(|problems| panic!("{}", problems.join("\n")));
    with_implied(needed)
}

fn real_template() -> Json {
    let path = workspace_root().join(TEMPLATE);
    parse_template(&std::fs::read_to_string(&path).expect("read the template"))
}

fn real_granted(template: &Json) -> Needed {
    granted_actions(template, task_role(template))
        .unwrap_or_else(|problems| panic!("{}", problems.join("\n")))
}

#[test]
fn the_task_role_grants_exactly_what_berth_calls() {
    let needed = real_needed();
    let template = real_template();
    let granted = real_granted(&template);
    println!("berth calls (with what the calls imply):");
    for (action, from) in &needed {
        println!(
            "  {action:32} {}",
            from.iter().cloned().collect::<Vec<_>>().join("; ")
        );
    }
    let problems = compare(&needed, &granted);
    assert!(
        problems.is_empty(),
        "the task role's policy and berth's AWS calls differ:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn pass_role_is_for_named_roles_and_ecs_tasks_only() {
    let template = real_template();
    let statements = role_statements(&template, task_role(&template)).expect("statements");
    let mut pass_role = 0;
    for (holder, statement) in statements {
        let actions: Vec<&str> = possible_items(&statement["Action"])
            .into_iter()
            .filter_map(Json::as_str)
            .collect();
        if !actions
            .iter()
            .any(|a| a.eq_ignore_ascii_case("iam:PassRole"))
        {
            continue;
        }
        pass_role += 1;
        let name = format!("{holder}/{}", statement["Sid"].as_str().unwrap_or("?"));
        let service = &statement["Condition"]["StringEquals"]["iam:PassedToService"];
        let services: Vec<&Json> = possible_items(service);
        assert!(
            !services.is_empty() && services.iter().all(|s| *s == "ecs-tasks.amazonaws.com"),
            "{TEMPLATE}: {name} grants iam:PassRole without the condition StringEquals \
             iam:PassedToService = ecs-tasks.amazonaws.com: berth passes roles to ECS tasks only"
        );
        let resources = possible_items(&statement["Resource"]);
        assert!(
            !resources.is_empty()
                && resources.iter().all(|r| r
                    .as_str()
                    .is_none_or(|r| r != "*" && !r.ends_with(":role/*"))),
            "{TEMPLATE}: {name} grants iam:PassRole on every role; name the roles (PassRoleArns)"
        );
        assert!(
            statement.get("NotResource").is_none(),
            "{TEMPLATE}: {name}: iam:PassRole with NotResource"
        );
    }
    assert!(
        pass_role > 0,
        "{TEMPLATE}: no statement grants iam:PassRole"
    );
}

#[test]
fn berth_overlaps_itself_only_under_leases() {
    let template = real_template();
    let (name, service) = only_resource(&template, "AWS::ECS::Service");
    let properties = &service["Properties"];
    let deployment = &properties["DeploymentConfiguration"];
    assert_eq!(
        (
            scalar_text(&deployment["MaximumPercent"]),
            scalar_text(&deployment["MinimumHealthyPercent"]),
            &properties["DesiredCount"],
        ),
        (
            Some("200".into()),
            Some("50".into()),
            &json!({"Ref": "Replicas"})
        ),
        "{TEMPLATE}: {name} runs Replicas tasks with a rolling deploy (200 / 50)"
    );
    // Overlapping tasks are safe only because every one of them leases its targets.
    let (table, _) = only_resource(&template, "AWS::DynamoDB::Table");
    let (_, task_definition) = only_resource(&template, "AWS::ECS::TaskDefinition");
    let environment = &task_definition["Properties"]["ContainerDefinitions"][0]["Environment"];
    let leases = (environment.as_array().into_iter().flatten())
        .find(|variable| variable["Name"] == "BERTH_LEASE_TABLE")
        .map(|variable| &variable["Value"]);
    assert_eq!(
        leases,
        Some(&json!({"Ref": table})),
        "{TEMPLATE}: berth's container must get BERTH_LEASE_TABLE = the stack's lease table"
    );
    // berth's own manifest describes the same service, and berth applies it to itself.
    let manifest = self_manifest();
    let service = &manifest.create_service;
    let deployment = &service["deploymentConfiguration"];
    assert_eq!(
        (
            scalar_text(&deployment["maximumPercent"]),
            scalar_text(&deployment["minimumHealthyPercent"]),
            scalar_text(&service["desiredCount"]),
        ),
        (
            Some("200".into()),
            Some("50".into()),
            manifest.vars.get("BERTH_REPLICAS").cloned()
        ),
        "{SELF_MANIFEST}: desiredCount ${{BERTH_REPLICAS}}, maximumPercent 200 and \
         minimumHealthyPercent 50, as in {TEMPLATE}"
    );
}

// ---------------------------------------------------------------------------------------------
// berth's own manifest: the service the template creates, as berth will apply it to itself

/// berth's own manifest, loaded the way `berth validate` loads it and rendered as the inputs
/// berth sends (`berth render`).
struct SelfManifest {
    /// The file as YAML (comments gone), for the variables it uses.
    raw: Json,
    /// The example variables.
    vars: BTreeMap<String, String>,
    /// `cluster/name` of the service it declares.
    id: String,
    register_task_definition: Json,
    create_service: Json,
}

fn self_manifest() -> SelfManifest {
    let read = |path: &str| {
        std::fs::read_to_string(workspace_root().join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let text = read(SELF_MANIFEST);
    let vars: BTreeMap<String, String> = serde_yaml::from_str(&read(SELF_MANIFEST_VARS))
        .unwrap_or_else(|e| panic!("{SELF_MANIFEST_VARS}: not a flat map NAME: value: {e}"));
    let options = LoadOptions {
        vars: vars.clone(),
        ..LoadOptions::default()
    };
    let outcome = manifest::load(&[SourceFile::new(SELF_MANIFEST, text.clone())], &options);
    let problems: Vec<String> = (outcome.invalid.iter())
        .flat_map(|invalid| &invalid.diagnostics)
        .chain(&outcome.warnings)
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.is_empty(),
        "`berth validate {SELF_MANIFEST} --vars-file {SELF_MANIFEST_VARS}` reports:\n{}",
        problems.join("\n")
    );
    let [service] = outcome.services.as_slice() else {
        panic!(
            "{SELF_MANIFEST}: one service expected, {} found",
            outcome.services.len()
        );
    };
    let provenance = Provenance::default();
    SelfManifest {
        raw: yaml_to_json(serde_yaml::from_str(&text).expect("the manifest is YAML")),
        id: format!("{}/{}", service.id.cluster, service.id.name),
        register_task_definition: render::register_task_definition(service, &provenance),
        create_service: render::create_service(service, &provenance),
        vars,
    }
}

/// A scalar as text (`"256"` and `256` alike); `None` for anything else.
fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A CloudFormation property name as the API's (`StopTimeout` -> `stopTimeout`).
fn camel_case(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// Where the template's properties and the input berth renders from the manifest differ, at
/// `path`. A literal of the template must be the same value there; a computed one (`!Ref`,
/// `!Sub`, ...) must be there, unless it is conditional (`!If`); a key of the input must be in
/// the template. Lists are compared item by item, in order.
fn differences(template: &Json, rendered: &Json, path: &str, out: &mut Vec<String>) {
    if template.as_object().is_some_and(|map| {
        map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::"))
    }) {
        return;
    }
    match (template, rendered) {
        (Json::Object(template), Json::Object(rendered)) => {
            for (key, value) in template {
                let key = camel_case(key);
                match rendered.get(&key) {
                    Some(rendered) => differences(value, rendered, &format!("{path}.{key}"), out),
                    None if value.get("Fn::If").is_some() => {}
                    None => out.push(format!("{path}.{key}: in {TEMPLATE} only")),
                }
            }
            let known: BTreeSet<String> = template.keys().map(|k| camel_case(k)).collect();
            for key in rendered.keys().filter(|key| !known.contains(*key)) {
                out.push(format!("{path}.{key}: in {SELF_MANIFEST} only"));
            }
        }
        (Json::Array(template), Json::Array(rendered)) if template.len() == rendered.len() => {
            for (index, (template, rendered)) in template.iter().zip(rendered).enumerate() {
                differences(template, rendered, &format!("{path}[{index}]"), out);
            }
        }
        (template, rendered)
            if scalar_text(template)
                .is_some_and(|t| scalar_text(rendered).is_some_and(|r| r == t)) => {}
        (template, rendered) => out.push(format!(
            "{path}: {template} in {TEMPLATE}, {rendered} in {SELF_MANIFEST}"
        )),
    }
}

#[test]
fn berths_own_manifest_validates_and_describes_the_service_of_the_template() {
    let template = real_template();
    let manifest = self_manifest();
    let vars = &manifest.vars;
    assert_eq!(
        manifest.id,
        format!("{}/{}", vars["BERTH_CLUSTER"], vars["BERTH_SERVICE"]),
        "{SELF_MANIFEST}: metadata.cluster/name"
    );
    let mut problems = Vec::new();
    for (kind, mut rendered) in [
        (
            "AWS::ECS::TaskDefinition",
            manifest.register_task_definition,
        ),
        ("AWS::ECS::Service", manifest.create_service),
    ] {
        // berth's ownership tags are berth's to add, not the manifest's.
        rendered.as_object_mut().expect("an object").remove("tags");
        let (name, resource) = only_resource(&template, kind);
        differences(&resource["Properties"], &rendered, name, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "berth's first task comes from {TEMPLATE}, every later one from {SELF_MANIFEST}; they \
         differ:\n- {}",
        problems.join("\n- ")
    );
}

/// The `NAME`s of `${NAME}` in every string of `value`.
fn placeholders(value: &Json, out: &mut BTreeSet<String>) {
    match value {
        Json::String(text) => {
            for part in text.split("${").skip(1) {
                out.extend(part.split_once('}').map(|(name, _)| name.to_string()));
            }
        }
        Json::Array(items) => items.iter().for_each(|item| placeholders(item, out)),
        Json::Object(map) => map.values().for_each(|item| placeholders(item, out)),
        _ => {}
    }
}

/// The `NAME`s of the words `<prefix>NAME=VALUE` in `text`: the prefix is `--var=` in a
/// command, and empty in a list of `NAME=VALUE` pairs.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    text.split(['|', ' ', '\n'])
        .filter_map(|word| word.strip_prefix(prefix)?.split_once('='))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The string in `value` (an intrinsic function's arguments) that contains `needle`.
fn string_with<'a>(value: &'a Json, needle: &str) -> Option<&'a str> {
    match value {
        Json::String(text) => text.contains(needle).then_some(text.as_str()),
        Json::Array(items) => items.iter().find_map(|item| string_with(item, needle)),
        Json::Object(map) => map.values().find_map(|item| string_with(item, needle)),
        _ => None,
    }
}

#[test]
fn every_variable_of_berths_manifest_reaches_every_berth_task() {
    let template = real_template();
    let manifest = self_manifest();
    let mut used = BTreeSet::new();
    placeholders(&manifest.raw, &mut used);
    let given: BTreeSet<String> = manifest.vars.keys().cloned().collect();
    assert_eq!(
        used, given,
        "{SELF_MANIFEST_VARS} gives the variables {SELF_MANIFEST} uses"
    );
    let (_, task_definition) = only_resource(&template, "AWS::ECS::TaskDefinition");
    let command = &task_definition["Properties"]["ContainerDefinitions"][0]["Command"];
    let in_template = names_after(string_with(command, "--var=").unwrap_or(""), "--var=");
    let rendered = &manifest.register_task_definition["containerDefinitions"][0]["command"];
    let in_manifest: BTreeSet<String> = possible_items(rendered)
        .into_iter()
        .filter_map(Json::as_str)
        .flat_map(|arg| names_after(arg, "--var="))
        .collect();
    let output = &template["Outputs"]["SelfManifestVars"]["Value"];
    let listed = names_after(string_with(output, "BERTH_").unwrap_or(""), "");
    for (what, names) in [
        (
            format!("{TEMPLATE}: the container's command (--var)"),
            in_template,
        ),
        (
            format!("{SELF_MANIFEST}: the container's command (--var)"),
            in_manifest,
        ),
        (format!("{TEMPLATE}: the output SelfManifestVars"), listed),
    ] {
        assert_eq!(
            names, used,
            "{what} must give exactly the variables {SELF_MANIFEST} uses: the first berth task \
             gets them from the template, every later one from the manifest's command"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The checks above, shown to catch what they are for. They compare with what the code needs, not
// with the template, so that they do not depend on the template being right.

#[test]
fn a_call_the_template_does_not_grant_is_reported() {
    let needed = real_needed();
    let mut granted = needed.clone();
    granted.remove("ecs:UpdateService");
    let problems = compare(&needed, &granted);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("does not grant `ecs:UpdateService`"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("src/write.rs:"),
        "names the call site: {}",
        problems[0]
    );
}

#[test]
fn a_grant_the_code_does_not_call_is_reported() {
    let needed = real_needed();
    let mut granted = needed.clone();
    granted
        .entry("ecs:DeleteCluster".to_string())
        .or_default()
        .insert("TaskRolePolicy/Extra".to_string());
    let problems = compare(&needed, &granted);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("grants `ecs:DeleteCluster`")
            && problems[0].contains("TaskRolePolicy/Extra")
            && problems[0].contains("never calls it"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_new_call_in_the_code_is_reported_until_the_template_grants_it() {
    let granted = real_needed();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = rust_files(&src);
    files.push((
        "clusters.rs".to_string(),
        "impl Aws {\n    async fn drop_cluster(&self) {\n        self.ecs\n            \
         .delete_cluster()\n            .send()\n            .await;\n    }\n}\n"
            .to_string(),
    ));
    let needed = with_implied(calls_in(&files, sdk_operations()).expect("calls"));
    let problems = compare(&needed, &granted);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("does not grant `ecs:DeleteCluster`")
            && problems[0].contains("src/clusters.rs:4"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_difference_between_the_manifest_and_the_template_is_reported() {
    let template = parse_template(
        "A: 30\nB: {C: [x, y]}\nD: !Ref P\nE: !If [On, !Ref Q, !Ref AWS::NoValue]\nG: z\n",
    );
    let same = json!({"a": "30", "b": {"c": ["x", "y"]}, "d": "p", "g": "z"});
    let mut problems = Vec::new();
    differences(&template, &same, "R", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
    let other = json!({"a": 31, "b": {"c": ["x"]}, "f": 1, "g": "z"});
    differences(&template, &other, "R", &mut problems);
    assert_eq!(
        problems,
        [
            format!("R.a: 30 in {TEMPLATE}, 31 in {SELF_MANIFEST}"),
            format!("R.b.c: [\"x\",\"y\"] in {TEMPLATE}, [\"x\"] in {SELF_MANIFEST}"),
            format!("R.d: in {TEMPLATE} only"),
            format!("R.f: in {SELF_MANIFEST} only"),
        ]
    );
}

#[test]
fn only_sdk_operations_called_in_code_count() {
    let source = r#"
        //! Calls `self.ecs.delete_cluster()` in a comment: not a call.
        impl Aws {
            async fn reads(&self, region: &str) {
                let text = "self.ecs.run_task()"; /* self.ecs.stop_task() */
                let c = '"'; let _ = self.ecs.describe_clusters();
                self.ecs_client()
                    .tag_resource()
                    .send();
                let client = self.ecr_client(region);
                client
                    .untag_resource();
                self.ecs.describe_services_later(); // not an operation
                self.ecs.list_tasks(arn); // takes an argument: not a fluent builder
                wrap(self.ecs_client().register_task_definition(), spec)?;
            }
        }
        #[cfg(test)]
        mod tests {
            fn x(&self) { self.ecs.delete_service(); }
        }
        #[cfg(test)]
        mod more;
    "#;
    let files = vec![
        ("lib.rs".to_string(), source.to_string()),
        (
            "more.rs".to_string(),
            "fn y(e: &E) { e.ecs.create_cluster(); }".to_string(),
        ),
    ];
    let needed = calls_in(&files, sdk_operations()).expect("calls");
    let actions: Vec<&str> = needed.keys().map(String::as_str).collect();
    assert_eq!(
        actions,
        [
            "ecr:UntagResource",
            "ecs:DescribeClusters",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
        ]
    );
    assert_eq!(
        needed["ecs:TagResource"].iter().collect::<Vec<_>>(),
        ["src/lib.rs:8"]
    );
}

#[test]
fn a_call_whose_sdk_cannot_be_told_is_reported() {
    let source = "fn f(client: &Whatever) { client.tag_resource().send(); }";
    let problems = calls_in(
        &[("odd.rs".to_string(), source.to_string())],
        sdk_operations(),
    )
    .expect_err("ambiguous");
    assert!(
        problems[0].contains("src/odd.rs:1") && problems[0].contains("tag_resource"),
        "{}",
        problems[0]
    );
    let source = "fn f(client: &aws_sdk_ecr::Client) { client.tag_resource().send(); }";
    let needed = calls_in(
        &[("ok.rs".to_string(), source.to_string())],
        sdk_operations(),
    )
    .expect("told by the parameter's type");
    assert!(needed.contains_key("ecr:TagResource"), "{needed:?}");
}

#[test]
fn short_tags_and_conditions_of_the_template_are_read() {
    let template = parse_template(
        r#"
Resources:
  Td:
    Type: AWS::ECS::TaskDefinition
    Properties:
      TaskRoleArn: !GetAtt Role.Arn
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: inline
          PolicyDocument:
            Statement:
              - {Sid: A, Effect: Allow, Action: ecs:ListServices, Resource: !Sub "arn:${AWS::Partition}:x"}
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref Role]
      PolicyDocument:
        Statement:
          - !If
            - On
            - {Sid: B, Effect: Allow, Action: [ecs:DeleteService], Resource: "*"}
            - !Ref AWS::NoValue
          - {Sid: C, Effect: Deny, Action: ecs:CreateCluster, Resource: "*"}
  Other:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref SomeoneElse]
      PolicyDocument:
        Statement:
          - {Sid: D, Effect: Allow, Action: ecs:RunTask, Resource: "*"}
"#,
    );
    assert_eq!(task_role(&template), "Role");
    let granted = granted_actions(&template, "Role").expect("granted");
    assert_eq!(
        granted.keys().map(String::as_str).collect::<Vec<_>>(),
        ["ecs:DeleteService", "ecs:ListServices"]
    );
    assert_eq!(
        granted["ecs:DeleteService"].iter().collect::<Vec<_>>(),
        ["Extra/B"]
    );
    let wildcard = parse_template(
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n        \
         - PolicyDocument: {Statement: [{Effect: Allow, Action: 'ecs:Describe*', Resource: '*'}]}\n",
    );
    let problems = granted_actions(&wildcard, "R").expect_err("wildcard");
    assert!(problems[0].contains("ecs:Describe*"), "{}", problems[0]);
}
