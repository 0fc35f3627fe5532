//! The corpus (`testdata/corpus/`, or `$BERTH_CORPUS_DIR`): every task and service definition
//! people paste into berth must be accepted, and the known mistakes (files named `MISTAKE…`)
//! rejected with one positioned, helpful error.
//!
//! The directory is iterated, so files added to the corpus are covered without touching this;
//! the tests about one particular file read it from the in-repo corpus.

use std::path::Path;
use std::sync::Arc;

use berth_core::de::from_node;
use berth_core::manifest::import::manifest_from_ecs_json;
use berth_core::model::ecs::{TASK_DEFINITION_DESCRIBE_ONLY_FIELDS, TaskDefinitionSpec};
use berth_core::yaml::{Node, parse_documents};
use berth_testkit::corpus::{self, SERVICES, TASK_DEFINITIONS, is_mistake};

fn parse(path: &Path) -> Node {
    let name: Arc<str> = Arc::from(path.file_name().expect("name").to_string_lossy().as_ref());
    let text = std::fs::read_to_string(path).expect("read");
    let mut docs = parse_documents(&name, &text).unwrap_or_else(|diag| panic!("{diag}"));
    assert_eq!(docs.len(), 1, "{}", path.display());
    docs.remove(0)
}

/// Whether a file is in `describe-task-definition` form (wrapped or with read-only fields).
fn is_describe_form(tree: &Node) -> bool {
    tree.get("taskDefinition").is_some()
        || TASK_DEFINITION_DESCRIBE_ONLY_FIELDS
            .iter()
            .any(|f| tree.get(f).is_some())
}

#[test]
fn every_corpus_task_definition_is_accepted_or_rejected_as_a_known_mistake() {
    let mut accepted = 0;
    for path in corpus::files(TASK_DEFINITIONS) {
        let tree = parse(&path);
        let direct = (!is_describe_form(&tree)).then(|| from_node::<TaskDefinitionSpec>(&tree));
        let imported =
            manifest_from_ecs_json(tree, None, Some("svc".into()), Some("corpus".into()));
        if is_mistake(&path) {
            let errors = imported.expect_err(&format!(
                "{} is a known mistake and must be rejected",
                path.display()
            ));
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].span.line > 1,
                "positioned inside the file: {}",
                errors[0]
            );
            if let Some(Ok(_)) = direct {
                panic!(
                    "{} must not load as spec.taskDefinition either",
                    path.display()
                );
            }
            continue;
        }
        let imported = imported.unwrap_or_else(|errors| {
            panic!(
                "{} rejected:\n{}",
                path.display(),
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        if let Some(direct) = direct {
            let direct = direct.unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(
                Some(&direct.container_definitions),
                imported
                    .document
                    .spec
                    .task_definition
                    .as_ref()
                    .map(|td| &td.container_definitions)
            );
        }
        // What berth would write back is itself a valid task definition with the same content.
        let task_definition = imported
            .document
            .spec
            .task_definition
            .expect("task definition");
        let json = serde_json::to_string(&task_definition).expect("serialize");
        let again = parse_documents(&Arc::from("roundtrip.json"), &json).expect("parse back");
        let reloaded: TaskDefinitionSpec =
            from_node(&again[0]).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert_eq!(reloaded, task_definition, "{}", path.display());
        accepted += 1;
    }
    let files = corpus::files(TASK_DEFINITIONS);
    let mistakes = files.iter().filter(|path| is_mistake(path)).count();
    assert_eq!(accepted, files.len() - mistakes);
    assert!(
        accepted >= 25 && mistakes >= 2,
        "a thin corpus: {accepted} accepted, {mistakes} mistakes"
    );
}

/// The one error `berth import` reports for a deliberate mistake of the in-repo corpus.
fn the_error(name: &str) -> String {
    let path = corpus::fixture(TASK_DEFINITIONS, name);
    let errors = manifest_from_ecs_json(parse(&path), None, Some("svc".into()), Some("c".into()))
        .expect_err("mistake");
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].to_string()
}

#[test]
fn environment_with_value_from_says_to_use_secrets() {
    let message = the_error("MISTAKE-environment-valuefrom.json");
    assert!(
        message.starts_with(
            "MISTAKE-environment-valuefrom.json:22:11: containerDefinitions[0].environment[1].valueFrom:"
        ),
        "{message}"
    );
    assert!(message.contains("belongs in `secrets`"), "{message}");
}

#[test]
fn tags_as_a_map_says_to_write_a_list() {
    let message = the_error("MISTAKE-tags-as-map.json");
    assert!(
        message.starts_with("MISTAKE-tags-as-map.json:25:11: tags:"),
        "{message}"
    );
    assert!(
        message.contains("must be a list of `{key, value}` pairs, not a map"),
        "{message}"
    );
}

#[test]
fn a_misspelled_field_suggests_the_right_one() {
    let message = the_error("MISTAKE-misspelled-port-mapping.json");
    assert!(
        message.starts_with(
            "MISTAKE-misspelled-port-mapping.json:14:7: containerDefinitions[0].portMapping:"
        ),
        "{message}"
    );
    assert!(
        message.contains("did you mean `portMappings`?"),
        "{message}"
    );
}

#[test]
fn environment_as_a_map_says_to_write_a_list() {
    let message = the_error("MISTAKE-environment-as-map.json");
    assert!(
        message.starts_with(
            "MISTAKE-environment-as-map.json:12:22: containerDefinitions[0].environment:"
        ),
        "{message}"
    );
    assert!(
        message.contains("must be a list of `{name, value}` pairs, not a map"),
        "{message}"
    );
}

#[test]
fn describe_output_fields_are_dropped_by_name_and_reported() {
    let path = corpus::fixture(TASK_DEFINITIONS, "describe-wrapped-read-only.json");
    let imported =
        manifest_from_ecs_json(parse(&path), None, None, Some("c".into())).expect("accepted");
    let dropped: Vec<&str> = imported
        .dropped
        .iter()
        .map(|(field, _)| field.as_str())
        .collect();
    for field in [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    ] {
        assert!(
            dropped.contains(&field),
            "{field} not reported in {dropped:?}"
        );
    }
    // The wrapper's tags are the task definition's tags.
    let tags = imported
        .document
        .spec
        .task_definition
        .and_then(|td| td.tags)
        .expect("tags");
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert_eq!(imported.document.metadata.name.as_str(), "fender-api");
}

#[test]
fn every_corpus_service_definition_is_accepted_as_spec() {
    let task_definition = || {
        parse_documents(&Arc::from("td.json"), r#"{"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}]}"#)
            .expect("td")
            .remove(0)
    };
    for path in corpus::files(SERVICES) {
        let imported = manifest_from_ecs_json(
            task_definition(),
            Some(parse(&path)),
            None,
            Some("corpus".into()),
        )
        .unwrap_or_else(|errors| {
            panic!(
                "{} rejected:\n{}",
                path.display(),
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        let spec = serde_json::to_value(&imported.document.spec).expect("serialize");
        assert!(
            spec.as_object().is_some_and(|o| o.len() > 1),
            "{}: spec kept its fields: {spec}",
            path.display()
        );
    }
}
