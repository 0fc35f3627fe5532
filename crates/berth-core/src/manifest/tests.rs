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

mod targets {
    //! `targets:`: every service resolves to one target; the checks across manifests hold
    //! within each target.

    use super::*;
    use crate::target::{Target, Targets};

    /// `a [prod, staging]`, `b [prod, batch]`.
    fn targets() -> Targets {
        let target = |name: &str, clusters: &[&str]| Target {
            name: name.to_string(),
            region: "us-east-1".to_string(),
            role_arn: None,
            external_id: None,
            clusters: clusters.iter().map(|c| c.to_string()).collect(),
        };
        Targets::new(vec![
            target("a", &["prod", "staging"]),
            target("b", &["prod", "batch"]),
        ])
        .expect("valid targets")
    }

    fn load_with_targets(files: &[(&str, &str)]) -> LoadOutcome {
        let files: Vec<SourceFile> = files
            .iter()
            .map(|(path, text)| SourceFile::new(*path, *text))
            .collect();
        let options = LoadOptions {
            targets: Some(targets()),
            ..LoadOptions::default()
        };
        load(&files, &options)
    }

    /// The web fixture as service `name` in `cluster`, with `metadata.target` if given.
    fn service(name: &str, cluster: &str, target: Option<&str>) -> String {
        let metadata = match target {
            Some(target) => format!("  cluster: {cluster}\n  target: {target}"),
            None => format!("  cluster: {cluster}"),
        };
        ManifestText::web().named(name).set(5, &metadata).text()
    }

    /// `target/cluster/name` of each valid service.
    fn placed(outcome: &LoadOutcome) -> Vec<String> {
        outcome
            .services
            .iter()
            .map(|s| format!("{}/{}", s.target.as_deref().unwrap_or("-"), s.id))
            .collect()
    }

    #[test]
    fn metadata_target_without_targets_is_a_positioned_error() {
        let outcome = load_files(&[("prod/web.yaml", &service("web", "prod", Some("a")))]);
        assert_eq!(
            error_lines(&outcome),
            [
                "prod/web.yaml:6:3: metadata.target: `metadata.target` needs `targets:` in berth.yaml; remove it or configure targets"
            ]
        );
        assert_eq!(outcome.invalid[0].id, Some(ServiceId::new("prod", "web")));
        assert!(outcome.services.is_empty());
    }

    #[test]
    fn without_targets_services_have_no_target() {
        let outcome = load_files(&[("prod/web.yaml", &service("web", "prod", None))]);
        assert_eq!(error_lines(&outcome), Vec::<String>::new());
        assert_eq!(placed(&outcome), ["-/prod/web"]);
    }

    #[test]
    fn each_service_gets_the_target_its_cluster_resolves_to() {
        let outcome = load_with_targets(&[
            ("staging/web.yaml", &service("web", "staging", None)),
            ("batch/web.yaml", &service("web", "batch", None)),
        ]);
        assert_eq!(error_lines(&outcome), Vec::<String>::new());
        assert_eq!(placed(&outcome), ["a/staging/web", "b/batch/web"]);
    }

    #[test]
    fn an_unknown_cluster_is_an_error_at_metadata_cluster() {
        let outcome = load_with_targets(&[
            ("dev/web.yaml", &service("web", "dev", None)),
            ("staging/web.yaml", &service("web", "staging", None)),
        ]);
        assert_eq!(
            error_lines(&outcome),
            [
                "dev/web.yaml:5:3: metadata.cluster: unknown cluster: no target lists cluster `dev` (targets: a [prod, staging], b [prod, batch]); add it to a target's `clusters` in berth.yaml"
            ]
        );
        assert_eq!(outcome.invalid[0].id, Some(ServiceId::new("dev", "web")));
        assert_eq!(outcome.invalid[0].target, None);
        assert_eq!(placed(&outcome), ["a/staging/web"], "the others still load");
    }

    #[test]
    fn an_ambiguous_cluster_is_an_error_unless_metadata_target_settles_it() {
        let outcome = load_with_targets(&[("prod/web.yaml", &service("web", "prod", None))]);
        assert_eq!(
            error_lines(&outcome),
            [
                "prod/web.yaml:5:3: metadata.cluster: ambiguous: cluster `prod` is in targets a and b; set `metadata.target`"
            ]
        );
        let outcome = load_with_targets(&[("prod/web.yaml", &service("web", "prod", Some("b")))]);
        assert_eq!(error_lines(&outcome), Vec::<String>::new());
        assert_eq!(placed(&outcome), ["b/prod/web"]);
        assert_eq!(outcome.services[0].metadata.target.as_deref(), Some("b"));
    }

    #[test]
    fn a_bad_metadata_target_is_an_error_at_metadata_target() {
        let outcome = load_with_targets(&[
            ("prod/web.yaml", &service("web", "prod", Some("c"))),
            ("batch/web.yaml", &service("web", "batch", Some("a"))),
        ]);
        assert_eq!(
            error_lines(&outcome),
            [
                "prod/web.yaml:6:3: metadata.target: no target is named `c` (targets: a, b); set `metadata.target` to one of them, or add target `c` to `targets` in berth.yaml",
                "batch/web.yaml:6:3: metadata.target: target `a` does not list cluster `batch` (its clusters: prod, staging); add it to the target's `clusters` in berth.yaml, or fix `metadata.cluster` or `metadata.target`",
            ]
        );
    }

    #[test]
    fn metadata_target_from_defaults_is_positioned_in_the_defaults_file() {
        let outcome = load_with_targets(&[
            ("prod/_defaults.yaml", "metadata: {target: c}\n"),
            ("prod/web.yaml", &service("web", "prod", None)),
        ]);
        let errors = error_lines(&outcome);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .starts_with("prod/_defaults.yaml:1:12: metadata.target: no target is named `c`"),
            "{errors:?}"
        );
    }

    #[test]
    fn the_same_cluster_and_name_in_two_targets_are_not_duplicates() {
        let outcome = load_with_targets(&[
            ("a/web.yaml", &service("web", "prod", Some("a"))),
            ("b/web.yaml", &service("web", "prod", Some("b"))),
        ]);
        assert_eq!(error_lines(&outcome), Vec::<String>::new());
        assert_eq!(placed(&outcome), ["a/prod/web", "b/prod/web"]);
    }

    #[test]
    fn the_same_cluster_and_name_twice_in_one_target_are_duplicates() {
        let outcome = load_with_targets(&[
            ("one.yaml", &service("web", "staging", None)),
            ("two.yaml", &service("web", "staging", Some("a"))),
            ("b.yaml", &service("web", "prod", Some("b"))),
        ]);
        assert_eq!(
            error_lines(&outcome),
            [
                "one.yaml:4:3: metadata.name: service `staging/web` of target `a` is declared more than once (also at two.yaml:1); each (cluster, name) must have exactly one manifest per target",
                "two.yaml:4:3: metadata.name: service `staging/web` of target `a` is declared more than once (also at one.yaml:1); each (cluster, name) must have exactly one manifest per target",
            ]
        );
        let targets: Vec<Option<&str>> = outcome
            .invalid
            .iter()
            .map(|i| i.target.as_deref())
            .collect();
        assert_eq!(targets, [Some("a"), Some("a")]);
        assert_eq!(placed(&outcome), ["b/prod/web"]);
    }

    #[test]
    fn an_invalid_manifest_whose_target_cannot_be_told_may_be_in_any_target() {
        let outcome = load_with_targets(&[
            ("a.yaml", &service("web", "prod", Some("a"))),
            ("b.yaml", &service("web", "prod", Some("b"))),
            ("unsure.yaml", &service("web", "prod", None)),
        ]);
        let errors = error_lines(&outcome);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("ambiguous"), "{errors:?}");
        assert!(errors[1].starts_with("a.yaml:4:3: metadata.name: service `prod/web` of target `a` is declared more than once (also at unsure.yaml:1)"), "{errors:?}");
        assert!(errors[2].starts_with("b.yaml:4:3: metadata.name: service `prod/web` of target `b` is declared more than once (also at unsure.yaml:1)"), "{errors:?}");
        assert!(outcome.services.is_empty());
    }

    #[test]
    fn an_invalid_manifest_of_another_target_is_not_a_duplicate() {
        let broken = ManifestText::web()
            .set(5, "  cluster: prod\n  target: b")
            .replace("desiredCount: 2", "desiredCont: 2")
            .text();
        let outcome = load_with_targets(&[
            ("a.yaml", &service("web", "prod", Some("a"))),
            ("b.yaml", &broken),
        ]);
        let errors = error_lines(&outcome);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("b.yaml:8:3: spec.desiredCont"),
            "{errors:?}"
        );
        assert_eq!(outcome.invalid[0].target.as_deref(), Some("b"));
        assert_eq!(placed(&outcome), ["a/prod/web"]);
    }

    #[test]
    fn depends_on_names_only_services_of_the_same_target() {
        let web = ManifestText::web()
            .set(5, "  cluster: prod\n  target: a\n  dependsOn: [api]")
            .text();
        let outcome = load_with_targets(&[
            ("web.yaml", &web),
            ("api.yaml", &service("api", "prod", Some("b"))),
        ]);
        assert_eq!(
            error_lines(&outcome),
            [
                "web.yaml:7:15: metadata.dependsOn[0]: depends on `api`, but cluster `prod` of target `a` has no manifest for a service of that name"
            ]
        );
        let outcome = load_with_targets(&[
            ("web.yaml", &web),
            ("api.yaml", &service("api", "prod", Some("a"))),
        ]);
        assert_eq!(error_lines(&outcome), Vec::<String>::new());
    }

    #[test]
    fn depends_on_cycles_are_found_within_a_target() {
        let in_target = |name: &str, target: &str, dependency: &str| {
            ManifestText::web()
                .named(name)
                .set(
                    5,
                    &format!("  cluster: prod\n  target: {target}\n  dependsOn: [{dependency}]"),
                )
                .text()
        };
        let outcome = load_with_targets(&[
            ("a/web.yaml", &in_target("web", "a", "api")),
            ("a/api.yaml", &in_target("api", "a", "web")),
            ("b/web.yaml", &in_target("web", "b", "api")),
            ("b/api.yaml", &service("api", "prod", Some("b"))),
        ]);
        let errors = error_lines(&outcome);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.starts_with("a/") && e.contains("dependsOn cycle")),
            "{errors:?}"
        );
        assert_eq!(placed(&outcome), ["b/prod/web", "b/prod/api"]);
    }
}
