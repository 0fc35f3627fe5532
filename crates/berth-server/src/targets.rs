//! `/status`, `/readyz` and the status page over several targets (berth.yaml `targets:`), one
//! daemon state each.
//!
//! The document keeps the source-level fields of the one-target document at the top (one
//! source feeds every target, so every target's state carries the same fetch results) and puts
//! each target's `lastReconcile` and `services` under `targets.<name>`, with its region. Like the
//! one-target view it never waits for a lock: a target whose reconcile is writing its results
//! shows as busy, the others as usual.

use std::sync::Arc;

use berth_engine::daemon::DaemonState;
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::daemon::BUSY;
use crate::{DaemonView, Readiness, TargetRead};

/// The fields of a state's JSON that describe the source, the same in every target's state:
/// they appear once, at the top of the document.
const SOURCE_FIELDS: [&str; 6] = [
    "revision",
    "revisionSeenUnix",
    "sourceError",
    "sourceStaleSeconds",
    "fetchInProgressSeconds",
    "invalidFiles",
];

/// The fields of a state's JSON that belong to its target: they appear under `targets.<name>`.
const TARGET_FIELDS: [&str; 3] = ["lastReconcile", "services", "lease"];

/// One target of the daemon, as `/status` names it.
#[derive(Debug, Clone)]
pub struct TargetEntry {
    /// The target's name (`targets[].name`), the key under `targets` and the `target` label of
    /// its metrics.
    pub name: String,
    /// The target's AWS region, shown beside its status.
    pub region: String,
    /// The target's reconciler's state (`Reconciler::state()`).
    pub state: Arc<RwLock<DaemonState>>,
}

/// The daemon's view over several targets: an `Arc<TargetsView>` is an `Arc<dyn DaemonView>`.
#[derive(Debug, Clone)]
pub struct TargetsView {
    targets: Vec<TargetEntry>,
}

impl TargetsView {
    /// A view over `targets`, listed in `/status` in this order.
    pub fn new(targets: Vec<TargetEntry>) -> Self {
        TargetsView { targets }
    }
}

/// A state's JSON fields by name; empty if it does not serialize to an object.
fn state_fields(state: &DaemonState) -> Map<String, Value> {
    match serde_json::to_value(state) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    }
}

impl DaemonView for TargetsView {
    /// The source-level fields from the first target whose state is not being written (all
    /// targets' are the same), then `targets`: per target, in order, its `region`,
    /// `lastReconcile` and `services`, or `busy` while a reconcile writes them. When every target
    /// is busy, a top-level `busy` stands for the source fields.
    fn status(&self) -> Value {
        let mut source: Option<Map<String, Value>> = None;
        let mut targets = Map::new();
        for entry in &self.targets {
            let mut target = Map::new();
            target.insert("region".into(), Value::String(entry.region.clone()));
            match entry.state.try_read() {
                Ok(state) => {
                    let mut fields = state_fields(&state);
                    drop(state);
                    if source.is_none() {
                        source = Some(pick(&mut fields, &SOURCE_FIELDS));
                    }
                    target.extend(pick(&mut fields, &TARGET_FIELDS));
                }
                Err(_) => {
                    target.insert("busy".into(), Value::String(BUSY.into()));
                }
            }
            targets.insert(entry.name.clone(), Value::Object(target));
        }
        let mut document = match source {
            Some(source) => source,
            None if self.targets.is_empty() => Map::new(),
            None => Map::from_iter([("busy".to_owned(), Value::String(BUSY.into()))]),
        };
        document.insert("targets".into(), Value::Object(targets));
        Value::Object(document)
    }

    /// Each target in order, its state while no reconcile is writing it.
    fn read_targets(&self, read: &mut dyn FnMut(TargetRead<'_>)) {
        for entry in &self.targets {
            let state = entry.state.try_read().ok();
            read(TargetRead {
                name: &entry.name,
                region: &entry.region,
                count: self.targets.len(),
                state: state.as_deref(),
            });
        }
    }

    /// Ready when every target is (a target whose state is being written counts as ready, as
    /// with one target); otherwise each failing target's reason, prefixed by its name.
    fn readiness(&self) -> Readiness {
        let reasons: Vec<String> = self
            .targets
            .iter()
            .filter_map(|entry| match entry.state.try_read() {
                Ok(state) => state
                    .readiness()
                    .err()
                    .map(|reason| format!("target {}: {reason}", entry.name)),
                Err(_) => None,
            })
            .collect();
        if reasons.is_empty() {
            Readiness::Ready
        } else {
            Readiness::NotReady {
                reason: reasons.join("; "),
            }
        }
    }
}

/// Takes `names` out of `fields`, in the order of `names`; a name `fields` lacks is left out
/// (the state skips empty `invalidFiles` and an absent `fetchInProgressSeconds`).
fn pick(fields: &mut Map<String, Value>, names: &[&str]) -> Map<String, Value> {
    names
        .iter()
        .filter_map(|&name| fields.remove(name).map(|value| (name.to_owned(), value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use berth_core::vocabulary::Status;
    use berth_engine::daemon::{DaemonOptions, NoTelemetry, Reconciler, ServiceState, Snapshot};
    use berth_testkit::fake::{FakeEcs, FakeRegistry};
    use serde_json::json;

    use super::*;

    const REVISION: &str = "c07c54e1795c8cf8a75c4121f96cbbb85f437b65";

    /// A state after a real reconcile (of no manifests, against an empty fake ECS) at
    /// [`REVISION`], with `services` listed as Synced.
    async fn reconciled(services: &[&str]) -> DaemonState {
        let mut reconciler = Reconciler::new(
            FakeEcs::new(),
            FakeRegistry::new(),
            DaemonOptions::default(),
            Arc::new(NoTelemetry),
        );
        let snapshot = Snapshot {
            revision: REVISION.into(),
            files: Vec::new(),
        };
        reconciler.reconcile(&snapshot).await;
        let mut state = reconciler.state().read().await.clone();
        assert_eq!(state.readiness(), Ok(()));
        state.revision = Some(REVISION.into());
        state.source_stale_seconds = Some(0);
        for &service in services {
            state.services.insert(
                service.into(),
                ServiceState {
                    status: Status::Synced,
                    manifest: Some(format!("{service}.yaml:1")),
                    desired_task_definition: None,
                    live_task_definition: None,
                    rollout: Some("COMPLETED 1/1".into()),
                    last_error: None,
                    next_retry_seconds: None,
                    pending_changes: Vec::new(),
                    waiting: None,
                },
            );
        }
        state
    }

    fn entry(name: &str, region: &str, state: DaemonState) -> TargetEntry {
        TargetEntry {
            name: name.into(),
            region: region.into(),
            state: Arc::new(RwLock::new(state)),
        }
    }

    #[tokio::test]
    async fn status_lists_the_source_once_and_each_target_in_order() {
        let view = TargetsView::new(vec![
            entry("prod-us", "us-east-1", reconciled(&["prod/web"]).await),
            entry("prod-eu", "eu-west-1", reconciled(&["prod/api"]).await),
        ]);
        let status = view.status();
        let keys: Vec<&String> = status.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys,
            ["revision", "sourceError", "sourceStaleSeconds", "targets"]
        );
        assert_eq!(status["revision"], REVISION);
        let targets = status["targets"].as_object().expect("targets");
        let names: Vec<&String> = targets.keys().collect();
        assert_eq!(names, ["prod-us", "prod-eu"]);
        let eu = &targets["prod-eu"];
        assert_eq!(eu["region"], "eu-west-1");
        assert_eq!(eu["lastReconcile"]["result"], "ok");
        assert_eq!(eu["services"]["prod/api"]["status"], "Synced");
        assert!(eu.get("revision").is_none(), "{eu}");
        let eu_keys: Vec<&String> = eu.as_object().expect("an object").keys().collect();
        assert_eq!(eu_keys, ["region", "lastReconcile", "services"]);
        assert_eq!(
            targets["prod-us"]["services"]["prod/web"],
            json!({
                "status": "Synced",
                "manifest": "prod/web.yaml:1",
                "desiredTaskDefinition": null,
                "liveTaskDefinition": null,
                "rollout": "COMPLETED 1/1",
                "lastError": null,
                "nextRetrySeconds": null
            })
        );
    }

    #[test]
    fn a_target_before_its_first_reconcile_shows_nulls() {
        let view = TargetsView::new(vec![entry(
            "default",
            "",
            DaemonState::new(Duration::from_secs(600)),
        )]);
        assert_eq!(
            view.status(),
            json!({
                "revision": null,
                "sourceError": null,
                "sourceStaleSeconds": null,
                "targets": {"default": {"region": "", "lastReconcile": null, "services": {}}}
            })
        );
    }

    #[tokio::test]
    async fn a_busy_target_shows_busy_and_the_others_still_show() {
        let view = TargetsView::new(vec![
            entry("prod-us", "us-east-1", reconciled(&["prod/web"]).await),
            entry("prod-eu", "eu-west-1", reconciled(&["prod/api"]).await),
        ]);
        let first = Arc::clone(&view.targets[0].state);
        let writing = first.write().await;
        let status = view.status();
        assert_eq!(
            status["targets"]["prod-us"],
            json!({"region": "us-east-1", "busy": BUSY})
        );
        assert_eq!(
            status["targets"]["prod-eu"]["services"]["prod/api"]["status"],
            "Synced"
        );
        // The source fields come from the target that is free.
        assert_eq!(status["revision"], REVISION);
        assert!(status.get("busy").is_none(), "{status}");
        // A busy target counts as ready.
        assert_eq!(view.readiness(), Readiness::Ready);

        let second = Arc::clone(&view.targets[1].state);
        let _also_writing = second.write().await;
        let status = view.status();
        assert_eq!(status["busy"], BUSY);
        assert_eq!(status["targets"]["prod-eu"]["busy"], BUSY);
        assert!(status.get("revision").is_none(), "{status}");
        drop(writing);
    }

    #[tokio::test]
    async fn readiness_names_every_target_that_is_not_ready() {
        let view = TargetsView::new(vec![
            entry("prod-us", "us-east-1", reconciled(&["prod/web"]).await),
            entry(
                "prod-eu",
                "eu-west-1",
                DaemonState::new(Duration::from_secs(600)),
            ),
            entry(
                "staging",
                "eu-west-1",
                DaemonState::new(Duration::from_secs(600)),
            ),
        ]);
        assert_eq!(
            view.readiness(),
            Readiness::NotReady {
                reason: "target prod-eu: no reconcile has completed yet; \
                         target staging: no reconcile has completed yet"
                    .into()
            }
        );
        let ready = TargetsView::new(vec![
            entry("prod-us", "us-east-1", reconciled(&["prod/web"]).await),
            entry("prod-eu", "eu-west-1", reconciled(&[]).await),
        ]);
        assert_eq!(ready.readiness(), Readiness::Ready);
    }

    #[test]
    fn the_view_is_a_daemon_view() {
        let view: Arc<dyn DaemonView> = Arc::new(TargetsView::new(Vec::new()));
        assert_eq!(view.readiness(), Readiness::Ready);
        assert_eq!(view.status(), json!({"targets": {}}));
    }
}
