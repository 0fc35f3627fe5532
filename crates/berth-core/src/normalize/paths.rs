//! Field paths over the normalized form: removing fields (`ignoreDifferences`) and listing
//! the differences between two values.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Change;
use super::generic::drop_empty;

/// One segment of an ignore path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// An unquoted name; may join with the following unquoted names (`a.b`) to match a key
    /// that contains dots.
    Name(String),
    /// A `"quoted"` name: exactly that key, dots included.
    Quoted(String),
    /// `*`: every key.
    Any,
}

fn parse(path: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut chars = path.chars().peekable();
    while chars.peek().is_some() {
        if chars.next_if_eq(&'"').is_some() {
            let name = chars.by_ref().take_while(|c| *c != '"').collect();
            // Up to and including the next separator.
            chars.by_ref().take_while(|c| *c != '.').for_each(drop);
            segments.push(Segment::Quoted(name));
        } else {
            let name: String = chars.by_ref().take_while(|c| *c != '.').collect();
            match name.as_str() {
                "" => {}
                "*" => segments.push(Segment::Any),
                _ => segments.push(Segment::Name(name)),
            }
        }
    }
    segments
}

/// Removes what `segments` names under `value` (an object); paths that name nothing are
/// no-ops.
fn remove(value: &mut Value, segments: &[Segment]) {
    let Value::Object(map) = value else {
        return;
    };
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    match first {
        Segment::Any => {
            if rest.is_empty() {
                map.clear();
            } else {
                for child in map.values_mut() {
                    remove(child, rest);
                }
            }
        }
        Segment::Quoted(key) => remove_under(map, key, rest),
        Segment::Name(_) => {
            // `a.b.c` may name key `a.b` then `c`: try every run of unquoted names as a key.
            let mut key = String::new();
            for (at, segment) in segments.iter().enumerate() {
                let Segment::Name(part) = segment else {
                    break;
                };
                if at > 0 {
                    key.push('.');
                }
                key.push_str(part);
                remove_under(map, &key, &segments[at + 1..]);
            }
        }
    }
}

fn remove_under(map: &mut serde_json::Map<String, Value>, key: &str, rest: &[Segment]) {
    if rest.is_empty() {
        map.remove(key);
    } else if let Some(child) = map.get_mut(key) {
        remove(child, rest);
    }
}

/// See [`super::ignore`].
pub(crate) fn ignore(value: &mut Value, paths: &[String]) {
    for path in paths {
        let segments = parse(path.trim());
        if !segments.is_empty() {
            remove(value, &segments);
        }
    }
    drop_empty(value);
}

/// See [`super::diff`].
pub(crate) fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut path = Vec::new();
    diff_at(&mut path, present(old), present(new), &mut changes);
    changes
}

fn present(value: &Value) -> Option<&Value> {
    (!value.is_null()).then_some(value)
}

fn diff_at<'a>(
    path: &mut Vec<&'a str>,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    changes: &mut Vec<Change>,
) {
    let old_map = old.and_then(Value::as_object);
    let new_map = new.and_then(Value::as_object);
    // Objects (or an object against nothing) are compared field by field.
    let recurse = match (old, new) {
        (Some(_), Some(_)) => old_map.is_some() && new_map.is_some(),
        (Some(_), None) => old_map.is_some(),
        (None, Some(_)) => new_map.is_some(),
        (None, None) => return,
    };
    if recurse {
        let keys: BTreeSet<&String> = old_map
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(new_map.into_iter().flat_map(|m| m.keys()))
            .collect();
        for key in keys {
            path.push(key);
            diff_at(
                path,
                old_map.and_then(|m| m.get(key)).and_then(present),
                new_map.and_then(|m| m.get(key)).and_then(present),
                changes,
            );
            path.pop();
        }
    } else if old != new {
        changes.push(Change {
            path: path.join("."),
            old: old.cloned(),
            new: new.cloned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| (*p).to_string()).collect()
    }

    #[test]
    fn parses_names_quotes_and_wildcards() {
        assert_eq!(
            parse(r#"containerDefinitions.*.dockerLabels."com.example.team""#),
            vec![
                Segment::Name("containerDefinitions".into()),
                Segment::Any,
                Segment::Name("dockerLabels".into()),
                Segment::Quoted("com.example.team".into()),
            ]
        );
        assert_eq!(
            parse("desiredCount"),
            vec![Segment::Name("desiredCount".into())]
        );
    }

    #[test]
    fn ignore_removes_top_level_nested_and_keyed_fields() {
        let mut value = json!({
            "desiredCount": 3,
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100},
            "containerDefinitions": {
                "web": {"name": "web", "image": "web:1", "environment": {"A": "1", "B": "2"}},
                "log": {"name": "log", "image": "fluent-bit:1"},
            },
        });
        ignore(
            &mut value,
            &paths(&[
                "desiredCount",
                "deploymentConfiguration.maximumPercent",
                "containerDefinitions.web.image",
                "containerDefinitions.web.environment.A",
                "no.such.field",
            ]),
        );
        assert_eq!(
            value,
            json!({
                "deploymentConfiguration": {"minimumHealthyPercent": 100},
                "containerDefinitions": {
                    "web": {"name": "web", "environment": {"B": "2"}},
                    "log": {"name": "log", "image": "fluent-bit:1"},
                },
            })
        );
    }

    #[test]
    fn ignore_wildcards_and_keys_with_dots() {
        let mut value = json!({"containerDefinitions": {
            "web": {"name": "web", "image": "a", "dockerLabels": {"com.example.team": "x", "keep": "y"}},
            "log": {"name": "log", "image": "b", "dockerLabels": {"com.example.team": "z"}},
        }});
        ignore(
            &mut value,
            &paths(&[
                "containerDefinitions.*.image",
                "containerDefinitions.web.dockerLabels.com.example.team",
                r#"containerDefinitions.log.dockerLabels."com.example.team""#,
            ]),
        );
        assert_eq!(
            value,
            json!({"containerDefinitions": {
                "web": {"name": "web", "dockerLabels": {"keep": "y"}},
                "log": {"name": "log"},
            }})
        );
    }

    #[test]
    fn diff_reports_changed_added_and_removed_leaves_in_path_order() {
        let old = json!({
            "containerDefinitions": {"web": {"image": "web:1", "environment": {"A": "1", "B": "2"}}},
            "desiredCount": 2,
            "command": ["a", "b"],
        });
        let new = json!({
            "containerDefinitions": {"web": {"image": "web:2", "environment": {"A": "1", "C": "3"}}},
            "desiredCount": 2,
            "command": ["b", "a"],
        });
        let changes = diff(&old, &new);
        let summary: Vec<(&str, Option<&Value>, Option<&Value>)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.old.as_ref(), c.new.as_ref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "command",
                    Some(&json!(["a", "b"])),
                    Some(&json!(["b", "a"]))
                ),
                (
                    "containerDefinitions.web.environment.B",
                    Some(&json!("2")),
                    None
                ),
                (
                    "containerDefinitions.web.environment.C",
                    None,
                    Some(&json!("3"))
                ),
                (
                    "containerDefinitions.web.image",
                    Some(&json!("web:1")),
                    Some(&json!("web:2"))
                ),
            ]
        );
    }

    #[test]
    fn diff_against_nothing_lists_every_leaf() {
        let new = json!({"family": "web", "cpu": 256, "tags": {"team": "a"}});
        let changes = diff(&Value::Null, &new);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["cpu", "family", "tags.team"]);
        assert!(changes.iter().all(|c| c.old.is_none()));
        assert!(diff(&new, &new).is_empty());
        assert!(diff(&Value::Null, &Value::Null).is_empty());
    }

    #[test]
    fn diff_object_against_scalar_is_one_change() {
        let changes = diff(&json!({"a": {"b": 1}}), &json!({"a": 5}));
        assert_eq!(
            changes,
            vec![Change {
                path: "a".into(),
                old: Some(json!({"b": 1})),
                new: Some(json!(5)),
            }]
        );
    }
}
