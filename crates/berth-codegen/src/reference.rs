//! The manifest reference, `docs/manifest-reference.md`: berth's own sections (the envelope and
//! the validation rules, Markdown templates in `reference/` that berth-core's
//! `tests/reference.rs` checks against its code), then every spec field from the plan.
//!
//! Everything is derived from the plan, so the page cannot drift from the model: field names,
//! types, requiredness, the first sentence of each AWS doc (plus a stated default), berth's
//! overrides, enum values and the fields ECS sets itself. Links are checked before it is written.

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;
use crate::docs;
use crate::plan::{Doc, EnumDef, FieldDef, Plan, StructDef};

/// berth's envelope section (Markdown), checked by berth-core's `tests/reference.rs`.
const ENVELOPE: &str = include_str!("reference/envelope.md");

/// berth's validation rules section (Markdown), checked by berth-core's `tests/reference.rs`.
const RULES: &str = include_str!("reference/rules.md");

/// The struct a manifest's `spec` is.
const SPEC_ROOT: &str = "ServiceSpec";

/// Enums with at most this many values also list them where a field uses them.
const INLINE_ENUM_VALUES: usize = 6;

/// Manifest paths shown per object before "and N more".
const MAX_PATHS: usize = 3;

/// Renders the reference page; `botocore_version` goes in the header.
pub fn render(plan: &Plan, botocore_version: &str) -> Result<String, Error> {
    let index = Index::new(plan)?;
    let mut out = String::new();
    header(&mut out, plan, botocore_version);
    contents(&mut out, plan);
    for section in [ENVELOPE, RULES] {
        out.push('\n');
        out.push_str(section.trim());
        out.push('\n');
    }
    spec_intro(&mut out);
    for def in &plan.structs {
        struct_section(&mut out, def, &index)?;
    }
    out.push_str("\n## Enums\n\nThe values each enum field accepts, exactly as ECS writes them.\n");
    for def in &plan.enums {
        enum_section(&mut out, def, &index);
    }
    describe_only(&mut out, plan, &index)?;
    check_links(&out)?;
    Ok(out)
}

/// A type the plan defines.
#[derive(Clone, Copy)]
enum Named<'a> {
    /// A struct: an object in YAML.
    Struct(&'a StructDef),
    /// An enum: one of a set of strings.
    Enum(&'a EnumDef),
}

/// Lookups over the plan.
struct Index<'a> {
    /// Structs and enums by Rust name.
    named: BTreeMap<&'a str, Named<'a>>,
    /// For each struct or enum: the (struct, field wire name) pairs that use it, in plan order.
    used_in: BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
    /// For each struct: the manifest paths where it is written, sorted.
    paths: BTreeMap<&'a str, BTreeSet<String>>,
}

impl<'a> Index<'a> {
    /// Indexes the plan; fails if the spec root is missing.
    fn new(plan: &'a Plan) -> Result<Self, Error> {
        let mut named = BTreeMap::new();
        for def in &plan.structs {
            named.insert(def.name.as_str(), Named::Struct(def));
        }
        for def in &plan.enums {
            named.insert(def.name.as_str(), Named::Enum(def));
        }
        let mut used_in: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for def in &plan.structs {
            for field in &def.fields {
                used_in
                    .entry(innermost(&field.rust_type))
                    .or_default()
                    .push((def.name.as_str(), field.wire_name.as_str()));
            }
        }
        let mut index = Index {
            named,
            used_in,
            paths: BTreeMap::new(),
        };
        let Some(Named::Struct(root)) = index.named.get(SPEC_ROOT).copied() else {
            return Err(Error::Reference(format!(
                "the plan has no struct `{SPEC_ROOT}`"
            )));
        };
        index.walk(root, "spec".to_string());
        Ok(index)
    }

    /// Records `path` for `def` and walks its fields (the plan has no recursive structs).
    fn walk(&mut self, def: &'a StructDef, path: String) {
        for field in &def.fields {
            if let Some(Named::Struct(inner)) = self.named.get(innermost(&field.rust_type)) {
                let inner_path = format!(
                    "{path}.{}{}",
                    field.wire_name,
                    container_suffix(&field.rust_type)
                );
                self.walk(inner, inner_path);
            }
        }
        self.paths
            .entry(def.name.as_str())
            .or_default()
            .insert(path);
    }

    /// The Markdown for a Rust type: `string`, `list of [Port](#port)`, ...
    fn type_text(&self, rust_type: &str) -> Result<String, Error> {
        if let Some(element) = list_element(rust_type) {
            return Ok(format!("list of {}", self.type_text(element)?));
        }
        if let Some((key, value)) = map_entry(rust_type) {
            let (key, value) = (self.type_text(key)?, self.type_text(value)?);
            return Ok(format!("map of {key} to {value}"));
        }
        let text = match rust_type {
            "String" => "string".to_string(),
            "i32" | "i64" => "integer".to_string(),
            "bool" => "boolean".to_string(),
            "f64" => "number".to_string(),
            "serde_json::Value" => "any value".to_string(),
            _ => match self.named.get(rust_type) {
                Some(Named::Struct(def)) => link(&def.name),
                Some(Named::Enum(def)) if def.variants.len() <= INLINE_ENUM_VALUES => {
                    format!("{}: {}", link(&def.name), enum_values(def))
                }
                Some(Named::Enum(def)) => {
                    format!("{} ({} values)", link(&def.name), def.variants.len())
                }
                None => {
                    return Err(Error::Reference(format!(
                        "no reference type for Rust type `{rust_type}`"
                    )));
                }
            },
        };
        Ok(text)
    }

    /// "Used in" text for a struct or enum, or `None` if nothing uses it.
    fn used_in_text(&self, name: &str) -> Option<String> {
        let users = self.used_in.get(name)?;
        let shown: Vec<String> = users
            .iter()
            .map(|(parent, field)| format!("`{field}` in {}", link(parent)))
            .collect();
        Some(format!("Used in {}.", shown.join(", ")))
    }
}

/// The element type of `Vec<T>`.
fn list_element(rust_type: &str) -> Option<&str> {
    rust_type.strip_prefix("Vec<")?.strip_suffix('>')
}

/// The key and value types of `std::collections::BTreeMap<K, V>`.
fn map_entry(rust_type: &str) -> Option<(&str, &str)> {
    let inner = rust_type
        .strip_prefix("std::collections::BTreeMap<")?
        .strip_suffix('>')?;
    inner.split_once(", ")
}

/// The named type inside lists and maps: `Vec<Port>` gives `Port`.
fn innermost(rust_type: &str) -> &str {
    if let Some(element) = list_element(rust_type) {
        innermost(element)
    } else if let Some((_, value)) = map_entry(rust_type) {
        innermost(value)
    } else {
        rust_type
    }
}

/// What a path adds after a field to reach its named type: `[]` per list, `.*` per map.
fn container_suffix(rust_type: &str) -> String {
    if let Some(element) = list_element(rust_type) {
        format!("[]{}", container_suffix(element))
    } else if let Some((_, value)) = map_entry(rust_type) {
        format!(".*{}", container_suffix(value))
    } else {
        String::new()
    }
}

/// The anchor GitHub gives a heading: lowercase, spaces as `-`, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// A link to the section of the struct or enum `name`.
fn link(name: &str) -> String {
    format!("[{name}](#{})", anchor(name))
}

/// An enum's wire values as code spans.
fn enum_values(def: &EnumDef) -> String {
    let values: Vec<String> = def
        .variants
        .iter()
        .map(|(_, wire)| format!("`{wire}`"))
        .collect();
    values.join(", ")
}

/// The page header: what it is and how it is made.
fn header(out: &mut String, plan: &Plan, botocore_version: &str) {
    out.push_str(&format!(
        "# Manifest reference\n\n\
         > Generated by `berth-codegen` from the ECS API model (API version `{}`) in botocore \
         {botocore_version}, and from berth's own sections in \
         `crates/berth-codegen/src/reference/`. Do not edit this file by hand: change those and \
         run `cargo run -p berth-codegen`.\n\n\
         Every field a berth manifest may hold: berth's envelope, the checks berth adds, and \
         under `spec` every ECS field with its type, whether it is required and the first \
         sentence of the AWS documentation. The field names under `spec` are ECS's own, so \
         ECS's documentation of each field applies as written. A manifest is explained with \
         examples in `manifests/README.md`.\n",
        plan.api_version
    ));
}

/// The table of contents.
fn contents(out: &mut String, plan: &Plan) {
    let structs: Vec<String> = plan.structs.iter().map(|def| link(&def.name)).collect();
    let enums: Vec<String> = plan.enums.iter().map(|def| link(&def.name)).collect();
    out.push_str(&format!(
        "\n## Contents\n\n\
         - [Envelope](#envelope): `apiVersion`, `kind`, `metadata`, `spec`\n\
         - [Validation rules](#validation-rules)\n\
         - [Spec fields](#spec-fields): {}\n\
         - [Enums](#enums): {}\n\
         - [Fields ECS sets itself](#fields-ecs-sets-itself)\n",
        structs.join(", "),
        enums.join(", ")
    ));
}

/// The introduction to the spec sections.
fn spec_intro(out: &mut String) {
    out.push_str(
        "\n## Spec fields\n\n\
         `spec` is the input of ECS `CreateService` ([ServiceSpec](#servicespec)) and \
         `spec.taskDefinition` the input of ECS `RegisterTaskDefinition` \
         ([TaskDefinitionSpec](#taskdefinitionspec)), with the field names ECS uses in its API \
         and in its JSON (`aws ecs describe-services`, `aws ecs describe-task-definition`). \
         Each object has a section: where it is written, then a table of its fields with their \
         type (an object or an enum links to its section), whether it is required, and the \
         first sentence of the AWS documentation, followed by the default when that \
         documentation states one and by berth's own notes.\n\n\
         A required list may be left out: it reads as an empty list, as tools that dump ECS \
         JSON leave empty lists out. An optional enum field also accepts `\"\"`, read as unset, \
         as ECS's own describe output writes it.\n",
    );
}

/// One struct's section: summary, where it is written, its field table.
fn struct_section(out: &mut String, def: &StructDef, index: &Index) -> Result<(), Error> {
    out.push_str(&format!("\n### {}\n\n{}\n", def.name, summary(&def.doc)));
    let mut facts = Vec::new();
    if let Some(paths) = index.paths.get(def.name.as_str()) {
        let mut shown: Vec<String> = paths
            .iter()
            .take(MAX_PATHS)
            .map(|p| format!("`{p}`"))
            .collect();
        if paths.len() > MAX_PATHS {
            shown.push(format!("and {} more", paths.len() - MAX_PATHS));
        }
        facts.push(format!("Written at {}.", shown.join(", ")));
    }
    facts.extend(index.used_in_text(&def.name));
    if !facts.is_empty() {
        out.push_str(&format!("\n{}\n", facts.join(" ")));
    }
    if def.fields.is_empty() {
        out.push_str("\nNo fields: write `{}`.\n");
        return Ok(());
    }
    out.push_str("\n| field | type | required | description |\n|---|---|---|---|\n");
    for field in &def.fields {
        out.push_str(&field_row(field, index)?);
    }
    Ok(())
}

/// One row of a field table.
fn field_row(field: &FieldDef, index: &Index) -> Result<String, Error> {
    let wire = &field.wire_name;
    let name = match index.named.get(innermost(&field.rust_type)) {
        Some(Named::Struct(def)) => format!("[`{wire}`](#{})", anchor(&def.name)),
        _ => format!("`{wire}`"),
    };
    let type_text = match &field.shown_type {
        Some(shown) => shown.clone(),
        None => index.type_text(&field.rust_type)?,
    };
    let required = if !field.optional || field.validated {
        "yes"
    } else {
        "no"
    };
    let mut description = summary(&field.doc);
    if field.deprecated {
        description = format!("Deprecated by AWS. {description}");
    }
    Ok(format!(
        "| {name} | {} | {required} | {} |\n",
        cell(&type_text),
        cell(&description)
    ))
}

/// One enum's section: summary, values, where it is used.
fn enum_section(out: &mut String, def: &EnumDef, index: &Index) {
    out.push_str(&format!("\n### {}\n\n", def.name));
    if let Some(summary) = summary_text(&def.doc) {
        out.push_str(&format!("{summary}\n\n"));
    }
    out.push_str(&format!("Values: {}.\n", enum_values(def)));
    if let Some(used_in) = index.used_in_text(&def.name) {
        out.push_str(&format!("\n{used_in}\n"));
    }
}

/// The fields ECS sets itself, per root, from the plan's describe-only constants.
fn describe_only(out: &mut String, plan: &Plan, index: &Index) -> Result<(), Error> {
    out.push_str(
        "\n## Fields ECS sets itself\n\n\
         These fields appear in ECS's describe output but are not allowed in a manifest: ECS \
         sets them. `berth import` drops them (and says which it dropped) when it turns ECS's \
         JSON into manifests.\n\n\
         | where | fields |\n|---|---|\n",
    );
    for constant in &plan.constants {
        let Some(def) = plan
            .structs
            .iter()
            .find(|def| def.shape == constant.input_shape)
        else {
            return Err(Error::Reference(format!(
                "`{}` names input shape `{}`, which no struct comes from",
                constant.name, constant.input_shape
            )));
        };
        let paths: Vec<String> = index
            .paths
            .get(def.name.as_str())
            .into_iter()
            .flatten()
            .map(|path| format!("`{path}`"))
            .collect();
        let fields: Vec<String> = constant.values.iter().map(|v| format!("`{v}`")).collect();
        out.push_str(&format!(
            "| {} ({}) | {} |\n",
            paths.join(", "),
            link(&def.name),
            fields.join(", ")
        ));
    }
    Ok(())
}

/// A one-paragraph summary of a doc ([`summary_text`]), or its fallback.
fn summary(doc: &Doc) -> String {
    summary_text(doc).unwrap_or_else(|| doc.fallback.clone())
}

/// berth's notes before, the first sentence of the AWS documentation that is not about being
/// required (the table says that) and the sentence stating a default (if any), berth's notes
/// after; `None` if there is none of these.
fn summary_text(doc: &Doc) -> Option<String> {
    let mut parts: Vec<String> = doc.before.clone();
    if let Some(html) = &doc.html {
        let blocks: Vec<String> = docs::markdown_lines(html, usize::MAX, usize::MAX)
            .iter()
            .map(|line| without_list_marker(line.trim()).to_string())
            .filter(|line| !line.is_empty())
            .collect();
        let mut sentences = blocks
            .iter()
            .flat_map(|block| sentences(block))
            .filter(|s| !states_requirement(s));
        if let Some(first) = sentences.next() {
            parts.push(first.to_string());
        }
        let default = sentences.find(|s| states_default(s) && !s.ends_with(':'));
        parts.extend(default.map(str::to_string));
    }
    parts.extend(doc.after.iter().cloned());
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Whether a sentence only says that the field is required.
fn states_requirement(sentence: &str) -> bool {
    let lower = sentence.to_ascii_lowercase();
    lower.starts_with("you must specify")
        || lower.starts_with("this parameter is required")
        || lower.starts_with("this field is required")
}

/// A list item's text without its `- ` or `1. ` marker.
fn without_list_marker(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix("- ") {
        return rest;
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    match line[digits..].strip_prefix(". ") {
        Some(rest) if digits > 0 => rest,
        _ => line,
    }
}

/// Splits Markdown text into sentences: after `.`, `?` or `!` and a space, before an
/// uppercase letter or a code span, outside code spans, not after `e.g.` or `i.e.`.
fn sentences(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i, mut fence) = (0, 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if fence == 0 => i += 1,
            b'`' => {
                let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
                if fence == 0 {
                    fence = run;
                } else if run == fence {
                    fence = 0;
                }
                i += run - 1;
            }
            b'.' | b'?' | b'!' if fence == 0 && bytes.get(i + 1) == Some(&b' ') => {
                let next = bytes.get(i + 2).copied().unwrap_or(b' ');
                let sentence = &text[start..=i];
                let abbreviation = sentence.ends_with("e.g.") || sentence.ends_with("i.e.");
                if (next.is_ascii_uppercase() || next == b'`') && !abbreviation {
                    out.push(sentence.trim());
                    start = i + 2;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let rest = text.get(start..).unwrap_or("").trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Whether a sentence states a default value.
fn states_default(sentence: &str) -> bool {
    let lower = sentence.to_ascii_lowercase();
    if lower.starts_with("this is the default") {
        return false; // about the value just described, not the field
    }
    lower.starts_with("the default")
        || lower.starts_with("by default")
        || [
            "the default value",
            "the default is",
            "default value of",
            "defaults to",
            "defaults the value to",
        ]
        .iter()
        .any(|phrase| lower.contains(phrase))
}

/// Text made safe for one table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// Fails if two headings share an anchor or a `](#anchor)` link has no heading.
fn check_links(page: &str) -> Result<(), Error> {
    let mut anchors = BTreeSet::new();
    let mut in_code = false;
    for line in page.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            let id = anchor(line.trim_start_matches('#'));
            if !anchors.insert(id.clone()) {
                return Err(Error::Reference(format!(
                    "two headings have anchor `#{id}`"
                )));
            }
        }
    }
    let mut rest = page;
    while let Some(start) = rest.find("](#") {
        rest = &rest[start + 3..];
        let end = rest.find(')').unwrap_or(rest.len());
        if !anchors.contains(&rest[..end]) {
            return Err(Error::Reference(format!(
                "link to `#{}` has no heading",
                &rest[..end]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_outside_code_and_abbreviations() {
        let text = "Use `a. B` here, e.g. Foo. Then `x` works. `y` too? Yes";
        assert_eq!(
            sentences(text),
            vec![
                "Use `a. B` here, e.g. Foo.",
                "Then `x` works.",
                "`y` too?",
                "Yes"
            ]
        );
    }

    #[test]
    fn defaults_are_recognised() {
        assert!(states_default("The default is `NONE`."));
        assert!(states_default("If unset, the default value of 0 is used."));
        assert!(!states_default("The name of a container."));
        assert!(states_requirement(
            "You must specify a `family` for a task definition."
        ));
    }

    #[test]
    fn types_nest() {
        assert_eq!(innermost("Vec<Vec<Port>>"), "Port");
        assert_eq!(
            container_suffix("std::collections::BTreeMap<String, Vec<A>>"),
            ".*[]"
        );
        assert_eq!(anchor(" Fields ECS sets itself"), "fields-ecs-sets-itself");
    }

    #[test]
    fn cells_are_one_line_with_pipes_escaped() {
        assert_eq!(cell("a |\n b"), "a \\| b");
    }

    #[test]
    fn broken_links_fail() {
        assert!(check_links("## A\n\n[a](#a)\n").is_ok());
        assert!(check_links("## A\n\n[b](#b)\n").is_err());
        assert!(check_links("## A\n## A\n").is_err());
    }
}
