//! The real-world corpus (`shared/corpus/`): every task and service definition people paste into
//! berth must be accepted, and the known mistakes rejected with a positioned, helpful error.
//!
//! The directory is iterated, so files added to the corpus are covered without touching this.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::de::from_node;
use berth_core::manifest::import::manifest_from_ecs_json;
use berth_core::model::ecs::{TASK_DEFINITION_DESCRIBE_ONLY_FIELDS, TaskDefinitionSpec};
use berth_core::yaml::{Node, parse_documents};

fn corpus_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BERTH_CORPUS_DIR") {
        return PathBuf::from(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        dir.is_dir(),
        "corpus not found at {} (the repository's sibling `shared/corpus`); set BERTH_CORPUS_DIR",
        dir.display()
    );
    dir
}

fn json_files(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir().join(kind))
        .expect("corpus directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no {kind} in the corpus");
    files
}

fn parse(path: &Path) -> Node {
    let name: Arc<str> = Arc::from(path.file_name().expect("name").to_string_lossy().as_ref());
    let text = std::fs::read_to_string(path).expect("read");
    let mut docs = parse_documents(&name, &text).unwrap_or_else(|diag| panic!("{diag}"));
    assert_eq!(docs.len(), 1, "{}", path.display());
    docs.remove(0)
}

fn is_mistake(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().contains("-MISTAKE-"))
}

/// Whether a file is in `describe-task-definition` form (wrapped or with read-only fields).
fn is_describe_form(tree: &Node) -> bool {
    tree.get("taskDefinition").is_some()
        || TASK_DEFINITION_DESCRIBE_ONLY_FIELDS
            .iter()
            .any(|f| tree.get(f).is_some())
}

#[test]
fn every_task_definition_is_accepted_or_rejected_as_a_known_mistake() {
    let mut accepted = 0;
    for path in json_files("task-definitions") {
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
    assert!(accepted >= 38, "only {accepted} accepted");
}

#[test]
fn environment_with_value_from_says_to_use_secrets() {
    let path = json_files("task-definitions")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("30-MISTAKE"))
        .expect("file 30");
    let errors = manifest_from_ecs_json(parse(&path), None, Some("svc".into()), Some("c".into()))
        .expect_err("mistake");
    let message = errors[0].to_string();
    assert!(
        message.contains("environment[") && message.contains("valueFrom"),
        "{message}"
    );
    assert!(message.contains("belongs in `secrets`"), "{message}");
}

#[test]
fn tags_as_a_map_says_to_write_a_list() {
    let path = json_files("task-definitions")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("31-MISTAKE"))
        .expect("file 31");
    let errors = manifest_from_ecs_json(parse(&path), None, Some("svc".into()), Some("c".into()))
        .expect_err("mistake");
    let message = errors[0].to_string();
    assert!(
        message.starts_with("31-MISTAKE-tags-as-map.json:55:11: tags:"),
        "{message}"
    );
    assert!(
        message.contains("`tags: [{key: Project, value: TalentRadar}]`"),
        "{message}"
    );
}

#[test]
fn describe_output_fields_are_dropped_by_name_and_reported() {
    let path = json_files("task-definitions")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("33-describe"))
        .expect("file 33");
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
}

#[test]
fn every_service_definition_is_accepted_as_spec() {
    let task_definition = || {
        parse_documents(&Arc::from("td.json"), r#"{"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}]}"#)
            .expect("td")
            .remove(0)
    };
    for path in json_files("services") {
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
