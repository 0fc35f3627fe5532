//! The daemon's side of the server: its state read as a [`DaemonView`], and its [`Telemetry`]
//! recorded into [`Metrics`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use berth_core::manifest::ServiceId;
use berth_core::vocabulary::{ApplyAction, ReconcileResult, Status};
use berth_engine::daemon::{DaemonState, Telemetry};
use tokio::sync::RwLock;

use crate::{DaemonView, Metrics, Readiness};

/// `/status` and `/readyz` straight from the daemon's state (`Reconciler::state()`): an
/// `Arc<RwLock<DaemonState>>` is an `Arc<dyn DaemonView>` as is. Never waits for the lock:
/// while a reconcile holds it, `/status` says so and `/readyz` stays ready.
impl DaemonView for RwLock<DaemonState> {
    fn status(&self) -> serde_json::Value {
        match self.try_read() {
            Ok(state) => serde_json::to_value(&*state).unwrap_or_default(),
            Err(_) => serde_json::json!({"busy": "a reconcile is updating the status; try again"}),
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
}

/// Cumulative AWS requests by `(operation, outcome)`, as the AWS adapter counts them.
pub type AwsRequestCounts = BTreeMap<(String, String), u64>;

/// The daemon's [`Telemetry`] as Prometheus metrics. Besides forwarding each measurement, it
/// refreshes `berth_aws_requests_total` after every reconcile from a counter source (in the
/// binary, `berth_aws::ApiCounters::snapshot`), so this crate needs no AWS types.
pub struct MetricsTelemetry {
    metrics: Arc<Metrics>,
    aws_requests: Box<dyn Fn() -> AwsRequestCounts + Send + Sync>,
}

impl MetricsTelemetry {
    /// Records into `metrics`; `aws_requests` reads the cumulative AWS request counts.
    pub fn new(
        metrics: Arc<Metrics>,
        aws_requests: impl Fn() -> AwsRequestCounts + Send + Sync + 'static,
    ) -> Self {
        MetricsTelemetry {
            metrics,
            aws_requests: Box::new(aws_requests),
        }
    }
}

impl fmt::Debug for MetricsTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsTelemetry").finish_non_exhaustive()
    }
}

impl Telemetry for MetricsTelemetry {
    fn reconcile(&self, duration: Duration, result: ReconcileResult) {
        self.metrics.observe_reconcile(duration, result);
        self.metrics.set_aws_requests(&(self.aws_requests)());
    }
    fn service_status(&self, id: &ServiceId, status: Status) {
        self.metrics
            .set_service_status(&id.cluster, &id.name, status);
    }
    fn service_removed(&self, id: &ServiceId) {
        self.metrics.remove_service(&id.cluster, &id.name);
    }
    fn drift(&self, id: &ServiceId) {
        self.metrics.inc_drift(&id.cluster, &id.name);
    }
    fn git_fetch(&self, duration: Duration) {
        self.metrics.observe_git_fetch(duration);
    }
    fn revision(&self, revision: &str) {
        self.metrics.set_revision(revision);
    }
    fn apply_action(&self, action: ApplyAction) {
        self.metrics.inc_apply_action(action);
    }
    fn aws_requests(&self, counts: &AwsRequestCounts) {
        self.metrics.set_aws_requests(counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_refreshes_the_aws_request_counters() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let telemetry = MetricsTelemetry::new(Arc::clone(&metrics), || {
            BTreeMap::from([(("DescribeServices".to_owned(), "success".to_owned()), 3)])
        });
        telemetry.reconcile(Duration::from_millis(20), ReconcileResult::Ok);
        let text = metrics.encode();
        assert!(
            text.contains(
                "berth_aws_requests_total{operation=\"DescribeServices\",outcome=\"success\"} 3"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_view_answers_without_waiting_for_a_reconcile() {
        let state = Arc::new(RwLock::new(DaemonState::new(Duration::from_secs(600))));
        let view: Arc<dyn DaemonView> = state.clone();
        assert!(matches!(view.readiness(), Readiness::NotReady { .. }));
        assert!(view.status().get("busy").is_none());
        let _writing = state.write().await;
        assert_eq!(view.readiness(), Readiness::Ready);
        assert!(view.status().get("busy").is_some());
    }
}
