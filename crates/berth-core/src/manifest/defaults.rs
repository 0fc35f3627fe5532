//! `_defaults.yaml`: shared settings deep-merged under every manifest in a directory and below.

use crate::yaml::{Node, Value};

/// Merges `overlay` onto `base`: maps merge key by key, lists and scalars in `overlay` replace.
///
/// Every node keeps the span of the file it came from, so an error in a defaulted field points
/// into the `_defaults.yaml` that supplied it.
pub(crate) fn merge(base: &Node, overlay: &Node) -> Node {
    match (&base.value, &overlay.value) {
        (Value::Map(base_entries), Value::Map(overlay_entries)) => {
            let mut entries = base_entries.clone();
            for (key, value) in overlay_entries {
                match entries.iter_mut().find(|(k, _)| k.name == key.name) {
                    Some((existing_key, existing)) => {
                        *existing = merge(existing, value);
                        *existing_key = key.clone();
                    }
                    None => entries.push((key.clone(), value.clone())),
                }
            }
            Node {
                value: Value::Map(entries),
                span: overlay.span.clone(),
            }
        }
        _ => overlay.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::field_path;
    use crate::yaml::parse_documents;

    fn doc(file: &str, text: &str) -> Node {
        parse_documents(&Arc::from(file), text)
            .expect("yaml")
            .remove(0)
    }

    #[test]
    fn maps_merge_and_lists_and_scalars_replace() {
        let base = doc(
            "_defaults.yaml",
            "spec:\n  launchType: FARGATE\n  desiredCount: 1\n  subnets: [a, b]\n  tags: {team: x}\n",
        );
        let overlay = doc(
            "web.yaml",
            "spec:\n  desiredCount: 3\n  subnets: [c]\n  tags: {tier: web}\n",
        );
        let merged = merge(&base, &overlay);
        let at =
            |p: crate::diag::FieldPath| merged.at(&p).and_then(Node::as_str).map(str::to_string);
        assert_eq!(
            at(field_path!["spec", "launchType"]).as_deref(),
            Some("FARGATE")
        );
        assert_eq!(
            at(field_path!["spec", "desiredCount"]).as_deref(),
            Some("3")
        );
        assert_eq!(
            at(field_path!["spec", "subnets", 0usize]).as_deref(),
            Some("c")
        );
        assert_eq!(merged.at(&field_path!["spec", "subnets", 1usize]), None);
        assert_eq!(
            at(field_path!["spec", "tags", "team"]).as_deref(),
            Some("x")
        );
        assert_eq!(
            at(field_path!["spec", "tags", "tier"]).as_deref(),
            Some("web")
        );
    }

    #[test]
    fn defaulted_fields_keep_the_defaults_file_position() {
        let base = doc("_defaults.yaml", "spec:\n  launchType: FARGATE\n");
        let overlay = doc("web.yaml", "spec:\n  desiredCount: 3\n");
        let merged = merge(&base, &overlay);
        let launch = merged
            .at(&field_path!["spec", "launchType"])
            .expect("defaulted");
        assert_eq!(&*launch.span.file, "_defaults.yaml");
        let count = merged
            .at(&field_path!["spec", "desiredCount"])
            .expect("own");
        assert_eq!(&*count.span.file, "web.yaml");
    }
}
