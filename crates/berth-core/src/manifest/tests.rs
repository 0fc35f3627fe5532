//! Loading: positions, defaults, variables, and one bad file never hiding the good ones.

use super::*;
use crate::fixtures::{LoadAs, ManifestText, error_lines, load_files};

#[test]
fn a_typo_is_an_unknown_field_with_a_suggestion() {
    let typo = ManifestText::web().replace("desiredCount: 2", "desiredCont: 2");
    let api = ManifestText::web().named("api");
    let outcome = load_files(&[
        ("prod/web.yaml", &typo.text()),
        ("prod/api.yaml", &api.text()),
    ]);
    assert_eq!(
        error_lines(&outcome),
        [
            "prod/web.yaml:7:3: spec.desiredCont: unknown field `desiredCont`; did you mean `desiredCount`?"
        ]
    );
    assert_eq!(
        outcome.invalid[0].id,
        Some(ServiceId::new("prod", "web")),
        "still known as prod/web"
    );
    let valid: Vec<String> = outcome.services.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(valid, ["prod/api"]);
}

#[test]
fn a_yaml_syntax_error_spoils_only_its_file() {
    let api = ManifestText::web().named("api");
    let outcome = load_files(&[
        (
            "prod/web.yaml",
            "apiVersion: berth/v1\nkind: Service\nmetadata: {name: web\n",
        ),
        ("prod/api.yaml", &api.text()),
    ]);
    let errors = error_lines(&outcome);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("prod/web.yaml:4:1: YAML syntax error"),
        "{errors:?}"
    );
    assert_eq!(
        outcome.invalid[0].id, None,
        "services in an unparsable file are unknown"
    );
    assert_eq!(outcome.services.len(), 1);
}

#[test]
fn several_documents_per_file_load_separately() {
    let text = format!(
        "{}---\n{}",
        ManifestText::web().text(),
        ManifestText::web().named("api").text()
    );
    let outcome = load_files(&[("prod/both.yaml", &text)]);
    assert_eq!(error_lines(&outcome), Vec::<String>::new());
    let origins: Vec<String> = outcome
        .services
        .iter()
        .map(|s| format!("{} {}", s.id, s.origin))
        .collect();
    assert_eq!(
        origins,
        ["prod/web prod/both.yaml:1", "prod/api prod/both.yaml:27"]
    );
}

#[test]
fn defaults_merge_under_manifests_in_their_directory_and_below() {
    let defaults = "metadata: {cluster: prod}\nspec:\n  desiredCount: 5\n  launchType: FARGATE\n";
    let web = ManifestText::web().set(5, "").set(7, "").set(8, "");
    let outcome = load_files(&[
        ("prod/_defaults.yaml", defaults),
        ("prod/eu/web.yaml", &web.text()),
        (
            "staging/api.yaml",
            &ManifestText::web()
                .named("api")
                .set(5, "  cluster: staging")
                .text(),
        ),
    ]);
    assert_eq!(error_lines(&outcome), Vec::<String>::new());
    let web = &outcome.services[0];
    assert_eq!(web.id, ServiceId::new("prod", "web"));
    assert_eq!(web.spec.desired_count, Some(5));
    let api = &outcome.services[1];
    assert_eq!(
        api.spec.desired_count,
        Some(2),
        "defaults in prod/ do not reach staging/"
    );
}

#[test]
fn an_error_in_a_defaulted_field_points_into_the_defaults_file() {
    let defaults = "spec:\n  launchTyp: FARGATE\n";
    let outcome = load_files(&[
        ("prod/_defaults.yaml", defaults),
        ("prod/web.yaml", &ManifestText::web().text()),
    ]);
    assert_eq!(
        error_lines(&outcome),
        [
            "prod/_defaults.yaml:2:3: spec.launchTyp: unknown field `launchTyp`; did you mean `launchType`?"
        ]
    );
}

#[test]
fn a_broken_defaults_file_makes_its_manifests_invalid_not_lost() {
    let outcome = load_files(&[
        ("prod/_defaults.yaml", "spec: [\n"),
        ("prod/web.yaml", &ManifestText::web().text()),
    ]);
    assert!(outcome.services.is_empty());
    let errors = error_lines(&outcome);
    assert!(
        errors.iter().any(|e| e.starts_with("prod/_defaults.yaml:")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e
                .contains("cannot apply shared settings: `prod/_defaults.yaml` failed to load")),
        "{errors:?}"
    );
    assert!(
        outcome
            .invalid
            .iter()
            .any(|i| i.id == Some(ServiceId::new("prod", "web")))
    );
}

#[test]
fn variables_are_substituted_and_undefined_ones_are_errors() {
    let manifest = ManifestText::web().replace("123456789012.dkr.ecr", "${ACCOUNT}.dkr.ecr");
    let files = [SourceFile::new("web.yaml", manifest.text())];
    let vars = Vars::from([("ACCOUNT".to_string(), "210987654321".to_string())]);
    let outcome = load(
        &files,
        &LoadOptions {
            vars,
            ..LoadOptions::default()
        },
    );
    assert_eq!(error_lines(&outcome), Vec::<String>::new());
    let image = outcome.services[0]
        .spec
        .task_definition
        .as_ref()
        .and_then(|td| td.container_definitions.as_ref())
        .and_then(|c| c[0].image.clone());
    assert_eq!(
        image.as_deref(),
        Some("210987654321.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2")
    );

    let outcome = load(&files, &LoadOptions::default());
    let errors = error_lines(&outcome);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("web.yaml:22:16: spec.taskDefinition.containerDefinitions[0].image: undefined variable `ACCOUNT`"), "{errors:?}");
}

#[test]
fn wrong_api_version_and_kind_are_named() {
    let manifest = ManifestText::web()
        .set(1, "apiVersion: berth/v2")
        .set(2, "kind: Deployment");
    assert_eq!(
        error_lines(&manifest.load_as("web.yaml")),
        [
            "web.yaml:1:13: apiVersion: unsupported apiVersion `berth/v2`; this berth reads `berth/v1`",
            "web.yaml:2:7: kind: unsupported kind `Deployment`; berth/v1 has only `Service`",
        ]
    );
}

#[test]
fn a_bad_enum_value_lists_the_allowed_ones() {
    let manifest = ManifestText::web().replace("launchType: FARGATE", "launchType: FARGAT");
    let errors = error_lines(&manifest.load_as("web.yaml"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .starts_with("web.yaml:8:15: spec.launchType: unknown value `FARGAT`, expected one of"),
        "{errors:?}"
    );
}

#[test]
fn describe_only_fields_say_how_to_convert() {
    let manifest = ManifestText::web().replace("    cpu: 256", "    revision: 3\n    cpu: 256");
    let errors = error_lines(&manifest.load_as("web.yaml"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "web.yaml:16:5: spec.taskDefinition.revision: unknown field `revision`: ECS sets it"
        ),
        "{errors:?}"
    );
    assert!(errors[0].contains("berth import --from-file"), "{errors:?}");
}

#[test]
fn defaults_file_detection() {
    assert!(is_defaults_file("_defaults.yaml"));
    assert!(is_defaults_file("prod/_defaults.yml"));
    assert!(!is_defaults_file("prod/web.yaml"));
}
