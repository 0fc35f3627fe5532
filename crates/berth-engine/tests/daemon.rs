//! The daemon's reconciler against the in-process fake ECS under tokio's paused clock: new
//! commits, drift, failed rollouts that must not be hammered, invalid manifests, and prune.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::manifest::{ServiceId, SourceFile};
use berth_engine::daemon::{
    ApplyAction, Backoff, DaemonOptions, Holds, ManifestSource, Notice, Notify, ReconcileResult,
    Reconciler, Requeue, Snapshot, Status, SuspendScope, Telemetry, Trigger, Waiting, WallClock,
    WindowKind, WindowSpec, Windows,
};
use berth_testkit::fake::{FakeEcs, FakeRegistry};
use berth_testkit::fixtures::ManifestText;

const REPOSITORY: &str = "https://example.com/acme/deploy.git";

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:x}").repeat(64))
}

fn registry() -> FakeRegistry {
    let registry = FakeRegistry::new();
    registry.push("web", "1.4.2", &digest(1));
    registry.push("web", "1.5.0", &digest(2));
    registry.push("web", "broken", &digest(3));
    registry
}

#[derive(Default)]
struct Recorded {
    drift: Mutex<Vec<String>>,
    statuses: Mutex<BTreeMap<String, Status>>,
}

impl Telemetry for Recorded {
    fn reconcile(&self, _: Duration, _: ReconcileResult) {}
    fn service_status(&self, id: &ServiceId, status: Status) {
        self.statuses
            .lock()
            .expect("lock")
            .insert(id.to_string(), status);
    }
    fn service_removed(&self, _: &ServiceId) {}
    fn drift(&self, id: &ServiceId) {
        self.drift.lock().expect("lock").push(id.to_string());
    }
    fn git_fetch(&self, _: Duration) {}
    fn revision(&self, _: &str) {}
    fn apply_action(&self, _: ApplyAction) {}
    fn aws_requests(&self, _: &BTreeMap<(String, String), u64>) {}
}

fn with_breaker(m: ManifestText) -> ManifestText {
    m.replace(
        "  desiredCount: 2",
        "  desiredCount: 2\n  deploymentConfiguration: {deploymentCircuitBreaker: {enable: true, rollback: true}}",
    )
}

fn snapshot(revision: &str, services: &[(&str, ManifestText)]) -> Snapshot {
    Snapshot {
        revision: revision.into(),
        files: services
            .iter()
            .map(|(name, text)| SourceFile::new(format!("prod/{name}.yaml"), text.text()))
            .collect(),
    }
}

fn options() -> DaemonOptions {
    DaemonOptions {
        repository: REPOSITORY.into(),
        rollout_poll: Duration::from_secs(5),
        backoff: Backoff {
            min: Duration::from_secs(60),
            max: Duration::from_secs(600),
        },
        ..DaemonOptions::default()
    }
}

/// [`options`] with prune on, at most `max_prune` at once.
fn pruning(max_prune: usize) -> DaemonOptions {
    DaemonOptions {
        prune: true,
        max_prune,
        ..options()
    }
}

/// What the last reconcile's prune refused, and why.
async fn prune_notes(reconciler: &Reconciler<FakeEcs, FakeRegistry>) -> Vec<String> {
    reconciler
        .state()
        .read()
        .await
        .last_reconcile
        .as_ref()
        .expect("summary")
        .prune
        .clone()
}

fn reconciler(
    ecs: &FakeEcs,
    options: DaemonOptions,
) -> (Reconciler<FakeEcs, FakeRegistry>, Arc<Recorded>) {
    let telemetry = Arc::new(Recorded::default());
    (
        Reconciler::new(ecs.clone(), registry(), options, telemetry.clone()),
        telemetry,
    )
}

async fn status(reconciler: &Reconciler<FakeEcs, FakeRegistry>, name: &str) -> Status {
    let state = reconciler.state();
    let state = state.read().await;
    state
        .service(&ServiceId::new("prod", name))
        .map(|s| s.status)
        .expect("service in status")
}

/// A daemon that applies `commit`, sees its rollouts complete, and stops.
async fn settled_by_a_first_daemon(ecs: &FakeEcs, commit: &Snapshot) {
    let (mut first, _) = reconciler(ecs, options());
    first.reconcile(commit).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    first.reconcile(commit).await;
}

fn web() -> ManifestText {
    with_breaker(ManifestText::web())
}

#[tokio::test(start_paused = true)]
async fn a_new_commit_is_applied_and_followed_to_synced_without_blocking() {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, options());
    let first = snapshot("c1", &[("web", web())]);
    assert_eq!(
        reconciler.reconcile(&first).await,
        Requeue::Poll(Duration::from_secs(5))
    );
    assert_eq!(status(&reconciler, "web").await, Status::Progressing);
    assert!(reconciler.state().read().await.readiness().is_ok());

    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(reconciler.reconcile(&first).await, Requeue::Interval);
    assert_eq!(status(&reconciler, "web").await, Status::Synced);

    let bump = snapshot("c2", &[("web", web().replace("web:1.4.2", "web:1.5.0"))]);
    let before = ecs.mutations().len();
    reconciler.reconcile(&bump).await;
    assert_eq!(
        &ecs.mutations()[before..],
        ["RegisterTaskDefinition", "UpdateService", "TagResource"]
    );
    assert_eq!(status(&reconciler, "web").await, Status::Progressing);
}

#[tokio::test(start_paused = true)]
async fn drift_is_counted_and_reverted_with_self_heal_and_only_reported_without() {
    for self_heal in [true, false] {
        let ecs = FakeEcs::new();
        let (mut reconciler, telemetry) = reconciler(
            &ecs,
            DaemonOptions {
                self_heal,
                ..options()
            },
        );
        let commit = snapshot("c1", &[("web", web())]);
        reconciler.reconcile(&commit).await;
        tokio::time::advance(Duration::from_secs(5)).await;
        reconciler.reconcile(&commit).await;
        assert_eq!(status(&reconciler, "web").await, Status::Synced);

        ecs.edit_service(&ServiceId::new("prod", "web"), |s| {
            s.spec.desired_count = Some(9)
        });
        let before = ecs.mutations().len();
        reconciler.reconcile(&commit).await;
        assert_eq!(
            telemetry.drift.lock().expect("lock").as_slice(),
            ["prod/web"]
        );
        let desired = ecs
            .service(&ServiceId::new("prod", "web"))
            .and_then(|s| s.spec.desired_count);
        if self_heal {
            assert_eq!(&ecs.mutations()[before..], ["UpdateService", "TagResource"]);
            assert_eq!(desired, Some(2), "reverted to git");
        } else {
            assert_eq!(
                ecs.mutations().len(),
                before,
                "self-heal off: nothing changed"
            );
            assert_eq!(desired, Some(9));
            assert_eq!(status(&reconciler, "web").await, Status::OutOfSync);
            // The same drift seen again is not counted again (its rate used to follow how
            // often unrelated rollouts made berth look); a different one is.
            reconciler.reconcile(&commit).await;
            reconciler.reconcile(&commit).await;
            assert_eq!(telemetry.drift.lock().expect("lock").len(), 1);
            ecs.edit_service(&ServiceId::new("prod", "web"), |s| {
                s.spec.desired_count = Some(7);
                s.spec.enable_execute_command = Some(true);
            });
            reconciler.reconcile(&commit).await;
            assert_eq!(telemetry.drift.lock().expect("lock").len(), 2);
        }
    }
}

/// A rollout that never finishes used to stay Progressing, re-read every 5 s, forever.
#[tokio::test(start_paused = true)]
async fn a_rollout_stuck_past_its_deadline_is_failed_and_no_longer_polled() {
    let ecs = FakeEcs::new();
    ecs.set_rollout_time(Duration::from_secs(3600));
    let (mut reconciler, _) = reconciler(
        &ecs,
        DaemonOptions {
            progress_deadline: Duration::from_secs(600),
            ..options()
        },
    );
    let commit = snapshot("c1", &[("web", web())]);
    reconciler.reconcile(&commit).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        reconciler.reconcile(&commit).await,
        Requeue::Poll(Duration::from_secs(5))
    );
    assert_eq!(status(&reconciler, "web").await, Status::Progressing);

    tokio::time::advance(Duration::from_secs(600)).await;
    let requeue = reconciler.reconcile(&commit).await;
    assert_eq!(status(&reconciler, "web").await, Status::Failed);
    let error = reconciler
        .state()
        .read()
        .await
        .service(&ServiceId::new("prod", "web"))
        .and_then(|s| s.last_error.clone())
        .unwrap_or_default();
    assert!(error.contains("progressDeadline (600s)"), "{error}");
    assert_eq!(requeue, Requeue::Interval, "no more 5 s polls for it");

    // When ECS finally finishes, it is Synced.
    tokio::time::advance(Duration::from_secs(3600)).await;
    reconciler.reconcile(&commit).await;
    assert_eq!(status(&reconciler, "web").await, Status::Synced);
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollout_is_not_retried_until_backoff_or_a_new_commit() {
    let ecs = FakeEcs::new();
    ecs.fail_images(&digest(3));
    let (mut reconciler, _) = reconciler(&ecs, options());
    let good = snapshot("c1", &[("web", web())]);
    reconciler.reconcile(&good).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    reconciler.reconcile(&good).await;

    let bad = snapshot("c2", &[("web", web().replace("web:1.4.2", "web:broken"))]);
    reconciler.reconcile(&bad).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    // The circuit breaker rolled back; the next pass sees it and marks the service Failed.
    reconciler.reconcile(&bad).await;
    assert_eq!(status(&reconciler, "web").await, Status::Failed);
    let updates = ecs.count("UpdateService");
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(5)).await;
        reconciler.reconcile(&bad).await;
    }
    assert_eq!(
        ecs.count("UpdateService"),
        updates,
        "no hammering the same failed commit"
    );
    let state = reconciler.state();
    assert!(
        state
            .read()
            .await
            .service(&ServiceId::new("prod", "web"))
            .and_then(|s| s.next_retry_seconds)
            .is_some()
    );

    // The fix is applied at once: a failed revision never blocks the next commit.
    let fix = snapshot("c3", &[("web", web().replace("web:1.4.2", "web:1.5.0"))]);
    reconciler.reconcile(&fix).await;
    assert_eq!(ecs.count("UpdateService"), updates + 1);
}

#[tokio::test(start_paused = true)]
async fn invalid_manifests_do_not_stop_valid_changes_and_block_pruning() {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, pruning(5));
    let all = snapshot(
        "c1",
        &[
            ("web", web()),
            ("api", web().named("api")),
            ("old", web().named("old")),
        ],
    );
    reconciler.reconcile(&all).await;
    let broken = snapshot(
        "c2",
        &[
            ("web", web().replace("web:1.4.2", "web:1.5.0")),
            (
                "api",
                web()
                    .named("api")
                    .replace("desiredCount: 2", "desiredCont: 2"),
            ),
        ],
    );
    reconciler.reconcile(&broken).await;
    assert_eq!(status(&reconciler, "api").await, Status::Invalid);
    let web = ecs.service(&ServiceId::new("prod", "web")).expect("web");
    assert!(
        web.task_definition_arn.ends_with("web:2"),
        "the valid change was applied"
    );
    assert_eq!(
        ecs.count("DeleteService"),
        0,
        "nothing is pruned while a manifest is invalid"
    );
    let prune = prune_notes(&reconciler).await;
    assert!(
        prune.iter().any(|p| p.contains("failed to load")),
        "{prune:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn prune_deletes_within_its_limits_and_never_what_it_must_not() {
    let ecs = FakeEcs::new();
    let names = ["web", "a", "b", "c", "keep"];
    let services: Vec<(&str, ManifestText)> = names.iter().map(|n| (*n, web().named(n))).collect();
    let (mut reconciler, _) = reconciler(&ecs, pruning(1));
    reconciler.reconcile(&snapshot("c1", &services)).await;
    ecs.edit_service(&ServiceId::new("prod", "keep"), |s| {
        s.tags.insert("berth:prune".into(), "disabled".into());
    });

    // Three removed at once: more than maxPrune (from the second reconcile that sees them
    // absent), nothing deleted, and it says why.
    let c2 = snapshot("c2", &[("web", web()), ("keep", web().named("keep"))]);
    reconciler.reconcile(&c2).await;
    let prune = prune_notes(&reconciler).await;
    assert!(prune.iter().all(|p| p.contains("yet")), "{prune:?}");
    reconciler.reconcile(&c2).await;
    assert_eq!(ecs.count("DeleteService"), 0);
    let prune = prune_notes(&reconciler).await;
    assert!(
        prune.iter().any(|p| p.contains("more than maxPrune 1")),
        "{prune:?}"
    );
    // The services left standing are listed, with the reason.
    assert_eq!(status(&reconciler, "a").await, Status::OutOfSync);
    let a = reconciler
        .state()
        .read()
        .await
        .service(&ServiceId::new("prod", "a"))
        .and_then(|s| s.last_error.clone())
        .unwrap_or_default();
    assert!(
        a.starts_with("in ECS and owned by this source, but in no manifest: ")
            && a.contains("more than maxPrune 1"),
        "{a}"
    );

    // One removed: deleted with one (forced) DeleteService, never scaled to 0 first: a failed
    // delete must not leave it running no tasks.
    let calls_before = ecs.calls().len();
    reconciler
        .reconcile(&snapshot(
            "c3",
            &[
                ("web", web()),
                ("b", web().named("b")),
                ("c", web().named("c")),
                ("keep", web().named("keep")),
            ],
        ))
        .await;
    let prune_calls: Vec<&str> = ecs.calls()[calls_before..]
        .iter()
        .copied()
        .filter(|c| *c == "DeleteService" || *c == "UpdateService")
        .collect();
    assert_eq!(prune_calls, ["DeleteService"]);
    assert_eq!(ecs.count("DeleteService"), 1);
    assert_eq!(
        ecs.service(&ServiceId::new("prod", "a")).map(|s| s.status),
        Some("INACTIVE".to_string())
    );
    assert!(
        reconciler
            .state()
            .read()
            .await
            .service(&ServiceId::new("prod", "a"))
            .is_none(),
        "a deleted service leaves /status"
    );

    // A service tagged berth:prune=disabled is never deleted.
    let c4 = snapshot(
        "c4",
        &[
            ("web", web()),
            ("b", web().named("b")),
            ("c", web().named("c")),
        ],
    );
    reconciler.reconcile(&c4).await;
    reconciler.reconcile(&c4).await;
    assert_eq!(ecs.count("DeleteService"), 1);
    let prune = prune_notes(&reconciler).await;
    assert!(
        prune.iter().any(|p| p.contains("berth:prune=disabled")),
        "{prune:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn not_ready_before_the_first_reconcile() {
    let ecs = FakeEcs::new();
    let (reconciler, _) = reconciler(&ecs, options());
    let readiness = reconciler.state().read().await.readiness();
    assert!(readiness.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_dependency_that_is_already_in_sync_does_not_hold_its_dependent_back() {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, options());
    let depends = |m: ManifestText| m.set(5, "  cluster: prod\n  dependsOn: [api]");
    let commit = snapshot(
        "c1",
        &[("api", web().named("api")), ("web", depends(web()))],
    );
    reconciler.reconcile(&commit).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    reconciler.reconcile(&commit).await;
    assert_eq!(status(&reconciler, "api").await, Status::Synced);

    let bump = snapshot(
        "c2",
        &[
            ("api", web().named("api")),
            ("web", depends(web()).replace("web:1.4.2", "web:1.5.0")),
        ],
    );
    reconciler.reconcile(&bump).await;
    assert_eq!(
        status(&reconciler, "web").await,
        Status::Progressing,
        "applied, not waiting on api"
    );
}

#[tokio::test(start_paused = true)]
async fn a_file_that_stops_parsing_keeps_its_service_invalid_and_untouched() {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, pruning(5));
    reconciler
        .reconcile(&snapshot(
            "c1",
            &[("web", web()), ("api", web().named("api"))],
        ))
        .await;
    let broken = snapshot(
        "c2",
        &[
            ("web", web()),
            ("api", web().named("api").replace("cpu: 256", "cpu: [256")),
        ],
    );
    reconciler.reconcile(&broken).await;
    let state = reconciler.state().read().await.clone();
    let api = state
        .service(&ServiceId::new("prod", "api"))
        .expect("api is still listed");
    assert_eq!(api.status, Status::Invalid);
    let error = api.last_error.clone().unwrap_or_default();
    assert!(
        error.starts_with("prod/api.yaml:") && error.contains("YAML"),
        "{error}"
    );
    assert_eq!(state.invalid_files.len(), 1);
    assert_eq!(state.invalid_files[0].file, "prod/api.yaml");
    assert_eq!(ecs.count("DeleteService"), 0);
    assert_eq!(ecs.count("UpdateService"), 0, "api was left as it is");

    // Still broken a commit later: still known.
    reconciler
        .reconcile(&Snapshot {
            revision: "c3".into(),
            ..broken
        })
        .await;
    assert_eq!(status(&reconciler, "api").await, Status::Invalid);
}

/// A source that always serves the same snapshot, or fails while `down` is set.
struct FixedSource {
    snapshot: Snapshot,
    down: Arc<std::sync::atomic::AtomicBool>,
    fetches: Arc<std::sync::atomic::AtomicUsize>,
}

impl ManifestSource for FixedSource {
    async fn fetch(&mut self) -> Result<Snapshot, String> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            Err("remote unreachable".into())
        } else {
            Ok(self.snapshot.clone())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn post_reconcile_retries_a_failed_service_at_once_and_a_failing_source_backs_off() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let ecs = FakeEcs::new();
    ecs.fail_images(&digest(3));
    let (mut reconciler, _) = reconciler(
        &ecs,
        DaemonOptions {
            poll_interval: Duration::from_secs(60),
            interval: Duration::from_secs(3600),
            ..options()
        },
    );
    reconciler
        .reconcile(&snapshot("c1", &[("web", web())]))
        .await;
    tokio::time::advance(Duration::from_secs(5)).await;
    reconciler
        .reconcile(&snapshot("c1", &[("web", web())]))
        .await;
    let state = reconciler.state();
    let down = Arc::new(AtomicBool::new(false));
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = FixedSource {
        snapshot: snapshot("c2", &[("web", web().replace("web:1.4.2", "web:broken"))]),
        down: Arc::clone(&down),
        fetches: Arc::clone(&fetches),
    };
    let (triggers, stop, daemon) = run_loop(reconciler, source);

    // The broken image rolls back; the service is Failed and waits out its backoff (60 s+).
    tokio::time::sleep(Duration::from_secs(20)).await;
    let web = ServiceId::new("prod", "web");
    assert_eq!(
        state.read().await.service(&web).map(|s| s.status),
        Some(Status::Failed)
    );
    let updates = ecs.count("UpdateService");

    // POST /reconcile: retried now, not after the backoff.
    triggers.send(Trigger::Manual).await.expect("send");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ecs.count("UpdateService"), updates + 1);

    // The source goes down: fetches are retried sooner than the 60 s poll, backing off.
    tokio::time::sleep(Duration::from_secs(30)).await;
    down.store(true, Ordering::SeqCst);
    let before = fetches.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(61)).await;
    let during = fetches.load(Ordering::SeqCst) - before;
    assert!(
        (3..=8).contains(&during),
        "retries after 1 s, 2 s, 4 s... within one poll interval: {during}"
    );
    assert_eq!(
        state.read().await.revision.as_deref(),
        Some("c2"),
        "the last good revision stays"
    );

    stop.send(true).expect("stop");
    daemon.await.expect("daemon task");
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_drift_is_still_told_from_a_git_change() {
    let ecs = FakeEcs::new();
    let commit = snapshot("c1", &[("web", web()), ("api", web().named("api"))]);
    settled_by_a_first_daemon(&ecs, &commit).await;

    // While no daemon runs: web drifts, and git changes api.
    ecs.edit_service(&ServiceId::new("prod", "web"), |s| {
        s.spec.desired_count = Some(9)
    });
    let next = snapshot(
        "c2",
        &[
            ("web", web()),
            (
                "api",
                web()
                    .named("api")
                    .replace("desiredCount: 2", "desiredCount: 4"),
            ),
        ],
    );
    let (mut restarted, telemetry) = reconciler(
        &ecs,
        DaemonOptions {
            self_heal: false,
            ..options()
        },
    );
    restarted.reconcile(&next).await;
    assert_eq!(
        telemetry.drift.lock().expect("lock").as_slice(),
        ["prod/web"],
        "web's live spec-hash tag equals its manifest: the difference is drift"
    );
    assert_eq!(status(&restarted, "web").await, Status::OutOfSync);
    let web = ecs.service(&ServiceId::new("prod", "web")).expect("web");
    assert_eq!(web.spec.desired_count, Some(9), "self-heal off: left alone");
    let api = ecs.service(&ServiceId::new("prod", "api")).expect("api");
    assert_eq!(api.spec.desired_count, Some(4), "the git change is applied");
}

/// A source that never serves a good snapshot: every fetch fails, or (with `hang`) never
/// finishes. After 50 fetches it asks the loop to stop, so a busy loop ends the test with a
/// count instead of hanging it.
struct BrokenSource {
    hang: bool,
    fetches: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<tokio::sync::watch::Sender<bool>>,
}

impl ManifestSource for BrokenSource {
    async fn fetch(&mut self) -> Result<Snapshot, String> {
        let n = self
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n >= 50 {
            let _ = self.stop.send(true);
        }
        if self.hang {
            std::future::pending::<()>().await;
        }
        Err("remote unreachable".into())
    }
}

/// The loop running over a [`BrokenSource`].
struct BrokenLoop {
    fetches: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<tokio::sync::watch::Sender<bool>>,
    state: Arc<tokio::sync::RwLock<berth_engine::daemon::DaemonState>>,
    daemon: tokio::task::JoinHandle<()>,
}

/// Runs the loop over a [`BrokenSource`].
fn run_broken(hang: bool) -> BrokenLoop {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, options());
    let state = reconciler.state();
    let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let source = BrokenSource {
        hang,
        fetches: Arc::clone(&fetches),
        stop: Arc::clone(&stop),
    };
    let (_triggers, trigger_rx) = tokio::sync::mpsc::channel(1);
    let daemon = tokio::spawn(async move {
        berth_engine::daemon::run(
            source,
            std::slice::from_mut(&mut reconciler),
            trigger_rx,
            stop_rx,
        )
        .await;
        drop(_triggers);
    });
    BrokenLoop {
        fetches,
        stop,
        state,
        daemon,
    }
}

/// Before its first good fetch the loop used to spin: 23,000 fetches in 4 s.
#[tokio::test(start_paused = true)]
async fn a_source_that_never_worked_is_retried_with_backoff_not_in_a_loop() {
    let BrokenLoop {
        fetches,
        stop,
        state,
        daemon,
    } = run_broken(false);
    tokio::time::sleep(Duration::from_secs(61)).await;
    let count = fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (3..=8).contains(&count),
        "1 s, 2 s, 4 s ... within the 60 s poll interval: {count}"
    );
    let reason = state.read().await.readiness().expect_err("not ready");
    assert!(reason.contains("no reconcile"), "{reason}");
    let _ = stop.send(true);
    daemon.await.expect("daemon task");
}

/// A fetch that never answers is shown in `/status`, abandoned after `fetch_timeout`, and does
/// not hold up shutdown.
#[tokio::test(start_paused = true)]
async fn a_hung_fetch_is_shown_timed_out_and_does_not_hold_shutdown() {
    let BrokenLoop {
        fetches,
        stop,
        state,
        daemon,
    } = run_broken(true);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let status = serde_json::to_value(&*state.read().await).expect("status JSON");
    assert_eq!(status["fetchInProgressSeconds"], 30, "{status}");

    // The default fetch timeout is 120 s: the first fetch is abandoned, and reported.
    tokio::time::sleep(Duration::from_secs(95)).await;
    let error = state.read().await.source_error.clone();
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("did not finish within 120s")),
        "{error:?}"
    );
    assert!(fetches.load(std::sync::atomic::Ordering::SeqCst) >= 2);

    // SIGTERM in the middle of the next fetch: the loop returns without waiting for it.
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), daemon)
        .await
        .expect("shutdown does not wait for the fetch")
        .expect("daemon task");
}

/// Reconciles that cannot read ECS used to leave `/readyz` ready.
#[tokio::test(start_paused = true)]
async fn readyz_is_not_ready_while_reconciles_cannot_read_ecs() {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, options());
    let commit = snapshot("c1", &[("web", web())]);
    reconciler.reconcile(&commit).await;
    let state = reconciler.state();
    assert_eq!(state.read().await.readiness(), Ok(()));

    ecs.fail("ListServices");
    reconciler.reconcile(&commit).await;
    assert_eq!(
        state.read().await.readiness(),
        Ok(()),
        "a blip within the staleness limit keeps berth ready"
    );
    tokio::time::advance(Duration::from_secs(601)).await;
    reconciler.reconcile(&commit).await;
    let reason = state.read().await.readiness().expect_err("not ready");
    assert!(reason.contains("cannot read ECS for 601s"), "{reason}");

    ecs.clear_failures();
    reconciler.reconcile(&commit).await;
    assert_eq!(state.read().await.readiness(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_failed_prune_leaves_the_service_running_as_it_was() {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, pruning(1));
    reconciler
        .reconcile(&snapshot(
            "c1",
            &[("web", web()), ("old", web().named("old"))],
        ))
        .await;
    let old = ServiceId::new("prod", "old");
    let desired = ecs.service(&old).and_then(|s| s.spec.desired_count);
    assert_eq!(desired, Some(2));

    ecs.fail("DeleteService");
    let updates = ecs.count("UpdateService");
    let c2 = snapshot("c2", &[("web", web())]);
    reconciler.reconcile(&c2).await;
    reconciler.reconcile(&c2).await;
    assert_eq!(ecs.count("DeleteService"), 1);
    assert_eq!(ecs.count("UpdateService"), updates, "no scale to 0");
    let service = ecs.service(&old).expect("still there");
    assert_eq!(service.status, "ACTIVE");
    assert_eq!(
        service.spec.desired_count, desired,
        "still running its tasks"
    );
    let prune = prune_notes(&reconciler).await;
    assert!(
        prune.iter().any(|p| p.contains("pruning prod/old failed")),
        "{prune:?}"
    );
}

/// In directory mode a file missing for a moment during a copy was a prune candidate at once.
#[tokio::test(start_paused = true)]
async fn a_manifest_missing_for_one_reconcile_is_never_pruned() {
    let ecs = FakeEcs::new();
    let (mut reconciler, _) = reconciler(&ecs, pruning(5));
    let both = snapshot("c1", &[("web", web()), ("old", web().named("old"))]);
    reconciler.reconcile(&both).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    // Rollouts done: nothing to look at soon.
    assert_eq!(reconciler.reconcile(&both).await, Requeue::Interval);
    let requeue = reconciler
        .reconcile(&snapshot("c2", &[("web", web())]))
        .await;
    assert_eq!(
        requeue,
        Requeue::After(Duration::from_secs(5)),
        "looks again soon, to confirm"
    );
    let notes = prune_notes(&reconciler).await;
    assert!(
        notes.iter().any(|n| n.contains("not pruning prod/old yet")),
        "{notes:?}"
    );
    reconciler.reconcile(&both).await;
    reconciler.reconcile(&both).await;
    assert_eq!(ecs.count("DeleteService"), 0);
    assert_eq!(status(&reconciler, "old").await, Status::Synced);
    // Gone for two reconciles in a row: pruned.
    let only_web = snapshot("c3", &[("web", web())]);
    reconciler.reconcile(&only_web).await;
    reconciler.reconcile(&only_web).await;
    assert_eq!(ecs.count("DeleteService"), 1);
}

/// A rollout in flight used to bring a full read (every cluster, every service, every image
/// repository, and a git fetch) every 5 s until it finished.
#[tokio::test(start_paused = true)]
async fn while_a_rollout_is_in_flight_only_that_service_is_read() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let ecs = FakeEcs::new();
    ecs.set_rollout_time(Duration::from_secs(30));
    let (mut reconciler, _) = reconciler(
        &ecs,
        DaemonOptions {
            poll_interval: Duration::from_secs(60),
            interval: Duration::from_secs(3600),
            ..options()
        },
    );
    let c1 = snapshot("c1", &[("web", web()), ("api", web().named("api"))]);
    reconciler.reconcile(&c1).await;
    tokio::time::advance(Duration::from_secs(31)).await;
    reconciler.reconcile(&c1).await;
    assert_eq!(status(&reconciler, "web").await, Status::Synced);
    let state = reconciler.state();
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = FixedSource {
        snapshot: snapshot(
            "c2",
            &[
                ("web", web().replace("web:1.4.2", "web:1.5.0")),
                ("api", web().named("api")),
            ],
        ),
        down: Arc::new(AtomicBool::new(false)),
        fetches: Arc::clone(&fetches),
    };
    let (_triggers, stop, daemon) = run_loop(reconciler, source);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let web = ServiceId::new("prod", "web");
    let status_of =
        |state: &berth_engine::daemon::DaemonState| state.service(&web).map(|s| s.status);
    assert_eq!(status_of(&*state.read().await), Some(Status::Progressing));
    let (lists, describes) = (ecs.count("ListServices"), ecs.count("DescribeServices"));

    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        ecs.count("ListServices"),
        lists,
        "no full read for a rollout"
    );
    let polls = ecs.count("DescribeServices") - describes;
    assert!(
        (3..=5).contains(&polls),
        "one DescribeServices per 5 s: {polls}"
    );
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "git is fetched at its own pace"
    );

    // The poll sees the rollout finish.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(status_of(&*state.read().await), Some(Status::Synced));
    assert_eq!(ecs.count("ListServices"), lists);
    stop.send(true).expect("stop");
    daemon.await.expect("daemon task");
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_tags_prove_the_task_definitions_berth_registered_and_nothing_else() {
    let ecs = FakeEcs::new();
    let commit = snapshot("c1", &[("web", web()), ("api", web().named("api"))]);
    settled_by_a_first_daemon(&ecs, &commit).await;

    // A restart: nothing cached. Both services run what berth registered for them, and say so.
    let (mut restarted, telemetry) = reconciler(&ecs, options());
    let described = ecs.count("DescribeTaskDefinition");
    let mutations = ecs.mutations().len();
    assert_eq!(restarted.reconcile(&commit).await, Requeue::Interval);
    assert_eq!(
        ecs.count("DescribeTaskDefinition"),
        described,
        "no revision read"
    );
    assert_eq!(ecs.mutations().len(), mutations, "nothing changed");
    assert_eq!(status(&restarted, "web").await, Status::Synced);
    assert_eq!(status(&restarted, "api").await, Status::Synced);

    // Someone points web at another revision: its tag no longer proves anything, so that
    // revision is read, and the difference is drift.
    let other = ecs
        .revisions("api")
        .last()
        .expect("api's revision")
        .arn
        .clone();
    ecs.edit_service(&ServiceId::new("prod", "web"), |s| {
        s.task_definition_arn = other;
    });
    let (mut again, telemetry_again) = reconciler(
        &ecs,
        DaemonOptions {
            self_heal: false,
            ..options()
        },
    );
    again.reconcile(&commit).await;
    assert_eq!(ecs.count("DescribeTaskDefinition"), described + 1);
    assert_eq!(status(&again, "web").await, Status::OutOfSync);
    assert_eq!(
        telemetry_again.drift.lock().expect("lock").as_slice(),
        ["prod/web"]
    );
    assert!(telemetry.drift.lock().expect("lock").is_empty());
}

/// Every notice the daemon gave, in order.
#[derive(Default)]
struct Notices(Mutex<Vec<Notice>>);

impl Notify for Notices {
    fn notify(&self, notice: Notice) {
        self.0.lock().expect("lock").push(notice);
    }
}

impl Notices {
    /// The transitions told for `name`, as `from -> to`.
    fn transitions(&self, name: &str) -> Vec<String> {
        let notices = self.0.lock().expect("lock");
        notices
            .iter()
            .filter_map(|notice| match notice {
                Notice::Transition { id, from, to, .. } if id.name == name => {
                    Some(format!("{} -> {to}", from.map_or("none", Status::as_str)))
                }
                _ => None,
            })
            .collect()
    }
}

/// Runs the daemon loop over `source` until the returned sender says stop.
fn run_loop(
    mut reconciler: Reconciler<FakeEcs, FakeRegistry>,
    source: FixedSource,
) -> (
    tokio::sync::mpsc::Sender<Trigger>,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (triggers, trigger_rx) = tokio::sync::mpsc::channel(4);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let daemon = tokio::spawn(async move {
        berth_engine::daemon::run(
            source,
            std::slice::from_mut(&mut reconciler),
            trigger_rx,
            stop_rx,
        )
        .await;
    });
    (triggers, stop, daemon)
}

fn fixed(snapshot: Snapshot) -> FixedSource {
    FixedSource {
        snapshot,
        down: Arc::default(),
        fetches: Arc::default(),
    }
}

/// Options whose wall clock reads `wall` now, with `windows`.
fn windowed(wall: &str, windows: Vec<WindowSpec>) -> DaemonOptions {
    let wall = chrono::DateTime::parse_from_rfc3339(wall).expect("a time");
    DaemonOptions {
        holds: Holds {
            windows: Windows::new(windows).expect("valid windows"),
            ..Holds::default()
        },
        wall_clock: WallClock::starting_at(std::time::SystemTime::from(wall)),
        ..options()
    }
}

fn office_hours() -> WindowSpec {
    WindowSpec {
        name: "office-hours".into(),
        kind: WindowKind::Allow,
        schedule: "0 9 * * *".into(),
        duration: Duration::from_secs(8 * 3600),
        time_zone: "UTC".into(),
        clusters: Vec::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_commit_outside_its_window_is_held_then_applied_when_the_window_opens() {
    let ecs = FakeEcs::new();
    settled_by_a_first_daemon(&ecs, &snapshot("c1", &[("web", web())])).await;
    let options = windowed("2026-12-02T20:00:00Z", vec![office_hours()]);
    let clock = options.wall_clock;
    let (reconciler, _) = reconciler(&ecs, options);
    let state = reconciler.state();
    let bump = snapshot("c2", &[("web", web().replace("web:1.4.2", "web:1.5.0"))]);
    let (_triggers, stop, daemon) = run_loop(reconciler, fixed(bump));
    let web = ServiceId::new("prod", "web");

    // The first reconcile holds the change and says until when.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = state.read().await.service(&web).cloned().expect("web");
    assert_eq!(held.status, Status::OutOfSync);
    assert_eq!(
        held.waiting,
        Some(Waiting::Window {
            window: "office-hours".into(),
            until: Some("2026-12-03T09:00:00Z".into())
        })
    );
    assert_eq!(
        held.pending_changes,
        vec!["taskDefinition.containerDefinitions.web.image"]
    );
    assert_eq!(ecs.count("UpdateService"), 0, "held");

    // Still held a minute before the window opens, after many interval reconciles.
    let opens = chrono::DateTime::parse_from_rfc3339("2026-12-03T09:00:00Z").expect("time");
    let before = clock.until(tokio::time::Instant::now(), opens.into()) - Duration::from_secs(60);
    tokio::time::sleep(before).await;
    let reconciled = state
        .read()
        .await
        .last_reconcile
        .clone()
        .expect("reconciled");
    assert_eq!(reconciled.revision, "c2");
    assert_eq!(ecs.count("UpdateService"), 0, "held until 09:00");

    // Applied once the window opens, without any trigger.
    tokio::time::sleep(Duration::from_secs(62)).await;
    assert_eq!(ecs.count("UpdateService"), 1);
    let applied = state.read().await.service(&web).cloned().expect("web");
    assert_eq!(applied.waiting, None);
    assert!(clock.at(tokio::time::Instant::now()) >= opens);
    stop.send(true).expect("stop");
    daemon.await.expect("daemon task");
}

#[tokio::test(start_paused = true)]
async fn an_override_applies_through_a_window_once() {
    let ecs = FakeEcs::new();
    settled_by_a_first_daemon(&ecs, &snapshot("c1", &[("web", web())])).await;
    let (reconciler, _) = reconciler(&ecs, windowed("2026-12-02T20:00:00Z", vec![office_hours()]));
    let bump = snapshot("c2", &[("web", web().replace("web:1.4.2", "web:1.5.0"))]);
    let (triggers, stop, daemon) = run_loop(reconciler, fixed(bump));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ecs.count("UpdateService"), 0, "held");
    triggers.send(Trigger::Override).await.expect("send");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ecs.count("UpdateService"), 1, "applied through the window");
    stop.send(true).expect("stop");
    daemon.await.expect("daemon task");
}

#[tokio::test(start_paused = true)]
async fn suspend_reads_and_reports_but_changes_and_prunes_nothing() {
    let ecs = FakeEcs::new();
    let both = snapshot("c1", &[("web", web()), ("api", web().named("api"))]);
    settled_by_a_first_daemon(&ecs, &both).await;
    let suspended = DaemonOptions {
        holds: Holds {
            suspend: true,
            ..Holds::default()
        },
        ..pruning(5)
    };
    let settled = ecs.mutations().len();
    let (mut reconciler, _) = reconciler(&ecs, suspended);
    // api is gone from git, web changes: neither goes out, twice over (prune's second look).
    let bump = snapshot("c2", &[("web", web().replace("web:1.4.2", "web:1.5.0"))]);
    reconciler.reconcile(&bump).await;
    reconciler.reconcile(&bump).await;
    assert_eq!(ecs.mutations().len(), settled, "no change, no delete");
    let state = reconciler.state();
    let state = state.read().await;
    let web_state = state.service(&ServiceId::new("prod", "web")).expect("web");
    assert_eq!(web_state.status, Status::Suspended);
    assert_eq!(
        web_state.waiting,
        Some(Waiting::Suspended {
            scope: SuspendScope::Global
        })
    );
    assert!(
        ecs.service(&ServiceId::new("prod", "api")).is_some(),
        "not pruned"
    );
    let prune = &state.last_reconcile.as_ref().expect("summary").prune;
    assert!(
        prune
            .iter()
            .any(|note| note.contains("suspended (reconcile.suspend)")),
        "{prune:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_transition_is_told_once_and_a_deployment_names_what_it_changes() {
    let ecs = FakeEcs::new();
    ecs.fail_images(&digest(3));
    let both = snapshot("c1", &[("web", web()), ("api", web().named("api"))]);
    settled_by_a_first_daemon(&ecs, &both).await;
    let (mut reconciler, _) = reconciler(&ecs, options());
    let notices = Arc::new(Notices::default());
    reconciler.notify_on(notices.clone());
    reconciler.reconcile(&both).await;
    // One good change (web) and one failing image (api).
    let commit = snapshot(
        "c2",
        &[
            ("web", web().replace("web:1.4.2", "web:1.5.0")),
            ("api", web().named("api").replace("web:1.4.2", "web:broken")),
        ],
    );
    for _ in 0..4 {
        reconciler.reconcile(&commit).await;
        tokio::time::advance(Duration::from_secs(5)).await;
        reconciler.poll_rollouts().await;
    }
    assert_eq!(
        notices.transitions("web"),
        [
            "none -> Synced",
            "Synced -> Progressing",
            "Progressing -> Synced"
        ]
    );
    assert_eq!(
        notices.transitions("api"),
        [
            "none -> Synced",
            "Synced -> Progressing",
            "Progressing -> Failed"
        ]
    );
    let recorded = notices.0.lock().expect("lock").clone();
    let deployments: Vec<(&str, Vec<String>)> = recorded
        .iter()
        .filter_map(|n| match n {
            Notice::Applying {
                revision, services, ..
            } => Some((
                revision.as_str(),
                services.iter().map(ToString::to_string).collect(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        deployments,
        [("c2", vec!["prod/api".to_string(), "prod/web".to_string()])]
    );
    let failed = recorded.iter().find_map(|n| match n {
        Notice::Transition {
            to: Status::Failed,
            reason,
            ..
        } => reason.clone(),
        _ => None,
    });
    assert!(
        failed.is_some_and(|r| !r.is_empty()),
        "the failure says why"
    );
    let history = reconciler.state().read().await.details["prod/api"]
        .history
        .clone();
    let statuses: Vec<Status> = history.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        [Status::Synced, Status::Progressing, Status::Failed]
    );
}

#[tokio::test(start_paused = true)]
async fn a_change_waits_for_its_dependencys_rollout_and_goes_out_when_it_is_synced() {
    let ecs = FakeEcs::new();
    let depends = |m: ManifestText| m.set(5, "  cluster: prod\n  dependsOn: [api]");
    let c1 = snapshot(
        "c1",
        &[("api", web().named("api")), ("web", depends(web()))],
    );
    settled_by_a_first_daemon(&ecs, &c1).await;
    let (mut reconciler, _) = reconciler(&ecs, options());
    reconciler.reconcile(&c1).await;
    // api changes in c2; web changes in c3, while api still rolls out.
    let api_bump = web().named("api").replace("web:1.4.2", "web:1.5.0");
    let c2 = snapshot("c2", &[("api", api_bump.clone()), ("web", depends(web()))]);
    reconciler.reconcile(&c2).await;
    let c3 = snapshot(
        "c3",
        &[
            ("api", api_bump),
            ("web", depends(web()).replace("web:1.4.2", "web:1.5.0")),
        ],
    );
    reconciler.reconcile(&c3).await;
    let state = reconciler.state();
    let web_id = ServiceId::new("prod", "web");
    let waiting = state
        .read()
        .await
        .service(&web_id)
        .and_then(|s| s.waiting.clone());
    assert_eq!(
        waiting,
        Some(Waiting::DependsOn {
            service: "prod/api".into()
        })
    );
    let updates = ecs.count("UpdateService");
    // The poll that sees api Synced asks for a full reconcile at once.
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        reconciler.poll_rollouts().await,
        Requeue::After(Duration::ZERO)
    );
    reconciler.reconcile(&c3).await;
    assert_eq!(ecs.count("UpdateService"), updates + 1, "web went out");
    assert_eq!(status(&reconciler, "web").await, Status::Progressing);
}

#[tokio::test(start_paused = true)]
async fn keep_revisions_deregisters_what_no_service_uses_beyond_the_newest() {
    let ecs = FakeEcs::new();
    let keeping = DaemonOptions {
        keep_revisions: Some(1),
        ..options()
    };
    let (mut reconciler, _) = reconciler(&ecs, keeping);
    let revisions = [
        web(),
        web().replace("web:1.4.2", "web:1.5.0"),
        web().replace("value: info", "value: debug"),
    ];
    for (n, text) in revisions.into_iter().enumerate() {
        let commit = snapshot(&format!("c{n}"), &[("web", text)]);
        reconciler.reconcile(&commit).await;
        tokio::time::advance(Duration::from_secs(5)).await;
        reconciler.reconcile(&commit).await;
    }
    let statuses = || -> Vec<(i32, String)> {
        (ecs.revisions("web").into_iter())
            .map(|td| (td.revision, td.status))
            .collect()
    };
    // Revision 2 was still the old deployment's when the third commit went out.
    let (active, inactive) = ("ACTIVE".to_string(), "INACTIVE".to_string());
    assert_eq!(
        statuses(),
        [
            (1, inactive.clone()),
            (2, active.clone()),
            (3, active.clone())
        ]
    );
    // An hour later retention looks again, though nothing changed.
    tokio::time::advance(Duration::from_secs(3600)).await;
    reconciler
        .reconcile(&snapshot(
            "c2",
            &[("web", web().replace("value: info", "value: debug"))],
        ))
        .await;
    assert_eq!(
        statuses(),
        [(1, inactive.clone()), (2, inactive), (3, active)]
    );
}
