//! Planning against in-process fakes of ECS and ECR: what each kind of difference plans as, and
//! how many API calls reading the live state costs.

use std::collections::BTreeMap;

use berth_core::manifest::{LoadOptions, LoadOutcome, ServiceId, SourceFile, load};
use berth_core::plan::{Action, Ownership, Plan, plan};
use berth_engine::read_live;
use berth_testkit::fake::{FakeEcs, FakeRegistry};
use berth_testkit::fixtures::ManifestText;

const REPOSITORY: &str = "git@example.com:acme/deploy.git";
const WEB_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2";
const DIGEST_142: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_150: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn loaded(manifests: &[(String, String)]) -> LoadOutcome {
    let files: Vec<SourceFile> = manifests
        .iter()
        .map(|(path, text)| SourceFile::new(path.clone(), text.clone()))
        .collect();
    let outcome = load(&files, &LoadOptions::default());
    assert!(outcome.is_valid(), "{:?}", outcome.invalid);
    outcome
}

fn registry() -> FakeRegistry {
    let registry = FakeRegistry::new();
    registry.push("web", "1.4.2", DIGEST_142);
    registry.push("web", "1.5.0", DIGEST_150);
    registry
}

fn digests() -> BTreeMap<String, String> {
    BTreeMap::from([(WEB_IMAGE.to_string(), DIGEST_142.to_string())])
}

fn ownership() -> Ownership {
    Ownership::new(REPOSITORY)
}

/// An estate of `count` services named svc-N, split across clusters `prod` and `staging`.
fn estate(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let cluster = if i % 2 == 0 { "prod" } else { "staging" };
            let text = ManifestText::web()
                .named(&format!("svc-{i:03}"))
                .set(5, &format!("  cluster: {cluster}"))
                .text();
            (format!("{cluster}/svc-{i:03}.yaml"), text)
        })
        .collect()
}

async fn plan_with(ecs: &FakeEcs, registry: &FakeRegistry, outcome: &LoadOutcome) -> Plan {
    let live = read_live(ecs, registry, &outcome.services, &outcome.invalid)
        .await
        .expect("read live");
    plan(&outcome.services, &outcome.invalid, &live, &ownership())
}

fn action_of<'a>(plan: &'a Plan, cluster: &str, name: &str) -> &'a Action {
    let id = ServiceId::new(cluster, name);
    &plan
        .services
        .iter()
        .find(|s| s.id.as_ref() == Some(&id))
        .expect("service in plan")
        .action
}

#[tokio::test]
async fn an_estate_in_sync_plans_no_changes_within_the_api_budget() {
    let outcome = loaded(&estate(200));
    let ecs = FakeEcs::new();
    for manifest in &outcome.services {
        ecs.insert_applied(manifest, &digests(), REPOSITORY);
    }
    let registry = registry();
    let plan = plan_with(&ecs, &registry, &outcome).await;
    let not_in_sync: Vec<_> = plan
        .services
        .iter()
        .filter(|s| s.action != Action::NoChange)
        .collect();
    assert!(not_in_sync.is_empty(), "{not_in_sync:#?}");
    assert!(!plan.has_changes());
    // ceil(200 / 10) DescribeServices and one ListServices per cluster.
    assert_eq!(ecs.count("DescribeServices"), 20);
    assert_eq!(ecs.count("ListServices"), 2);
    assert_eq!(
        ecs.count("DescribeTaskDefinition"),
        200,
        "one per distinct revision (the real adapter caches them)"
    );
    assert_eq!(registry.calls(), 1, "one DescribeImages per repository");
    println!(
        "in-sync plan of 200 services: DescribeServices={} ListServices={} DescribeTaskDefinition={} DescribeImages={}",
        ecs.count("DescribeServices"),
        ecs.count("ListServices"),
        ecs.count("DescribeTaskDefinition"),
        registry.calls()
    );
}

#[tokio::test]
async fn a_missing_service_plans_a_create() {
    let outcome = loaded(&[("prod/web.yaml".into(), ManifestText::web().text())]);
    let plan = plan_with(&FakeEcs::new(), &registry(), &outcome).await;
    let Action::Create { changes } = action_of(&plan, "prod", "web") else {
        panic!("{plan:#?}")
    };
    assert!(
        changes.iter().any(|c| c.path == "desiredCount"),
        "{changes:#?}"
    );
    assert!(plan.has_changes());
}

#[tokio::test]
async fn an_image_bump_plans_one_change_and_a_new_revision() {
    let before = loaded(&[("prod/web.yaml".into(), ManifestText::web().text())]);
    let ecs = FakeEcs::new();
    ecs.insert_applied(&before.services[0], &digests(), REPOSITORY);
    let after = loaded(&[(
        "prod/web.yaml".into(),
        ManifestText::web().replace("web:1.4.2", "web:1.5.0").text(),
    )]);
    let plan = plan_with(&ecs, &registry(), &after).await;
    let Action::Update {
        changes,
        new_task_definition,
    } = action_of(&plan, "prod", "web")
    else {
        panic!("{plan:#?}")
    };
    assert!(new_task_definition);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert!(changes[0].path.ends_with(".image"), "{changes:#?}");
    let new = changes[0]
        .new
        .as_ref()
        .and_then(|v| v.as_str())
        .expect("new image");
    assert!(new.ends_with(DIGEST_150), "{new}");
}

#[tokio::test]
async fn drift_in_desired_count_is_an_update_unless_ignored() {
    let outcome = loaded(&[("prod/web.yaml".into(), ManifestText::web().text())]);
    let ecs = FakeEcs::new();
    ecs.insert_applied(&outcome.services[0], &digests(), REPOSITORY);
    ecs.edit_service(&ServiceId::new("prod", "web"), |s| {
        s.spec.desired_count = Some(5)
    });
    let plan = plan_with(&ecs, &registry(), &outcome).await;
    let Action::Update {
        changes,
        new_task_definition,
    } = action_of(&plan, "prod", "web")
    else {
        panic!("{plan:#?}")
    };
    assert!(!new_task_definition);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "desiredCount");
    assert_eq!(changes[0].old, Some(serde_json::json!(5)));
    assert_eq!(changes[0].new, Some(serde_json::json!(2)));

    let ignoring = loaded(&[(
        "prod/web.yaml".into(),
        ManifestText::web()
            .set(5, "  cluster: prod\n  ignoreDifferences: [desiredCount]")
            .text(),
    )]);
    let plan = plan_with(&ecs, &registry(), &ignoring).await;
    assert_eq!(action_of(&plan, "prod", "web"), &Action::NoChange);
}

#[tokio::test]
async fn a_missing_image_tag_plans_image_missing() {
    let outcome = loaded(&[(
        "prod/web.yaml".into(),
        ManifestText::web().replace("web:1.4.2", "web:9.9.9").text(),
    )]);
    let plan = plan_with(&FakeEcs::new(), &registry(), &outcome).await;
    let Action::ImageMissing { images } = action_of(&plan, "prod", "web") else {
        panic!("{plan:#?}")
    };
    assert_eq!(
        images[0].reference,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:9.9.9"
    );
}

#[tokio::test]
async fn a_suspended_service_reports_drift_without_changing_it() {
    let outcome = loaded(&[(
        "prod/web.yaml".into(),
        ManifestText::web()
            .set(5, "  cluster: prod\n  suspend: true")
            .text(),
    )]);
    let ecs = FakeEcs::new();
    ecs.insert_applied(&outcome.services[0], &digests(), REPOSITORY);
    ecs.edit_service(&ServiceId::new("prod", "web"), |s| {
        s.spec.desired_count = Some(7)
    });
    let plan = plan_with(&ecs, &registry(), &outcome).await;
    let Action::Suspended { changes } = action_of(&plan, "prod", "web") else {
        panic!("{plan:#?}")
    };
    assert_eq!(changes.len(), 1);
    assert!(
        !plan.has_changes(),
        "suspended drift is not a change berth would make"
    );
}

#[tokio::test]
async fn services_owned_by_this_source_but_not_in_git_would_be_pruned() {
    let both = loaded(&[
        ("prod/web.yaml".into(), ManifestText::web().text()),
        (
            "prod/old.yaml".into(),
            ManifestText::web().named("old").text(),
        ),
        (
            "prod/theirs.yaml".into(),
            ManifestText::web().named("theirs").text(),
        ),
    ]);
    let ecs = FakeEcs::new();
    for manifest in &both.services {
        ecs.insert_applied(manifest, &digests(), REPOSITORY);
    }
    ecs.edit_service(&ServiceId::new("prod", "theirs"), |s| {
        s.tags.clear(); // not berth's
    });
    let only_web = loaded(&[("prod/web.yaml".into(), ManifestText::web().text())]);
    let plan = plan_with(&ecs, &registry(), &only_web).await;
    assert!(
        matches!(action_of(&plan, "prod", "old"), Action::WouldPrune { .. }),
        "{plan:#?}"
    );
    assert!(
        plan.services
            .iter()
            .all(|s| s.id != Some(ServiceId::new("prod", "theirs"))),
        "not owned: never touched"
    );
}

/// Two daemons on one repository (prod and staging paths) used to share one owner key (the
/// URL), so each could overwrite or prune the other's services.
#[tokio::test]
async fn a_service_another_daemon_owns_is_a_conflict_never_changed_or_pruned() {
    let ours = "git:example.com/acme/deploy@main:prod";
    let theirs = "git:example.com/acme/deploy@main:staging";
    let outcome = loaded(&[
        ("prod/web.yaml".into(), ManifestText::web().text()),
        (
            "prod/api.yaml".into(),
            ManifestText::web().named("api").text(),
        ),
    ]);
    let ecs = FakeEcs::new();
    let mut their_manifests = outcome.services.clone();
    their_manifests.push(
        loaded(&[(
            "prod/old.yaml".into(),
            ManifestText::web().named("old").text(),
        )])
        .services[0]
            .clone(),
    );
    for manifest in &their_manifests {
        ecs.insert_applied(manifest, &digests(), theirs);
    }
    // A one-off `berth apply` (no daemon prefix) is no claim: api is adopted.
    ecs.edit_service(&ServiceId::new("prod", "api"), |s| {
        s.tags
            .insert("berth:source".into(), "manifests#prod/api.yaml".into());
    });
    let live = read_live(&ecs, &registry(), &outcome.services, &outcome.invalid)
        .await
        .expect("read live");
    let ours_plan = plan(
        &outcome.services,
        &outcome.invalid,
        &live,
        &Ownership::new(ours),
    );
    match action_of(&ours_plan, "prod", "web") {
        Action::Conflict { owner } => assert_eq!(owner, theirs),
        other => panic!("web: {other:?}"),
    }
    let reason = berth_core::plan::conflict_reason(theirs);
    assert!(
        reason.contains(theirs) && reason.contains("berth:source"),
        "{reason}"
    );
    assert_eq!(action_of(&ours_plan, "prod", "api"), &Action::NoChange);
    assert!(
        ours_plan
            .services
            .iter()
            .all(|s| s.id != Some(ServiceId::new("prod", "old"))),
        "theirs, not in our git: not ours to prune"
    );
    // The other daemon sees its own services as its own.
    let theirs_plan = plan(
        &outcome.services,
        &outcome.invalid,
        &live,
        &Ownership::new(theirs),
    );
    assert_eq!(action_of(&theirs_plan, "prod", "web"), &Action::NoChange);
}

/// Services tagged by berth 0.1 with the URL as configured stay this source's.
#[tokio::test]
async fn a_legacy_url_owner_key_is_still_ours() {
    let outcome = loaded(&[("prod/web.yaml".into(), ManifestText::web().text())]);
    let ecs = FakeEcs::new();
    let old = loaded(&[(
        "prod/old.yaml".into(),
        ManifestText::web().named("old").text(),
    )]);
    ecs.insert_applied(&old.services[0], &digests(), REPOSITORY);
    let live = read_live(&ecs, &registry(), &outcome.services, &outcome.invalid)
        .await
        .expect("read live");
    let ours = Ownership::new("git:example.com/acme/deploy@main").with_previous_key(REPOSITORY);
    let planned = plan(&outcome.services, &outcome.invalid, &live, &ours);
    assert!(
        matches!(
            action_of(&planned, "prod", "old"),
            Action::WouldPrune { .. }
        ),
        "{planned:#?}"
    );
}
