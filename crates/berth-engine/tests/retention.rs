//! Revision retention through the ports, on the in-memory fake: the limit per call, a failing
//! deregistration, a family that cannot be listed, what is left alone, and the lease gate.

use std::collections::BTreeSet;
use std::sync::Arc;

use berth_core::model::ecs::TaskDefinitionSpec;
use berth_engine::lease::{LeasedEcs, Validity};
use berth_engine::ports::EcsWrite;
use berth_engine::retention::{RetentionReport, retain_revisions};
use berth_testkit::fake::FakeEcs;

fn arn(family: &str, revision: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}")
}

fn arns(family: &str, revisions: impl IntoIterator<Item = u32>) -> Vec<String> {
    revisions.into_iter().map(|r| arn(family, r)).collect()
}

fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Registers `count` revisions of `family` in the fake.
async fn register(ecs: &FakeEcs, family: &str, count: u32) {
    let spec = TaskDefinitionSpec {
        family: Some(family.to_owned()),
        ..TaskDefinitionSpec::default()
    };
    for _ in 0..count {
        ecs.register_task_definition(&spec).await.expect("register");
    }
}

/// The revision numbers of `family` the fake holds ACTIVE, oldest first.
fn active(ecs: &FakeEcs, family: &str) -> Vec<i32> {
    (ecs.revisions(family).into_iter())
        .filter(|td| td.status == "ACTIVE")
        .map(|td| td.revision)
        .collect()
}

/// Keeps the future's `Send`-ness checked: the daemon runs reconcilers on a multi-threaded
/// runtime.
fn sendable<F: std::future::Future + Send>(future: F) -> F {
    future
}

#[tokio::test]
async fn the_limit_bounds_each_call_and_the_rest_follow_oldest_first() {
    let ecs = FakeEcs::new();
    register(&ecs, "web", 12).await;
    let shared = Arc::new(ecs.clone());
    let families = names(&["web"]);
    let none = BTreeSet::new();

    let first = sendable(retain_revisions(&shared, &families, &none, 2, 4)).await;
    assert_eq!(
        first,
        RetentionReport {
            deregistered: arns("web", 1..=4),
            deferred: 6,
            ..RetentionReport::default()
        }
    );
    assert_eq!(ecs.count("DeregisterTaskDefinition"), 4);
    assert_eq!(ecs.count("ListTaskDefinitions"), 1);
    assert_eq!(active(&ecs, "web"), (5..=12).collect::<Vec<_>>());

    let second = retain_revisions(&shared, &families, &none, 2, 4).await;
    assert_eq!(second.deregistered, arns("web", 5..=8));
    assert_eq!(second.deferred, 2);
    let third = retain_revisions(&shared, &families, &none, 2, 4).await;
    assert_eq!(third.deregistered, arns("web", 9..=10));
    assert_eq!(third.deferred, 0);
    let fourth = retain_revisions(&shared, &families, &none, 2, 4).await;
    assert_eq!(fourth, RetentionReport::default());
    assert_eq!(ecs.count("DeregisterTaskDefinition"), 10);
    assert_eq!(active(&ecs, "web"), [11, 12]);
    // Deregistered revisions stay readable, INACTIVE.
    let inactive = ecs.revisions("web");
    assert!(inactive[..10].iter().all(|td| td.status == "INACTIVE"));
    // A zero limit lists but changes nothing.
    register(&ecs, "web", 1).await;
    let none_allowed = retain_revisions(&shared, &families, &none, 2, 0).await;
    assert_eq!(none_allowed.deferred, 1);
    assert!(none_allowed.deregistered.is_empty());
    assert_eq!(ecs.count("DeregisterTaskDefinition"), 10);
}

#[tokio::test]
async fn a_failing_deregistration_is_reported_and_the_others_go_on() {
    let ecs = FakeEcs::new();
    register(&ecs, "web", 5).await;
    register(&ecs, "api", 3).await;
    ecs.fail_deregistering(&arn("web", 2));
    let families = names(&["api", "web"]);
    let none = BTreeSet::new();

    let report = retain_revisions(&ecs, &families, &none, 1, 50).await;
    let mut deregistered = arns("api", 1..=2);
    deregistered.extend(arns("web", [1, 3, 4]));
    assert_eq!(report.deregistered, deregistered);
    assert_eq!(
        report.failed,
        [(
            arn("web", 2),
            "injected failure in DeregisterTaskDefinition".to_owned()
        )]
    );
    assert_eq!(report.deferred, 0);
    assert_eq!(active(&ecs, "web"), [2, 5]);
    assert_eq!(active(&ecs, "api"), [3]);

    // Still ACTIVE, so tried again next time (and only it).
    let again = retain_revisions(&ecs, &families, &none, 1, 50).await;
    assert!(again.deregistered.is_empty());
    assert_eq!(again.failed.len(), 1);
    assert_eq!(ecs.count("DeregisterTaskDefinition"), 6 + 1);
}

#[tokio::test]
async fn a_failed_attempt_counts_towards_the_limit() {
    let ecs = FakeEcs::new();
    register(&ecs, "web", 6).await;
    ecs.fail_deregistering(&arn("web", 1));
    let report = retain_revisions(&ecs, &names(&["web"]), &BTreeSet::new(), 1, 3).await;
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.deregistered, arns("web", 2..=3));
    assert_eq!(report.deferred, 2);
    assert_eq!(ecs.count("DeregisterTaskDefinition"), 3);
}

#[tokio::test]
async fn revisions_in_use_and_families_not_managed_are_left_alone() {
    let ecs = FakeEcs::new();
    register(&ecs, "web", 5).await;
    register(&ecs, "legacy", 4).await;
    // A service on revision 2, one rolling out from 3 to 4 (the lead passes both).
    let in_use: BTreeSet<String> = arns("web", [2, 3, 4]).into_iter().collect();

    let report = retain_revisions(&ecs, &names(&["web"]), &in_use, 1, 50).await;
    assert_eq!(report.deregistered, arns("web", [1]));
    assert_eq!(active(&ecs, "web"), [2, 3, 4, 5]);
    assert_eq!(active(&ecs, "legacy"), [1, 2, 3, 4], "never listed");
    assert_eq!(ecs.count("ListTaskDefinitions"), 1);

    // A family with nothing registered, and keep 0 (refused upstream) keeping the newest.
    let report = retain_revisions(&ecs, &names(&["ghost", "web"]), &BTreeSet::new(), 0, 50).await;
    assert_eq!(report.deregistered, arns("web", 2..=4));
    assert_eq!(active(&ecs, "web"), [5]);
}

#[tokio::test]
async fn a_family_that_cannot_be_listed_deregisters_nothing() {
    let ecs = FakeEcs::new();
    register(&ecs, "web", 3).await;
    ecs.fail("ListTaskDefinitions");
    let report = retain_revisions(&ecs, &names(&["api", "web"]), &BTreeSet::new(), 1, 50).await;
    assert_eq!(
        report.unlisted,
        [
            (
                "api".to_owned(),
                "injected failure in ListTaskDefinitions".to_owned()
            ),
            (
                "web".to_owned(),
                "injected failure in ListTaskDefinitions".to_owned()
            ),
        ]
    );
    assert!(report.deregistered.is_empty() && report.failed.is_empty());
    assert_eq!(ecs.count("DeregisterTaskDefinition"), 0);
}

#[tokio::test(start_paused = true)]
async fn without_a_valid_lease_nothing_is_deregistered() {
    let ecs = FakeEcs::new();
    register(&ecs, "web", 3).await;
    let gated = LeasedEcs::new(ecs.clone(), "prod", Validity::default());
    let report = retain_revisions(&gated, &names(&["web"]), &BTreeSet::new(), 1, 50).await;
    assert!(report.deregistered.is_empty());
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert!(
        report
            .failed
            .iter()
            .all(|(_, error)| error.contains("lease on target `prod` has ended")),
        "{report:?}"
    );
    assert_eq!(
        ecs.count("DeregisterTaskDefinition"),
        0,
        "nothing reached ECS"
    );
    assert_eq!(active(&ecs, "web"), [1, 2, 3]);

    let always = LeasedEcs::new(ecs.clone(), "prod", Validity::always());
    let report = retain_revisions(&always, &names(&["web"]), &BTreeSet::new(), 1, 50).await;
    assert_eq!(report.deregistered, arns("web", 1..=2));
}
