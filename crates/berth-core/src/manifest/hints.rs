//! Turns deserialization errors into messages that say what is wrong and what to write instead.

use crate::de::{DeError, DeErrorKind};
use crate::diag::{FieldPath, Segment};
use crate::model::ecs::{SERVICE_DESCRIBE_ONLY_FIELDS, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS};

/// The message for a deserialization error at `err.path` (the path itself is shown separately).
pub(crate) fn message(err: &DeError) -> String {
    match &err.kind {
        DeErrorKind::UnknownField { field, expected } => unknown_field(&err.path, field, expected),
        DeErrorKind::MissingField(field) => format!("missing required field `{field}`"),
        DeErrorKind::InvalidType { found, expected } => invalid_type(&err.path, found, expected),
        DeErrorKind::Custom(message) => message.clone(),
    }
}

fn parent_keys(path: &FieldPath) -> Vec<&str> {
    let n = path.0.len().saturating_sub(1);
    path.0[..n]
        .iter()
        .filter_map(|segment| match segment {
            Segment::Key(key) => Some(key.as_str()),
            Segment::Index(_) => None,
        })
        .collect()
}

fn unknown_field(path: &FieldPath, field: &str, expected: &[&str]) -> String {
    let parents = parent_keys(path);
    let parent = parents.last().copied().unwrap_or("");
    if field == "valueFrom" && parent == "environment" {
        return "unknown field `valueFrom`: `environment` entries take a plain `value`; a value read \
                from Secrets Manager or SSM Parameter Store belongs in `secrets` instead, e.g. \
                `secrets: [{name: DB_PASSWORD, valueFrom: arn:aws:secretsmanager:...}]`"
            .to_string();
    }
    if parents == ["spec", "taskDefinition"]
        && TASK_DEFINITION_DESCRIBE_ONLY_FIELDS.contains(&field)
    {
        return format!(
            "unknown field `{field}`: ECS sets it (it appears in describe-task-definition output) \
             and it cannot be part of a manifest; delete it, or convert the whole file with \
             `berth import --from-file`"
        );
    }
    if parents == ["spec"] {
        match field {
            "serviceName" => {
                return "unknown field `serviceName`: the service name belongs in `metadata.name`"
                    .to_string();
            }
            "cluster" => {
                return "unknown field `cluster`: the cluster belongs in `metadata.cluster`"
                    .to_string();
            }
            _ if SERVICE_DESCRIBE_ONLY_FIELDS.contains(&field) => {
                return format!(
                    "unknown field `{field}`: ECS sets it (it appears in describe-services output) \
                     and it cannot be part of a manifest; delete it, or convert the whole file \
                     with `berth import --from-file`"
                );
            }
            _ => {}
        }
    }
    match closest(field, expected) {
        Some(suggestion) => format!("unknown field `{field}`; did you mean `{suggestion}`?"),
        None if expected.is_empty() => {
            format!("unknown field `{field}`: no fields are allowed here")
        }
        None => format!(
            "unknown field `{field}`; expected one of: {}",
            expected
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn invalid_type(path: &FieldPath, found: &str, expected: &str) -> String {
    let field = path.last_key().unwrap_or("");
    let last_is_key = matches!(path.0.last(), Some(Segment::Key(_)));
    if last_is_key && found == "a map" {
        match field {
            "tags" => {
                return "`tags` must be a list of `{key, value}` pairs, not a map: write e.g. \
                        `tags: [{key: Project, value: TalentRadar}]`"
                    .to_string();
            }
            "environment" => {
                return "`environment` must be a list of `{name, value}` pairs, not a map: write \
                        e.g. `environment: [{name: LOG_LEVEL, value: info}]`"
                    .to_string();
            }
            "secrets" => {
                return "`secrets` must be a list of `{name, valueFrom}` pairs, not a map: write \
                        e.g. `secrets: [{name: DB_PASSWORD, valueFrom: arn:aws:ssm:...}]`"
                    .to_string();
            }
            _ => {}
        }
    }
    format!("expected {expected}, found {found}")
}

/// The expected name closest to `field`, if it is close enough to be a typo.
fn closest<'a>(field: &str, expected: &[&'a str]) -> Option<&'a str> {
    let lower = field.to_ascii_lowercase();
    if let Some(same) = expected
        .iter()
        .find(|name| name.to_ascii_lowercase() == lower)
    {
        return Some(same);
    }
    let limit = (field.len() / 3).clamp(1, 3);
    expected
        .iter()
        .map(|name| (edit_distance(&lower, &name.to_ascii_lowercase()), *name))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, name)| name)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_path;

    fn unknown(path: FieldPath, field: &'static str, expected: &'static [&'static str]) -> String {
        message(&DeError {
            path,
            span: None,
            kind: DeErrorKind::UnknownField {
                field: field.into(),
                expected,
            },
        })
    }

    #[test]
    fn suggests_the_closest_field() {
        let msg = unknown(
            field_path!["spec", "desiredCont"],
            "desiredCont",
            &["desiredCount", "role"],
        );
        assert_eq!(
            msg,
            "unknown field `desiredCont`; did you mean `desiredCount`?"
        );
        let msg = unknown(
            field_path!["spec", "LaunchType"],
            "LaunchType",
            &["launchType"],
        );
        assert_eq!(
            msg,
            "unknown field `LaunchType`; did you mean `launchType`?"
        );
    }

    #[test]
    fn lists_expected_fields_when_nothing_is_close() {
        let msg = unknown(field_path!["spec", "zzz"], "zzz", &["role", "tags"]);
        assert_eq!(msg, "unknown field `zzz`; expected one of: `role`, `tags`");
    }

    #[test]
    fn value_from_in_environment_points_to_secrets() {
        let path = field_path![
            "spec",
            "taskDefinition",
            "containerDefinitions",
            0usize,
            "environment",
            2usize,
            "valueFrom"
        ];
        let msg = unknown(path, "valueFrom", &["name", "value"]);
        assert!(msg.contains("belongs in `secrets`"), "{msg}");
    }

    #[test]
    fn tags_as_a_map_says_to_write_a_list() {
        let msg = message(&DeError {
            path: field_path!["spec", "taskDefinition", "tags"],
            span: None,
            kind: DeErrorKind::InvalidType {
                found: "a map".into(),
                expected: "a list".into(),
            },
        });
        assert!(
            msg.contains("`tags: [{key: Project, value: TalentRadar}]`"),
            "{msg}"
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("desiredcont", "desiredcount"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
