//! The daemon's side of the server: one target's state read as a [`DaemonView`] (several
//! targets' are read by [`crate::TargetsView`]), and each target's [`Telemetry`] recorded into
//! the shared [`Metrics`] under its `target` label.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use berth_core::manifest::ServiceId;
use berth_core::vocabulary::{ApplyAction, ReconcileResult, Status};
use berth_engine::daemon::{DaemonState, Telemetry};
use berth_engine::defaults::DEFAULT_TARGET;
use tokio::sync::RwLock;

use crate::{DaemonView, Metrics, Readiness, TargetRead};

/// What `/status` says (as `busy`) of a state whose lock a reconcile holds.
pub(crate) const BUSY: &str = "a reconcile is updating the status; try again";

/// `/status` and `/readyz` straight from the daemon's state (`Reconciler::state()`): an
/// `Arc<RwLock<DaemonState>>` is an `Arc<dyn DaemonView>` as is. Never waits for the lock:
/// while a reconcile holds it, `/status` says so and `/readyz` stays ready.
impl DaemonView for RwLock<DaemonState> {
    fn status(&self) -> serde_json::Value {
        match self.try_read() {
            Ok(state) => serde_json::to_value(&*state).unwrap_or_default(),
            Err(_) => serde_json::json!({ "busy": BUSY }),
        }
    }

    fn readiness(&self) -> Readiness {
        match self.try_read() {
            Ok(state) => match state.readiness() {
                Ok(()) => Readiness::Ready,
                Err(reason) => Readiness::NotReady { reason },
            },
            Err(_) => Readiness::Ready,
        }
    }

    /// The one target, named [`DEFAULT_TARGET`], with no region.
    fn read_targets(&self, read: &mut dyn FnMut(TargetRead<'_>)) {
        let state = self.try_read().ok();
        read(TargetRead {
            name: DEFAULT_TARGET,
            region: "",
            count: 1,
            state: state.as_deref(),
        });
    }
}

/// Cumulative AWS requests by `(operation, outcome)`, as the AWS adapter counts them.
pub type AwsRequestCounts = BTreeMap<(String, String), u64>;

/// One target's [`Telemetry`] as Prometheus metrics, every targeted metric under its `target`
/// label. Besides forwarding each measurement, it refreshes `berth_aws_requests_total` after
/// every reconcile from the target's counter source (in the binary,
/// `berth_aws::ApiCounters::snapshot` of the target's clients), so this crate needs no AWS types.
pub struct MetricsTelemetry {
    metrics: Arc<Metrics>,
    target: String,
    aws_requests: Box<dyn Fn() -> AwsRequestCounts + Send + Sync>,
}

impl MetricsTelemetry {
    /// Records into `metrics` with the label `target` (the target's name, `default` without
    /// `targets:`, see [`berth_engine::defaults::DEFAULT_TARGET`]); `aws_requests` reads the
    /// target's cumulative AWS request counts. The target's `berth_reconcile_duration_seconds`
    /// is exposed (empty) from now on.
    pub fn new(
        metrics: Arc<Metrics>,
        target: impl Into<String>,
        aws_requests: impl Fn() -> AwsRequestCounts + Send + Sync + 'static,
    ) -> Self {
        let target = target.into();
        metrics.declare_target(&target);
        MetricsTelemetry {
            metrics,
            target,
            aws_requests: Box::new(aws_requests),
        }
    }
}

impl fmt::Debug for MetricsTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsTelemetry")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Telemetry for MetricsTelemetry {
    fn reconcile(&self, duration: Duration, result: ReconcileResult) {
        self.metrics
            .observe_reconcile(&self.target, duration, result);
        self.metrics
            .set_aws_requests(&self.target, &(self.aws_requests)());
    }
    fn service_status(&self, id: &ServiceId, status: Status) {
        self.metrics
            .set_service_status(&self.target, &id.cluster, &id.name, status);
    }
    fn service_removed(&self, id: &ServiceId) {
        self.metrics
            .remove_service(&self.target, &id.cluster, &id.name);
    }
    fn drift(&self, id: &ServiceId) {
        self.metrics.inc_drift(&self.target, &id.cluster, &id.name);
    }
    fn git_fetch(&self, duration: Duration) {
        self.metrics.observe_git_fetch(duration);
    }
    fn revision(&self, revision: &str) {
        self.metrics.set_revision(revision);
    }
    fn apply_action(&self, action: ApplyAction) {
        self.metrics.inc_apply_action(&self.target, action);
    }
    fn aws_requests(&self, counts: &AwsRequestCounts) {
        self.metrics.set_aws_requests(&self.target, counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_refreshes_the_aws_request_counters() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let telemetry = MetricsTelemetry::new(Arc::clone(&metrics), "default", || {
            BTreeMap::from([(("DescribeServices".to_owned(), "success".to_owned()), 3)])
        });
        telemetry.reconcile(Duration::from_millis(20), ReconcileResult::Ok);
        let text = metrics.encode();
        assert!(
            text.contains(
                "berth_aws_requests_total{operation=\"DescribeServices\",outcome=\"success\",target=\"default\"} 3"
            ),
            "{text}"
        );
    }

    #[test]
    fn two_targets_record_separate_series() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let snapshot =
            || BTreeMap::from([(("DescribeServices".to_owned(), "success".to_owned()), 3)]);
        let a = MetricsTelemetry::new(Arc::clone(&metrics), "a", snapshot);
        let b = MetricsTelemetry::new(Arc::clone(&metrics), String::from("b"), snapshot);
        let web = ServiceId {
            cluster: "prod".into(),
            name: "web".into(),
        };
        a.service_status(&web, Status::Failed);
        b.service_status(&web, Status::Synced);
        a.reconcile(Duration::from_millis(20), ReconcileResult::Error);
        b.reconcile(Duration::from_millis(20), ReconcileResult::Ok);
        a.drift(&web);
        let text = metrics.encode();
        for needle in [
            // Each target's snapshot counts against its own last one: 3 and 3, not a reset.
            "berth_aws_requests_total{operation=\"DescribeServices\",outcome=\"success\",target=\"a\"} 3",
            "berth_aws_requests_total{operation=\"DescribeServices\",outcome=\"success\",target=\"b\"} 3",
            "berth_service_status{cluster=\"prod\",service=\"web\",status=\"Failed\",target=\"a\"} 1",
            "berth_service_status{cluster=\"prod\",service=\"web\",status=\"Synced\",target=\"a\"} 0",
            "berth_service_status{cluster=\"prod\",service=\"web\",status=\"Synced\",target=\"b\"} 1",
            "berth_service_status{cluster=\"prod\",service=\"web\",status=\"Failed\",target=\"b\"} 0",
            "berth_drift_total{cluster=\"prod\",service=\"web\",target=\"a\"} 1",
            "berth_drift_total{cluster=\"prod\",service=\"web\",target=\"b\"} 0",
            "berth_reconcile_total{result=\"error\",target=\"a\"} 1",
            "berth_reconcile_total{result=\"ok\",target=\"b\"} 1",
            "berth_reconcile_duration_seconds_count{target=\"a\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // Forgetting a's service leaves b's.
        a.service_removed(&web);
        let text = metrics.encode();
        assert!(
            !text.contains("service=\"web\",status=\"Failed\",target=\"a\""),
            "{text}"
        );
        assert!(text.contains("status=\"Synced\",target=\"b\"} 1"), "{text}");
    }

    #[test]
    fn a_new_telemetry_exposes_its_reconcile_histogram() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let _telemetry =
            MetricsTelemetry::new(Arc::clone(&metrics), "prod-eu", AwsRequestCounts::new);
        let text = metrics.encode();
        assert!(
            text.contains("berth_reconcile_duration_seconds_count{target=\"prod-eu\"} 0"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_view_answers_without_waiting_for_a_reconcile() {
        let state = Arc::new(RwLock::new(DaemonState::new(Duration::from_secs(600))));
        let view: Arc<dyn DaemonView> = state.clone();
        assert!(matches!(view.readiness(), Readiness::NotReady { .. }));
        assert!(view.status().get("busy").is_none());
        let mut seen = Vec::new();
        view.read_targets(&mut |target| {
            seen.push((target.name.to_owned(), target.state.is_some()))
        });
        assert_eq!(seen, [(DEFAULT_TARGET.to_owned(), true)]);
        let _writing = state.write().await;
        assert_eq!(view.readiness(), Readiness::Ready);
        assert!(view.status().get("busy").is_some());
        let mut busy = Vec::new();
        view.read_targets(&mut |target| busy.push(target.state.is_none()));
        assert_eq!(busy, [true]);
    }
}
