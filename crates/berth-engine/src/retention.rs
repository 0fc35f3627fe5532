//! Revision retention (`reconcile.keepRevisions`, off by default): deregisters the task
//! definition revisions of the families berth manages beyond the newest `keep` that no service
//! uses.
//!
//! [`revisions_to_deregister`] is the pure decision, [`task_definitions_in_use`] gathers what
//! live services use, and [`retain_revisions`] lists, decides and deregisters through the
//! [`EcsWrite`] port, a bounded number per call. Deregistering only marks a revision INACTIVE:
//! ECS keeps it readable, and tasks and services that already run it are unaffected.

use std::collections::{BTreeMap, BTreeSet};

use berth_core::live::LiveService;
use futures::stream::{self, StreamExt};
use tracing::{debug, info, warn};

use crate::ports::EcsWrite;

/// Deregistrations one [`retain_revisions`] call makes at most unless told otherwise: a first
/// run against years of revisions spreads them over several reconciles instead of a burst.
pub const DEFAULT_LIMIT: usize = 50;

/// DeregisterTaskDefinition calls in flight at once: a handful, so retention never competes
/// with the reconcile's own calls for ECS's rate limits.
const DEREGISTER_IN_FLIGHT: usize = 4;

/// The family and revision a task definition ARN (`arn:…:task-definition/web:3`) or
/// `family:revision` names; `None` for anything else (a bare family, a revision that is not a
/// positive number).
pub fn family_and_revision(arn: &str) -> Option<(&str, u32)> {
    let name = if arn.starts_with("arn:") {
        arn.split_once(":task-definition/")?.1
    } else {
        arn
    };
    let (family, revision) = name.rsplit_once(':')?;
    let valid_family = !family.is_empty() && !family.contains(['/', ':']);
    let digits = !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit());
    if !valid_family || !digits {
        return None;
    }
    revision
        .parse()
        .ok()
        .filter(|revision| *revision >= 1)
        .map(|revision| (family, revision))
}

/// The task definition ARNs `services` use: the one each service names and those of all its
/// deployments (the PRIMARY rolling out, the ACTIVE ones it replaces).
pub fn task_definitions_in_use<'a>(
    services: impl IntoIterator<Item = &'a LiveService>,
) -> BTreeSet<String> {
    let mut in_use = BTreeSet::new();
    for service in services {
        let deployments = service.deployments.iter().map(|d| &d.task_definition_arn);
        for arn in std::iter::once(&service.task_definition_arn).chain(deployments) {
            if !arn.is_empty() {
                in_use.insert(arn.clone());
            }
        }
    }
    in_use
}

/// The revisions to deregister: of each family's ACTIVE revisions (`active`: family → ARNs as
/// listed), every one that is neither among the newest `keep` of its family (by revision
/// number) nor in use. A revision is in use when `in_use` holds its ARN or names the same
/// family and revision another way (another ARN form, `family:revision`).
///
/// `keep` below 1 counts as 1: the newest revision of a family is never deregistered. ARNs
/// that do not parse, or that belong to another family than the one they are listed under, are
/// left alone and do not count towards `keep`. The answer is ordered by family, then oldest
/// revision first, without duplicates.
pub fn revisions_to_deregister(
    active: &BTreeMap<String, Vec<String>>,
    in_use: &BTreeSet<String>,
    keep: usize,
) -> Vec<String> {
    let used: BTreeSet<(&str, u32)> = in_use
        .iter()
        .filter_map(|arn| family_and_revision(arn))
        .collect();
    let mut doomed = Vec::new();
    for (family, arns) in active {
        // By revision, one ARN each: the newest last.
        let revisions: BTreeMap<u32, &String> = arns
            .iter()
            .filter_map(|arn| {
                let (listed, revision) = family_and_revision(arn)?;
                (listed == family).then_some((revision, arn))
            })
            .collect();
        let older = revisions.len().saturating_sub(keep.max(1));
        doomed.extend(
            (revisions.into_iter().take(older))
                .filter(|(revision, arn)| {
                    !in_use.contains(*arn) && !used.contains(&(family.as_str(), *revision))
                })
                .map(|(_, arn)| arn.clone()),
        );
    }
    doomed
}

/// What one [`retain_revisions`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// The revisions deregistered (full ARNs), by family, oldest first.
    pub deregistered: Vec<String>,
    /// The deregistrations that failed: (ARN, the adapter's error).
    pub failed: Vec<(String, String)>,
    /// The families whose revisions could not be listed: (family, the adapter's error). Nothing
    /// of theirs was deregistered.
    pub unlisted: Vec<(String, String)>,
    /// Revisions due for deregistration beyond `limit`, left for a later call.
    pub deferred: usize,
}

/// Retention for the families berth manages (`families`: those of the task definitions the
/// manifests render): lists each family's ACTIVE revisions (one ListTaskDefinitions per page of
/// 100, per family), decides with [`revisions_to_deregister`], and deregisters at most `limit`
/// revisions ([`DEFAULT_LIMIT`]), oldest first; the rest are [`RetentionReport::deferred`] to
/// the next call. `in_use` must hold every revision a service runs or rolls out (of every
/// cluster read, [`task_definitions_in_use`]) and the ones berth wants running; `keep` is at
/// least 1 (0 counts as 1).
///
/// Revisions are only deregistered, never deleted: ECS keeps INACTIVE revisions readable
/// (DescribeTaskDefinition, rollback by ARN in the console), tasks that run one keep running,
/// and a service that uses one still scales. A family that cannot be listed, or a
/// deregistration that fails, is logged and reported and the others go on.
pub async fn retain_revisions<E: EcsWrite>(
    ecs: &E,
    families: &BTreeSet<String>,
    in_use: &BTreeSet<String>,
    keep: usize,
    limit: usize,
) -> RetentionReport {
    let mut report = RetentionReport::default();
    let active = list_families(ecs, families, &mut report).await;
    let doomed = revisions_to_deregister(&active, in_use, keep);
    report.deferred = doomed.len().saturating_sub(limit);
    // Built in a loop, not by a closure over the ARNs, so the future stays provably `Send`.
    let mut calls = Vec::new();
    for arn in doomed.into_iter().take(limit) {
        calls.push(async move {
            let result = ecs.deregister_task_definition(&arn).await;
            (arn, result.map_err(|error| error.to_string()))
        });
    }
    let results: Vec<(String, Result<(), String>)> = stream::iter(calls)
        .buffered(DEREGISTER_IN_FLIGHT)
        .collect()
        .await;
    for (arn, result) in results {
        match result {
            Ok(()) => {
                debug!(task_definition = %arn, "deregistered task definition revision");
                report.deregistered.push(arn);
            }
            Err(error) => {
                warn!(task_definition = %arn, %error, "cannot deregister task definition revision");
                report.failed.push((arn, error));
            }
        }
    }
    if !report.deregistered.is_empty() || report.deferred > 0 {
        info!(
            deregistered = report.deregistered.len(),
            failed = report.failed.len(),
            deferred = report.deferred,
            keep,
            "revision retention"
        );
    }
    report
}

/// Each family's ACTIVE revisions, listed side by side; a family that fails goes to
/// `report.unlisted`.
async fn list_families<E: EcsWrite>(
    ecs: &E,
    families: &BTreeSet<String>,
    report: &mut RetentionReport,
) -> BTreeMap<String, Vec<String>> {
    let mut lists = Vec::new();
    for family in families {
        lists.push(async move {
            let listed = ecs.list_active_task_definitions(family).await;
            (family.clone(), listed.map_err(|error| error.to_string()))
        });
    }
    let listed: Vec<(String, Result<Vec<String>, String>)> = stream::iter(lists)
        .buffered(crate::defaults::READS_IN_FLIGHT)
        .collect()
        .await;
    let mut active = BTreeMap::new();
    for (family, result) in listed {
        match result {
            Ok(arns) => {
                active.insert(family, arns);
            }
            Err(error) => {
                warn!(%family, %error, "cannot list task definition revisions; none deregistered");
                report.unlisted.push((family, error));
            }
        }
    }
    active
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::live::Deployment;

    const ACCOUNT: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition";

    fn arn(family: &str, revision: u32) -> String {
        format!("{ACCOUNT}/{family}:{revision}")
    }

    fn arns(family: &str, revisions: &[u32]) -> Vec<String> {
        revisions.iter().map(|r| arn(family, *r)).collect()
    }

    fn active(families: &[(&str, Vec<String>)]) -> BTreeMap<String, Vec<String>> {
        (families.iter())
            .map(|(family, arns)| ((*family).to_owned(), arns.clone()))
            .collect()
    }

    fn set(arns: &[String]) -> BTreeSet<String> {
        arns.iter().cloned().collect()
    }

    #[test]
    fn arns_and_short_forms_parse_to_family_and_revision() {
        assert_eq!(family_and_revision(&arn("web", 12)), Some(("web", 12)));
        assert_eq!(
            family_and_revision("arn:aws-cn:ecs:cn-north-1:1:task-definition/a_b-c:3"),
            Some(("a_b-c", 3))
        );
        assert_eq!(family_and_revision("web:7"), Some(("web", 7)));
        for bad in [
            "web",
            "web:",
            ":3",
            "web:0",
            "web:latest",
            "web:-1",
            "web:99999999999",
            "arn:aws:ecs:us-east-1:1:task-definition/web",
            "arn:aws:ecs:us-east-1:1:service/prod/web:3",
            "a/b:3",
            "",
        ] {
            assert_eq!(family_and_revision(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn nothing_to_do_without_revisions_or_with_no_more_than_keep() {
        let none = BTreeSet::new();
        assert!(revisions_to_deregister(&BTreeMap::new(), &none, 1).is_empty());
        assert!(revisions_to_deregister(&active(&[("web", vec![])]), &none, 1).is_empty());
        let three = active(&[("web", arns("web", &[1, 2, 3]))]);
        assert!(revisions_to_deregister(&three, &none, 3).is_empty());
        assert!(revisions_to_deregister(&three, &none, 10).is_empty());
        assert_eq!(revisions_to_deregister(&three, &none, 2), arns("web", &[1]));
    }

    #[test]
    fn revisions_beyond_the_newest_keep_go_oldest_first() {
        let five = active(&[("web", arns("web", &[3, 5, 1, 4, 2]))]);
        assert_eq!(
            revisions_to_deregister(&five, &BTreeSet::new(), 2),
            arns("web", &[1, 2, 3])
        );
    }

    #[test]
    fn a_revision_in_use_is_kept_and_does_not_take_a_keep_slot() {
        let five = active(&[("web", arns("web", &[1, 2, 3, 4, 5]))]);
        let in_use = set(&arns("web", &[2]));
        assert_eq!(
            revisions_to_deregister(&five, &in_use, 2),
            arns("web", &[1, 3])
        );
        // In use among the newest: changes nothing.
        let in_use = set(&arns("web", &[5]));
        assert_eq!(
            revisions_to_deregister(&five, &in_use, 2),
            arns("web", &[1, 2, 3])
        );
        // Every old revision in use: nothing goes.
        let in_use = set(&arns("web", &[1, 2, 3]));
        assert!(revisions_to_deregister(&five, &in_use, 2).is_empty());
    }

    #[test]
    fn in_use_matches_the_same_revision_named_another_way() {
        let three = active(&[("web", arns("web", &[1, 2, 3]))]);
        let in_use = BTreeSet::from([
            "web:1".to_owned(),
            "arn:aws:ecs:eu-west-1:999:task-definition/web:2".to_owned(),
        ]);
        assert!(revisions_to_deregister(&three, &in_use, 1).is_empty());
        // Another family's revision 1 is not web's.
        let other = BTreeSet::from([arn("api", 1), "web".to_owned()]);
        assert_eq!(
            revisions_to_deregister(&three, &other, 1),
            arns("web", &[1, 2])
        );
    }

    #[test]
    fn the_newest_revision_stays_even_with_keep_zero() {
        let three = active(&[("web", arns("web", &[1, 2, 3]))]);
        let none = BTreeSet::new();
        assert_eq!(
            revisions_to_deregister(&three, &none, 0),
            arns("web", &[1, 2])
        );
        let one = active(&[("web", arns("web", &[4]))]);
        assert!(revisions_to_deregister(&one, &none, 0).is_empty());
    }

    #[test]
    fn revisions_compare_as_numbers() {
        let listed = active(&[("web", arns("web", &[10, 9, 100]))]);
        assert_eq!(
            revisions_to_deregister(&listed, &BTreeSet::new(), 1),
            arns("web", &[9, 10])
        );
    }

    #[test]
    fn other_families_listed_under_a_prefix_are_neither_counted_nor_touched() {
        // `familyPrefix=web` also lists `web-canary` on AWS.
        let mut listed = arns("web", &[1, 2]);
        listed.extend(arns("web-canary", &[7, 8]));
        let listed = active(&[("web", listed)]);
        assert_eq!(
            revisions_to_deregister(&listed, &BTreeSet::new(), 1),
            arns("web", &[1])
        );
    }

    #[test]
    fn unparsable_and_duplicate_arns_are_left_alone() {
        let mut listed = arns("web", &[1, 2, 2, 1]);
        listed.push(format!("{ACCOUNT}/web"));
        listed.push(format!("{ACCOUNT}/web:latest"));
        listed.push("garbage".to_owned());
        let listed = active(&[("web", listed)]);
        assert_eq!(
            revisions_to_deregister(&listed, &BTreeSet::new(), 1),
            arns("web", &[1])
        );
    }

    #[test]
    fn keep_applies_per_family_and_the_answer_is_by_family() {
        let listed = active(&[
            ("web", arns("web", &[1, 2, 3])),
            ("api", arns("api", &[5, 6])),
            ("worker", arns("worker", &[1])),
        ]);
        let in_use = set(&arns("web", &[1]));
        let mut expected = arns("api", &[5]);
        expected.extend(arns("web", &[2]));
        assert_eq!(revisions_to_deregister(&listed, &in_use, 1), expected);
    }

    /// Every family of up to 7 revisions, every subset of them in use, every `keep` up to 8:
    /// the answer is exactly the revisions neither in use nor among the newest `keep`.
    #[test]
    fn the_rule_holds_for_every_small_family() {
        for count in 0..=7_u32 {
            let revisions: Vec<u32> = (1..=count).collect();
            let listed = active(&[("web", arns("web", &revisions))]);
            for mask in 0..(1_u32 << count) {
                let used: Vec<u32> = (1..=count).filter(|r| mask & (1 << (r - 1)) != 0).collect();
                let in_use = set(&arns("web", &used));
                for keep in 0..=8_usize {
                    let kept = u32::try_from(keep.max(1)).unwrap_or(u32::MAX);
                    let expected: Vec<u32> = (1..=count)
                        .filter(|r| *r + kept <= count && !used.contains(r))
                        .collect();
                    let got = revisions_to_deregister(&listed, &in_use, keep);
                    assert_eq!(got, arns("web", &expected), "{count} {used:?} {keep}");
                    assert!(got.iter().all(|arn| !in_use.contains(arn)));
                    if count > 0 {
                        assert!(!got.contains(&arn("web", count)), "the newest stays");
                    }
                }
            }
        }
    }

    #[test]
    fn services_use_their_revision_and_every_deployment_s() {
        let deployment = |arn: String| Deployment {
            id: "ecs-svc/1".into(),
            status: "ACTIVE".into(),
            task_definition_arn: arn,
            rollout_state: None,
            rollout_state_reason: None,
            desired_count: 1,
            running_count: 1,
            pending_count: 0,
            failed_tasks: 0,
        };
        let service = |name: &str, arn: String, deployments: Vec<Deployment>| LiveService {
            id: berth_core::manifest::ServiceId::new("prod", name),
            arn: format!("arn:aws:ecs:us-east-1:1:service/prod/{name}"),
            status: "ACTIVE".into(),
            spec: Default::default(),
            task_definition_arn: arn,
            tags: BTreeMap::new(),
            role_arn: None,
            deployments,
            events: Vec::new(),
            running_count: 1,
            pending_count: 0,
        };
        let services = [
            service(
                "web",
                arn("web", 3),
                vec![deployment(arn("web", 3)), deployment(arn("web", 2))],
            ),
            service("api", arn("api", 1), Vec::new()),
            service("odd", String::new(), Vec::new()),
        ];
        assert_eq!(
            task_definitions_in_use(&services),
            set(&[arn("api", 1), arn("web", 2), arn("web", 3)])
        );
    }
}
