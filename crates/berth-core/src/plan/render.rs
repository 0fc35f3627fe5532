//! Plan output: a `terraform plan`-style text diff, a stable JSON document, and markdown for a
//! pull request comment.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Action, Plan, ServicePlan};
use crate::normalize::Change;

/// Output formats of `berth plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable diff; `color` adds ANSI colours (for a terminal).
    Text {
        /// Whether to colour the output.
        color: bool,
    },
    /// JSON, schema version 1 (documented in docs/cli.md).
    Json,
    /// Markdown for a PR comment: summary table and collapsible per-service diffs.
    Markdown,
}

/// Renders `plan` in `format`.
pub fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text { color } => text(plan, color),
        Format::Json => serde_json::to_string_pretty(&json_document(plan)).unwrap_or_default(),
        Format::Markdown => markdown(plan),
    }
}

/// The JSON document: `{"version": 1, "hasChanges", "summary", "services"}`.
pub fn json_document(plan: &Plan) -> Value {
    json!({
        "version": 1,
        "hasChanges": plan.has_changes(),
        "summary": plan.counts(),
        "services": plan.services,
    })
}

fn summary_line(plan: &Plan) -> String {
    let counts = plan.counts();
    let phrase = |name: &str, label: &str| counts.get(name).map(|n| format!("{n} {label}"));
    let parts: Vec<String> = [
        phrase("create", "to create"),
        phrase("update", "to update"),
        phrase("requiresReplacement", "need replacement"),
        phrase("wouldPrune", "would be pruned"),
        phrase("imageMissing", "with missing images"),
        phrase("invalid", "invalid"),
        phrase("suspended", "suspended"),
        phrase("noChange", "unchanged"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "no services".to_string()
    } else {
        parts.join(", ")
    }
}

fn service_name(service: &ServicePlan) -> String {
    match (&service.id, &service.origin) {
        (Some(id), _) => id.to_string(),
        (None, Some(origin)) => origin.file.to_string(),
        (None, None) => "?".to_string(),
    }
}

/// `value`, compact; strings unquoted when they are plain.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An image value annotated with the tag it was resolved from.
fn show_with_tag(value: &Value, service: &ServicePlan) -> String {
    let shown = show(value);
    match service
        .images
        .iter()
        .find(|image| shown.ends_with(&image.digest))
    {
        Some(image) => format!(
            "{shown} ({})",
            image
                .reference
                .rsplit('/')
                .next()
                .unwrap_or(&image.reference)
        ),
        None => shown,
    }
}

fn change_line(change: &Change, service: &ServicePlan) -> (char, String) {
    let value = |v: &Value| {
        if change.path.ends_with(".image") {
            show_with_tag(v, service)
        } else {
            show(v)
        }
    };
    match (&change.old, &change.new) {
        (None, Some(new)) => ('+', format!("{}: {}", change.path, value(new))),
        (Some(old), None) => ('-', format!("{}: {}", change.path, value(old))),
        (Some(old), Some(new)) => (
            '~',
            format!("{}: {} -> {}", change.path, value(old), value(new)),
        ),
        (None, None) => ('~', change.path.clone()),
    }
}

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn sign(&self, sign: char, text: &str) -> String {
        let code = match sign {
            '+' => "32",
            '-' => "31",
            '~' => "33",
            _ => "1",
        };
        self.wrap(code, text)
    }
}

fn header(service: &ServicePlan) -> (char, String) {
    let name = service_name(service);
    match &service.action {
        Action::NoChange => (' ', format!("{name}: no changes")),
        Action::Create { .. } => ('+', format!("{name} will be created")),
        Action::Update {
            new_task_definition,
            ..
        } => (
            '~',
            format!(
                "{name} will be updated{}",
                if *new_task_definition {
                    " (new task definition revision)"
                } else {
                    ""
                }
            ),
        ),
        Action::RequiresReplacement { fields, .. } => (
            '!',
            format!(
                "{name} requires replacement ({}), not applied",
                fields.join(", ")
            ),
        ),
        Action::Suspended { changes } if changes.is_empty() => {
            (' ', format!("{name}: suspended, in sync"))
        }
        Action::Suspended { .. } => ('!', format!("{name}: suspended, drift left alone")),
        Action::Invalid { .. } => ('!', format!("{name} is invalid, nothing will be done")),
        Action::ImageMissing { .. } => {
            ('!', format!("{name}: image missing, nothing will be done"))
        }
        Action::WouldPrune { .. } => (
            '-',
            format!("{name} is not in git (would be pruned if prune is on)"),
        ),
        Action::Conflict { .. } => ('!', format!("{name}: conflict, nothing will be done")),
    }
}

fn detail_lines(service: &ServicePlan) -> Vec<(char, String)> {
    match &service.action {
        Action::Create { changes }
        | Action::Update { changes, .. }
        | Action::RequiresReplacement { changes, .. }
        | Action::Suspended { changes } => {
            changes.iter().map(|c| change_line(c, service)).collect()
        }
        Action::Invalid { diagnostics } => {
            diagnostics.iter().map(|d| (' ', d.to_string())).collect()
        }
        Action::ImageMissing { images } => images
            .iter()
            .map(|i| (' ', format!("{}: {}", i.reference, i.reason)))
            .collect(),
        Action::WouldPrune { arn } => vec![(' ', arn.clone())],
        Action::Conflict { owner } => vec![(' ', super::conflict_reason(owner))],
        Action::NoChange => Vec::new(),
    }
}

fn text(plan: &Plan, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    for service in plan
        .services
        .iter()
        .filter(|s| s.action != Action::NoChange)
    {
        let (sign, title) = header(service);
        let origin = service
            .origin
            .as_ref()
            .map(|o| format!("  ({o})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {}{origin}",
            paint.sign(sign, &sign.to_string()),
            paint.wrap("1", &title)
        );
        for (sign, line) in detail_lines(service) {
            let _ = writeln!(out, "    {}", paint.sign(sign, &format!("{sign} {line}")));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Plan: {}.", summary_line(plan));
    out
}

fn markdown(plan: &Plan) -> String {
    let mut out = String::from("### berth plan\n\n");
    let _ = writeln!(out, "**{}**\n", summary_line(plan));
    out.push_str("| service | action | changes | manifest |\n|---|---|---|---|\n");
    for service in &plan.services {
        let changes = match &service.action {
            Action::Create { changes }
            | Action::Update { changes, .. }
            | Action::RequiresReplacement { changes, .. }
            | Action::Suspended { changes } => changes.len().to_string(),
            _ => String::new(),
        };
        let origin = service
            .origin
            .as_ref()
            .map(|o| format!("`{o}`"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{}` | {} | {changes} | {origin} |",
            service_name(service),
            service.action.name()
        );
    }
    for service in plan
        .services
        .iter()
        .filter(|s| s.action != Action::NoChange)
    {
        let (_, title) = header(service);
        let _ = writeln!(
            out,
            "\n<details><summary>{}</summary>\n\n```diff",
            html_escape(&title)
        );
        for (sign, line) in detail_lines(service) {
            let sign = if sign == '~' { '!' } else { sign };
            let _ = writeln!(out, "{sign} {line}");
        }
        out.push_str("```\n\n</details>\n");
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
