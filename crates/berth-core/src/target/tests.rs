//! Targets: validation of the list, and each resolution rule.

use std::sync::Arc;

use super::*;
use crate::de::from_node;
use crate::yaml::parse_documents;

fn target(name: &str, clusters: &[&str]) -> Target {
    Target {
        name: name.to_string(),
        region: "us-east-1".to_string(),
        role_arn: None,
        external_id: None,
        clusters: clusters.iter().map(|c| c.to_string()).collect(),
    }
}

fn targets(list: Vec<Target>) -> Targets {
    Targets::new(list).expect("valid targets")
}

/// `a [prod, staging]`, `b [prod, batch]`, `c [edge]`.
fn three() -> Targets {
    targets(vec![
        target("a", &["prod", "staging"]),
        target("b", &["prod", "batch"]),
        target("c", &["edge"]),
    ])
}

fn resolved<'t>(targets: &'t Targets, cluster: &str, explicit: Option<&str>) -> &'t str {
    match targets.resolve(cluster, explicit) {
        Ok(target) => &target.name,
        Err(err) => panic!("{cluster} {explicit:?} did not resolve: {err}"),
    }
}

fn unresolved(targets: &Targets, cluster: &str, explicit: Option<&str>) -> String {
    match targets.resolve(cluster, explicit) {
        Ok(target) => panic!("{cluster} {explicit:?} resolved to {}", target.name),
        Err(err) => {
            assert_eq!(err.to_string(), err.message(), "one wording");
            err.message()
        }
    }
}

#[test]
fn targets_deserialize_from_berth_yaml_with_positioned_errors() {
    let file: Arc<str> = Arc::from("berth.yaml");
    let yaml = "- name: eu\n  region: eu-west-1\n  roleArn: arn:aws:iam::123456789012:role/berth\n  \
                externalId: x-1\n  clusters: [prod]\n- {name: us, region: us-east-1}\n";
    let node = parse_documents(&file, yaml).expect("yaml").remove(0);
    let list: Vec<Target> = from_node(&node).expect("targets");
    assert_eq!(
        list[0],
        Target {
            name: "eu".into(),
            region: "eu-west-1".into(),
            role_arn: Some("arn:aws:iam::123456789012:role/berth".into()),
            external_id: Some("x-1".into()),
            clusters: vec!["prod".into()],
        }
    );
    assert_eq!(list[1], target("us", &[]));

    let typo = parse_documents(&file, "- {name: us, region: us-east-1, role_arn: x}\n")
        .expect("yaml")
        .remove(0);
    let err = from_node::<Vec<Target>>(&typo).expect_err("unknown field");
    assert_eq!(err.path.to_string(), "[0].role_arn");
    assert_eq!(err.span.map(|s| (s.line, s.column)), Some((1, 33)));
}

#[test]
fn a_valid_list_keeps_its_order_and_is_found_by_name() {
    let targets = three();
    assert_eq!(targets.names().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(targets.iter().count(), 3);
    assert_eq!((&targets).into_iter().count(), 3);
    assert_eq!(targets.get("b").map(|t| t.clusters.len()), Some(2));
    assert_eq!(targets.get("z"), None);
}

#[test]
fn an_empty_list_is_an_error() {
    let err = Targets::new(Vec::new()).expect_err("empty");
    assert_eq!(err, TargetError::Empty);
    assert!(
        err.to_string().contains("list at least one target"),
        "{err}"
    );
}

#[test]
fn names_must_be_label_values() {
    for good in ["a", "prod-eu-1", "0", &"x".repeat(63)] {
        assert!(Targets::new(vec![target(good, &[])]).is_ok(), "{good}");
    }
    for bad in ["", "-a", "Prod", "a_b", "a.b", "a b", "é", &"x".repeat(64)] {
        assert_eq!(
            Targets::new(vec![target(bad, &[])]),
            Err(TargetError::InvalidName(bad.to_string())),
            "{bad:?}"
        );
    }
}

#[test]
fn names_are_unique() {
    let err = Targets::new(vec![target("a", &["x"]), target("a", &["y"])]).expect_err("twice");
    assert_eq!(err, TargetError::DuplicateName("a".into()));
    assert!(
        err.to_string().contains("give each target its own name"),
        "{err}"
    );
}

#[test]
fn a_region_is_required() {
    for region in ["", "  "] {
        let mut t = target("a", &[]);
        t.region = region.to_string();
        assert_eq!(
            Targets::new(vec![t]),
            Err(TargetError::EmptyRegion("a".into()))
        );
    }
}

#[test]
fn a_role_arn_must_be_an_iam_role_arn() {
    let with_arn = |arn: &str| {
        let mut t = target("a", &[]);
        t.role_arn = Some(arn.to_string());
        Targets::new(vec![t])
    };
    for good in [
        "arn:aws:iam::123456789012:role/berth",
        "arn:aws-cn:iam::123456789012:role/path/berth",
        "arn:aws-us-gov:iam::123456789012:role/berth",
    ] {
        assert!(with_arn(good).is_ok(), "{good}");
    }
    for bad in [
        "berth",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:user/berth",
        "arn:aws:iam::12345678901:role/berth",
        "arn:aws:iam::12345678901x:role/berth",
        "arn:aws:iam:us-east-1:123456789012:role/berth",
        "arn:aws:sts::123456789012:role/berth",
        "arn:azure:iam::123456789012:role/berth",
        "arn:AWS:iam::123456789012:role/berth",
    ] {
        let err = with_arn(bad).expect_err(bad);
        assert_eq!(
            err,
            TargetError::InvalidRoleArn {
                target: "a".into(),
                arn: bad.into()
            }
        );
        assert!(
            err.to_string()
                .contains("arn:aws:iam::123456789012:role/NAME")
        );
    }
}

#[test]
fn an_external_id_needs_a_role() {
    let mut t = target("a", &[]);
    t.external_id = Some("x".into());
    assert_eq!(
        Targets::new(vec![t.clone()]),
        Err(TargetError::ExternalIdWithoutRole("a".into()))
    );
    t.role_arn = Some("arn:aws:iam::123456789012:role/berth".into());
    assert!(Targets::new(vec![t]).is_ok());
}

#[test]
fn a_cluster_twice_in_one_target_is_an_error_but_in_two_targets_is_not() {
    assert_eq!(
        Targets::new(vec![target("a", &["prod", "prod"])]),
        Err(TargetError::DuplicateCluster {
            target: "a".into(),
            cluster: "prod".into()
        })
    );
    assert_eq!(
        Targets::new(vec![target("a", &["prod", ""])]),
        Err(TargetError::EmptyCluster("a".into()))
    );
    assert!(Targets::new(vec![target("a", &["prod"]), target("b", &["prod"])]).is_ok());
}

#[test]
fn the_one_target_listing_a_cluster_takes_it() {
    let targets = three();
    assert_eq!(resolved(&targets, "staging", None), "a");
    assert_eq!(resolved(&targets, "batch", None), "b");
    assert_eq!(resolved(&targets, "edge", None), "c");
}

#[test]
fn a_cluster_no_target_lists_is_unknown() {
    assert_eq!(
        unresolved(&three(), "dev", None),
        "unknown cluster: no target lists cluster `dev` (targets: a [prod, staging], b [prod, \
         batch], c [edge]); add it to a target's `clusters` in berth.yaml"
    );
}

#[test]
fn a_cluster_several_targets_list_is_ambiguous() {
    assert_eq!(
        unresolved(&three(), "prod", None),
        "ambiguous: cluster `prod` is in targets a and b; set `metadata.target`"
    );
    let all = targets(vec![
        target("a", &["prod"]),
        target("b", &["prod"]),
        target("c", &["prod"]),
    ]);
    assert_eq!(
        unresolved(&all, "prod", None),
        "ambiguous: cluster `prod` is in targets a, b and c; set `metadata.target`"
    );
}

#[test]
fn a_catch_all_takes_the_clusters_no_target_lists() {
    let targets = targets(vec![target("a", &["prod"]), target("rest", &[])]);
    assert_eq!(resolved(&targets, "dev", None), "rest");
    assert_eq!(
        resolved(&targets, "prod", None),
        "a",
        "a target listing the cluster wins over the catch-all"
    );
}

#[test]
fn two_catch_alls_are_ambiguous_for_unlisted_clusters() {
    let targets = targets(vec![
        target("a", &["prod"]),
        target("x", &[]),
        target("y", &[]),
    ]);
    assert_eq!(resolved(&targets, "prod", None), "a");
    assert_eq!(
        unresolved(&targets, "dev", None),
        "ambiguous: cluster `dev` is in targets x and y (no target lists it, and these list no \
         clusters, so take any); set `metadata.target`"
    );
    assert_eq!(resolved(&targets, "dev", Some("y")), "y");
}

#[test]
fn an_explicit_target_settles_an_ambiguous_cluster() {
    let targets = three();
    assert_eq!(resolved(&targets, "prod", Some("a")), "a");
    assert_eq!(resolved(&targets, "prod", Some("b")), "b");
}

#[test]
fn an_explicit_target_must_exist() {
    assert_eq!(
        unresolved(&three(), "prod", Some("d")),
        "no target is named `d` (targets: a, b, c); set `metadata.target` to one of them, or \
         add target `d` to `targets` in berth.yaml"
    );
}

#[test]
fn an_explicit_target_that_lists_clusters_must_list_this_one() {
    assert_eq!(
        unresolved(&three(), "edge", Some("a")),
        "target `a` does not list cluster `edge` (its clusters: prod, staging); add it to the \
         target's `clusters` in berth.yaml, or fix `metadata.cluster` or `metadata.target`"
    );
}

#[test]
fn an_explicit_catch_all_takes_any_cluster() {
    let targets = targets(vec![target("a", &["prod"]), target("rest", &[])]);
    assert_eq!(
        resolved(&targets, "prod", Some("rest")),
        "rest",
        "explicit wins over the target listing the cluster"
    );
    assert_eq!(resolved(&targets, "dev", Some("rest")), "rest");
}
