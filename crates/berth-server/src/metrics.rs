//! berth's Prometheus metrics: the names and labels below are part of the product contract (docs/operations.md,
//! "Metrics"), so they are spelled out once here and nowhere else.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `berth_reconcile_duration_seconds` | histogram | `target` |
//! | `berth_reconcile_total` | counter | `target`, `result` |
//! | `berth_service_status` | gauge | `target`, `cluster`, `service`, `status` |
//! | `berth_drift_total` | counter | `target`, `cluster`, `service` |
//! | `berth_git_fetch_duration_seconds` | histogram | |
//! | `berth_source_revision_info` | gauge | `revision` |
//! | `berth_aws_requests_total` | counter | `target`, `operation`, `outcome` |
//! | `berth_apply_actions_total` | counter | `target`, `action` |
//!
//! Label values for statuses, results and actions are the `as_str()` of
//! `berth_core::vocabulary`'s enums; this module writes no such string of its own.
//!
//! Conventions an SRE can rely on:
//!
//! - `target` is the first label of every metric except the two of the source
//!   (`berth_git_fetch_duration_seconds`, `berth_source_revision_info`: one source feeds every
//!   target): the name of the target (berth.yaml `targets:`) whose reconciler recorded it,
//!   `default` without `targets:` (`berth_engine::defaults::DEFAULT_TARGET`). Every method that
//!   records a targeted metric takes the target first. The exposition lists labels in
//!   alphabetical order, as the Prometheus client does; queries do not depend on it.
//! - `berth_service_status` keeps one series per status for every known service of a target,
//!   the current status at 1 and the other five at 0 (the kube-state-metrics convention), so
//!   `berth_service_status{status="Failed"} == 1` and `sum by (status) (berth_service_status)` work
//!   and a status change never leaves a gap. [`Metrics::remove_service`] drops all six, and the
//!   service's `berth_drift_total`, when a service leaves git.
//! - `berth_drift_total{target,cluster,service}` exists at 0 from the service's first status, so
//!   `rate()` and `increase()` see its first drift.
//! - `berth_aws_requests_total` is fed from cumulative snapshots, one source per target: a
//!   target's snapshot moves only that target's series.
//! - `berth_source_revision_info` has exactly one series, the current revision, at 1.
//! - `berth_git_fetch_duration_seconds` is always exposed, and `berth_reconcile_duration_seconds`
//!   of a target from the moment its telemetry exists (`MetricsTelemetry::new`). Any other
//!   labelled family appears with its first recorded label combination (as with the official Go
//!   client); until then it is absent.
//!
//! The exposition is the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use berth_core::vocabulary::{ApplyAction, NotificationOutcome, ReconcileResult, Status};
use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::ServerError;

/// The `Content-Type` of [`Metrics::encode`]'s output: Prometheus text exposition 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets of `berth_reconcile_duration_seconds`: a reconcile of one unchanged service takes
/// tens of milliseconds, one of hundreds of services with changes minutes.
const RECONCILE_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Buckets of `berth_git_fetch_duration_seconds`: an incremental fetch is sub-second, a first
/// clone of a large repository can take a minute.
const GIT_FETCH_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Cumulative AWS request counts keyed by `(operation, outcome)`.
type AwsCounts = BTreeMap<(String, String), u64>;

/// berth's metrics registry. `Send + Sync`; share it as `Arc<Metrics>` between the daemon's
/// targets, which record, and the server, which encodes.
pub struct Metrics {
    registry: Registry,
    reconcile_duration: HistogramVec,
    reconcile_total: IntCounterVec,
    service_status: IntGaugeVec,
    drift_total: IntCounterVec,
    git_fetch_duration: Histogram,
    source_revision: IntGaugeVec,
    aws_requests_total: IntCounterVec,
    apply_actions_total: IntCounterVec,
    notifications_total: IntCounterVec,
    /// Serializes the multi-series updates (status, revision, AWS snapshot) so that a scrape
    /// never sees two current statuses or two revisions.
    state: Mutex<State>,
}

/// What the multi-series updates need to remember.
#[derive(Default)]
struct State {
    /// The revision whose `berth_source_revision_info` series is at 1.
    revision: Option<String>,
    /// Per target, the last cumulative AWS request counts seen by [`Metrics::set_aws_requests`].
    aws_seen: BTreeMap<String, AwsCounts>,
    /// Where `berth_notifications_total` is read from at each scrape, and what it read last.
    notifications: Option<(NotificationSource, BTreeMap<NotificationOutcome, u64>)>,
}

/// Cumulative notification counts by outcome, read at each scrape.
type NotificationSource = Box<dyn Fn() -> BTreeMap<NotificationOutcome, u64> + Send>;

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates and registers every berth metric.
    ///
    /// # Errors
    ///
    /// [`ServerError::MetricRegistration`] if a metric cannot be registered; with the constant
    /// names here that is a bug, caught by this crate's tests.
    pub fn new() -> Result<Self, ServerError> {
        let registry = Registry::new();
        let histogram_opts = |name: &str, help: &str, buckets: &[f64]| {
            HistogramOpts::new(name, help).buckets(buckets.to_vec())
        };
        let counters = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let reconcile_duration = register(
            &registry,
            HistogramVec::new(
                histogram_opts(
                    "berth_reconcile_duration_seconds",
                    "Duration of one reconcile of all services of a target, in seconds.",
                    RECONCILE_BUCKETS,
                ),
                &["target"],
            ),
        )?;
        let reconcile_total = counters(
            "berth_reconcile_total",
            "Reconciles run, by target and result.",
            &["target", "result"],
        )?;
        let service_status = gauges(
            "berth_service_status",
            "1 for each service's current status, 0 for its other statuses.",
            &["target", "cluster", "service", "status"],
        )?;
        let drift_total = counters(
            "berth_drift_total",
            "Distinct drifts found: a service's live state differing from git without a new commit.",
            &["target", "cluster", "service"],
        )?;
        let git_fetch_duration = register(
            &registry,
            Histogram::with_opts(histogram_opts(
                "berth_git_fetch_duration_seconds",
                "Duration of one fetch of the git source, in seconds.",
                GIT_FETCH_BUCKETS,
            )),
        )?;
        let source_revision = gauges(
            "berth_source_revision_info",
            "The source revision (commit) berth currently reconciles to, at 1.",
            &["revision"],
        )?;
        let aws_requests_total = counters(
            "berth_aws_requests_total",
            "HTTP requests to AWS APIs, by target, operation and outcome.",
            &["target", "operation", "outcome"],
        )?;
        let apply_actions_total = counters(
            "berth_apply_actions_total",
            "Changes berth made to ECS, by target and action.",
            &["target", "action"],
        )?;
        let notifications_total = counters(
            "berth_notifications_total",
            "Notifications (commit statuses, chat messages) by outcome.",
            &["outcome"],
        )?;
        Ok(Metrics {
            registry,
            reconcile_duration,
            reconcile_total,
            service_status,
            drift_total,
            git_fetch_duration,
            source_revision,
            aws_requests_total,
            apply_actions_total,
            notifications_total,
            state: Mutex::new(State::default()),
        })
    }

    /// Exposes a target's `berth_reconcile_duration_seconds` (empty) before its first reconcile,
    /// as the unlabelled histogram was before targets existed.
    pub(crate) fn declare_target(&self, target: &str) {
        self.reconcile_duration.with_label_values(&[target]);
    }

    /// Records one finished reconcile of `target`: its duration and its result (the `result`
    /// label).
    pub fn observe_reconcile(&self, target: &str, duration: Duration, result: ReconcileResult) {
        self.reconcile_duration
            .with_label_values(&[target])
            .observe(duration.as_secs_f64());
        self.reconcile_total
            .with_label_values(&[target, result.as_str()])
            .inc();
    }

    /// Sets a service's current status: its series for `status` to 1, its five other status
    /// series to 0. Also creates the service's `berth_drift_total` at 0 if it does not exist.
    pub fn set_service_status(&self, target: &str, cluster: &str, service: &str, status: Status) {
        let _state = self.lock();
        for candidate in Status::ALL {
            self.service_status
                .with_label_values(&[target, cluster, service, candidate.as_str()])
                .set(i64::from(candidate == status));
        }
        // Touching the counter creates it at 0, so the first drift is an increase.
        self.drift_total
            .with_label_values(&[target, cluster, service]);
    }

    /// Forgets a service of `target` (it left git, or was pruned): removes its six
    /// `berth_service_status` series and its `berth_drift_total` series. Unknown services are
    /// ignored; the same service of another target is not touched.
    pub fn remove_service(&self, target: &str, cluster: &str, service: &str) {
        let _state = self.lock();
        for status in Status::ALL {
            // An error only means the series did not exist, which is the goal.
            let _ = self.service_status.remove_label_values(&[
                target,
                cluster,
                service,
                status.as_str(),
            ]);
        }
        let _ = self
            .drift_total
            .remove_label_values(&[target, cluster, service]);
    }

    /// Counts one detected drift of a service.
    pub fn inc_drift(&self, target: &str, cluster: &str, service: &str) {
        self.drift_total
            .with_label_values(&[target, cluster, service])
            .inc();
    }

    /// Records the duration of one git fetch (source-level: no target).
    pub fn observe_git_fetch(&self, duration: Duration) {
        self.git_fetch_duration.observe(duration.as_secs_f64());
    }

    /// Sets the current source revision (source-level: no target):
    /// `berth_source_revision_info{revision=rev}` at 1, the previous revision's series removed.
    pub fn set_revision(&self, revision: &str) {
        let mut state = self.lock();
        if state.revision.as_deref() == Some(revision) {
            return;
        }
        if let Some(previous) = state.revision.take() {
            let _ = self
                .source_revision
                .remove_label_values(&[previous.as_str()]);
        }
        self.source_revision.with_label_values(&[revision]).set(1);
        state.revision = Some(revision.to_owned());
    }

    /// Feeds `berth_aws_requests_total{target}` from a snapshot of `target`'s cumulative request
    /// counts keyed by `(operation, outcome)`, as its AWS adapter keeps them. Each counter grows by
    /// the difference to the target's previous snapshot, so it stays monotonic however often this
    /// is called, and snapshots of other targets do not disturb it. A count lower than last time
    /// means the source restarted counting (a new client): the counter then grows by the whole
    /// new count. Keys missing from a snapshot keep their value.
    pub fn set_aws_requests(&self, target: &str, snapshot: &BTreeMap<(String, String), u64>) {
        let mut state = self.lock();
        let seen = state.aws_seen.entry(target.to_owned()).or_default();
        for ((operation, outcome), &count) in snapshot {
            let key = (operation.clone(), outcome.clone());
            let previous = seen.get(&key).copied().unwrap_or(0);
            let delta = if count >= previous {
                count - previous
            } else {
                count
            };
            let counter = self.aws_requests_total.with_label_values(&[
                target,
                operation.as_str(),
                outcome.as_str(),
            ]);
            if delta > 0 {
                counter.inc_by(delta);
            }
            seen.insert(key, count);
        }
    }

    /// Counts one change berth made to ECS in `target` (the `action` label).
    pub fn inc_apply_action(&self, target: &str, action: ApplyAction) {
        self.apply_actions_total
            .with_label_values(&[target, action.as_str()])
            .inc();
    }

    /// Reads `berth_notifications_total` from `source` (cumulative counts by outcome, as the
    /// notifier keeps them) at every scrape from now on; every outcome is exposed from 0.
    pub fn count_notifications(
        &self,
        source: impl Fn() -> BTreeMap<NotificationOutcome, u64> + Send + 'static,
    ) {
        for outcome in NotificationOutcome::ALL {
            self.notifications_total
                .with_label_values(&[outcome.as_str()]);
        }
        self.lock().notifications = Some((Box::new(source), BTreeMap::new()));
    }

    /// Brings `berth_notifications_total` up to its source's counts.
    fn update_notifications(&self, state: &mut State) {
        let Some((source, seen)) = &mut state.notifications else {
            return;
        };
        for (outcome, count) in source() {
            let previous = seen.insert(outcome, count).unwrap_or(0);
            let counter = self
                .notifications_total
                .with_label_values(&[outcome.as_str()]);
            counter.inc_by(count.saturating_sub(previous));
        }
    }

    /// The Prometheus text exposition (format 0.0.4, see [`CONTENT_TYPE`]) of every metric.
    pub fn encode(&self) -> String {
        let families = {
            // Hold the lock so multi-series updates are seen whole.
            let mut state = self.lock();
            self.update_notifications(&mut state);
            self.registry.gather()
        };
        let mut out = String::new();
        if let Err(error) = TextEncoder::new().encode_utf8(&families, &mut out) {
            // `gather` drops empty families, the only thing the encoder rejects; keep what was
            // written rather than fail the scrape.
            tracing::error!(%error, "encoding metrics");
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a cache of label values; a panic elsewhere cannot leave it inconsistent
        // in a way that matters more than losing metrics.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Registers `metric` (created by a fallible constructor) and hands it back.
fn register<M>(registry: &Registry, metric: prometheus::Result<M>) -> Result<M, ServerError>
where
    M: Collector + Clone + 'static,
{
    let metric = metric.map_err(registration_error)?;
    registry
        .register(Box::new(metric.clone()))
        .map_err(registration_error)?;
    Ok(metric)
}

fn registration_error(source: prometheus::Error) -> ServerError {
    ServerError::MetricRegistration {
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parsed sample line: name, labels in order, value.
    #[derive(Debug, PartialEq)]
    struct Sample {
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
    }

    /// A deliberately strict parser of the Prometheus text format 0.0.4: every line is a `# HELP`,
    /// a `# TYPE` or a sample; every sample belongs to the family declared by the last `# TYPE`
    /// (histograms through `_bucket`, `_sum`, `_count`); label names are valid and values
    /// properly escaped; no series appears twice. Returns the samples and the declared types.
    fn parse_exposition(text: &str) -> Result<(Vec<Sample>, BTreeMap<String, String>), String> {
        let mut types = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        let mut samples: Vec<Sample> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        if !text.ends_with('\n') {
            return Err("exposition must end with a newline".into());
        }
        for (number, line) in text.lines().enumerate() {
            let at = |message: &str| format!("line {}: {message}: {line:?}", number + 1);
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _help) = rest
                    .split_once(' ')
                    .ok_or_else(|| at("HELP without text"))?;
                check_metric_name(name).map_err(|e| at(&e))?;
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .ok_or_else(|| at("TYPE without type"))?;
                check_metric_name(name).map_err(|e| at(&e))?;
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    return Err(at("unknown type"));
                }
                if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                    return Err(at("second TYPE for a family"));
                }
                current = Some((name.to_owned(), kind.to_owned()));
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                return Err(at("unexpected comment or blank line"));
            }
            let sample = parse_sample(line).map_err(|e| at(&e))?;
            let (family, kind) = current.as_ref().ok_or_else(|| at("sample before TYPE"))?;
            let belongs = match kind.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| sample.name == format!("{family}{suffix}")),
                _ => &sample.name == family,
            };
            if !belongs {
                return Err(at(&format!("sample outside its family {family}")));
            }
            if kind == "histogram"
                && sample.name.ends_with("_bucket")
                && !sample.labels.iter().any(|(name, _)| name == "le")
            {
                return Err(at("bucket without le"));
            }
            if !seen.insert(format!("{}{:?}", sample.name, sample.labels)) {
                return Err(at("duplicate series"));
            }
            samples.push(sample);
        }
        Ok((samples, types))
    }

    fn check_metric_name(name: &str) -> Result<(), String> {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if valid {
            Ok(())
        } else {
            Err(format!("invalid metric name {name:?}"))
        }
    }

    fn parse_sample(line: &str) -> Result<Sample, String> {
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| "sample without value".to_owned())?;
        let name = &line[..name_end];
        check_metric_name(name)?;
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(after_brace) = rest.strip_prefix('{') {
            let mut chars = after_brace.char_indices().peekable();
            loop {
                let Some(&(start, c)) = chars.peek() else {
                    return Err("unterminated label set".into());
                };
                if c == '}' {
                    rest = &after_brace[start + 1..];
                    break;
                }
                let eq = after_brace[start..]
                    .find('=')
                    .ok_or_else(|| "label without '='".to_owned())?;
                let label = &after_brace[start..start + eq];
                if label.is_empty()
                    || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || label.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(format!("invalid label name {label:?}"));
                }
                // Skip past `name=`, then expect a quoted value.
                while chars.next_if(|&(i, _)| i <= start + eq).is_some() {}
                if chars.next().map(|(_, c)| c) != Some('"') {
                    return Err("label value not quoted".into());
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => return Err("invalid escape in label value".into()),
                        },
                        Some((_, '"')) => break,
                        Some((_, '\n')) | None => return Err("unterminated label value".into()),
                        Some((_, c)) => value.push(c),
                    }
                }
                labels.push((label.to_owned(), value));
                match chars.peek() {
                    Some((_, ',')) => {
                        chars.next();
                    }
                    Some((_, '}')) => {}
                    _ => return Err("expected ',' or '}' after label".into()),
                }
            }
        }
        let value = rest
            .strip_prefix(' ')
            .ok_or_else(|| "no space before value".to_owned())?;
        // An optional timestamp may follow; berth never writes one.
        let value = value.split(' ').next().unwrap_or_default();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            other => other
                .parse::<f64>()
                .map_err(|_| format!("invalid value {other:?}"))?,
        };
        Ok(Sample {
            name: name.to_owned(),
            labels,
            value,
        })
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The value of the series `name` with exactly the labels `pairs`, in any order (the
    /// exposition sorts them by name).
    fn value_of(samples: &[Sample], name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        let mut wanted = labels(pairs);
        wanted.sort();
        samples
            .iter()
            .find(|s| {
                let mut have = s.labels.clone();
                have.sort();
                s.name == name && have == wanted
            })
            .map(|s| s.value)
    }

    fn record_one_of_each(metrics: &Metrics) {
        metrics.observe_reconcile("a", Duration::from_millis(1500), ReconcileResult::Ok);
        metrics.set_service_status("a", "prod", "web", Status::Progressing);
        metrics.inc_drift("a", "prod", "web");
        metrics.observe_git_fetch(Duration::from_millis(120));
        metrics.set_revision("0123456789abcdef0123456789abcdef01234567");
        metrics.set_aws_requests(
            "a",
            &BTreeMap::from([(("DescribeServices".to_owned(), "success".to_owned()), 3)]),
        );
        metrics.inc_apply_action("a", ApplyAction::UpdateService);
    }

    /// Every metric family of docs/operations.md is there with its type, and no other.
    fn assert_families(types: &BTreeMap<String, String>, text: &str) {
        let expected_types = [
            ("berth_reconcile_duration_seconds", "histogram"),
            ("berth_reconcile_total", "counter"),
            ("berth_service_status", "gauge"),
            ("berth_drift_total", "counter"),
            ("berth_git_fetch_duration_seconds", "histogram"),
            ("berth_source_revision_info", "gauge"),
            ("berth_aws_requests_total", "counter"),
            ("berth_apply_actions_total", "counter"),
        ];
        for (name, kind) in expected_types {
            assert_eq!(
                types.get(name).map(String::as_str),
                Some(kind),
                "{name}\n{text}"
            );
        }
        assert_eq!(
            types.len(),
            expected_types.len(),
            "no other families:\n{text}"
        );
    }

    /// A series by name and labels, and the value it should have.
    type ExpectedSeries<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

    #[test]
    fn every_spec_metric_is_exposed_with_its_labels_and_parses() {
        let metrics = Metrics::new().unwrap();
        record_one_of_each(&metrics);
        let text = metrics.encode();
        let (samples, types) = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));

        assert_families(&types, &text);

        let expected: [ExpectedSeries<'_>; 11] = [
            (
                "berth_reconcile_total",
                &[("target", "a"), ("result", "ok")],
                1.0,
            ),
            (
                "berth_reconcile_duration_seconds_count",
                &[("target", "a")],
                1.0,
            ),
            (
                "berth_reconcile_duration_seconds_sum",
                &[("target", "a")],
                1.5,
            ),
            (
                "berth_reconcile_duration_seconds_bucket",
                &[("target", "a"), ("le", "+Inf")],
                1.0,
            ),
            (
                "berth_reconcile_duration_seconds_bucket",
                &[("target", "a"), ("le", "1")],
                0.0,
            ),
            (
                "berth_reconcile_duration_seconds_bucket",
                &[("target", "a"), ("le", "2.5")],
                1.0,
            ),
            (
                "berth_drift_total",
                &[("target", "a"), ("cluster", "prod"), ("service", "web")],
                1.0,
            ),
            ("berth_git_fetch_duration_seconds_count", &[], 1.0),
            (
                "berth_source_revision_info",
                &[("revision", "0123456789abcdef0123456789abcdef01234567")],
                1.0,
            ),
            (
                "berth_aws_requests_total",
                &[
                    ("target", "a"),
                    ("operation", "DescribeServices"),
                    ("outcome", "success"),
                ],
                3.0,
            ),
            (
                "berth_apply_actions_total",
                &[("target", "a"), ("action", "updateService")],
                1.0,
            ),
        ];
        for (name, labels, value) in expected {
            assert_eq!(
                value_of(&samples, name, labels),
                Some(value),
                "{name} {labels:?}"
            );
        }
        assert_current_status(&samples, "a", Status::Progressing);
    }

    /// `prod/web` of `target` has its six status series, `current` at 1 and the others at 0.
    fn assert_current_status(samples: &[Sample], target: &str, current: Status) {
        for status in Status::ALL {
            let expected = if status == current { 1.0 } else { 0.0 };
            let labels = [
                ("target", target),
                ("cluster", "prod"),
                ("service", "web"),
                ("status", status.as_str()),
            ];
            assert_eq!(
                value_of(samples, "berth_service_status", &labels),
                Some(expected),
                "{status}"
            );
        }
    }

    #[test]
    fn a_status_change_moves_the_one() {
        let metrics = Metrics::new().unwrap();
        metrics.set_service_status("a", "prod", "web", Status::Progressing);
        metrics.set_service_status("a", "prod", "web", Status::Failed);
        let (samples, _) = parse_exposition(&metrics.encode()).unwrap();
        let ones: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "berth_service_status" && s.value == 1.0)
            .collect();
        assert_eq!(ones.len(), 1);
        assert!(ones[0].labels.contains(&("status".into(), "Failed".into())));
        let series = samples
            .iter()
            .filter(|s| s.name == "berth_service_status")
            .count();
        assert_eq!(series, 6);
        // The drift counter exists at 0 before any drift.
        assert_eq!(
            value_of(
                &samples,
                "berth_drift_total",
                &[("target", "a"), ("cluster", "prod"), ("service", "web")]
            ),
            Some(0.0)
        );
    }

    #[test]
    fn removing_a_service_drops_its_series_only() {
        let metrics = Metrics::new().unwrap();
        metrics.set_service_status("a", "prod", "web", Status::Synced);
        metrics.set_service_status("a", "prod", "api", Status::Synced);
        metrics.set_service_status("b", "prod", "web", Status::Synced);
        metrics.inc_drift("a", "prod", "web");
        metrics.remove_service("a", "prod", "web");
        metrics.remove_service("a", "prod", "never-seen");
        let text = metrics.encode();
        assert!(
            !text.contains("service=\"web\",status=\"Synced\",target=\"a\""),
            "{text}"
        );
        assert!(
            !text.contains("cluster=\"prod\",service=\"web\",target=\"a\""),
            "{text}"
        );
        assert!(text.contains("service=\"api\""), "{text}");
        // The same service of another target keeps its series.
        assert!(
            text.contains("service=\"web\",status=\"Synced\",target=\"b\"} 1"),
            "{text}"
        );
        parse_exposition(&text).unwrap();
    }

    #[test]
    fn only_the_current_revision_is_exposed() {
        let metrics = Metrics::new().unwrap();
        metrics.set_revision("aaa");
        metrics.set_revision("bbb");
        metrics.set_revision("bbb");
        let (samples, _) = parse_exposition(&metrics.encode()).unwrap();
        let revisions: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "berth_source_revision_info")
            .collect();
        assert_eq!(revisions.len(), 1);
        assert_eq!(revisions[0].labels, labels(&[("revision", "bbb")]));
        assert_eq!(revisions[0].value, 1.0);
    }

    #[test]
    fn aws_request_snapshots_keep_the_counter_monotonic() {
        let metrics = Metrics::new().unwrap();
        let key = |op: &str, outcome: &str| (op.to_owned(), outcome.to_owned());
        let count = |metrics: &Metrics, op: &str, outcome: &str| {
            let (samples, _) = parse_exposition(&metrics.encode()).unwrap();
            value_of(
                &samples,
                "berth_aws_requests_total",
                &[("target", "a"), ("operation", op), ("outcome", outcome)],
            )
        };
        metrics.set_aws_requests(
            "a",
            &BTreeMap::from([
                (key("DescribeServices", "success"), 5),
                (key("UpdateService", "ThrottlingException"), 0),
            ]),
        );
        assert_eq!(count(&metrics, "DescribeServices", "success"), Some(5.0));
        // A zero count still declares the series.
        assert_eq!(
            count(&metrics, "UpdateService", "ThrottlingException"),
            Some(0.0)
        );
        // The same snapshot again adds nothing.
        metrics.set_aws_requests(
            "a",
            &BTreeMap::from([(key("DescribeServices", "success"), 5)]),
        );
        assert_eq!(count(&metrics, "DescribeServices", "success"), Some(5.0));
        metrics.set_aws_requests(
            "a",
            &BTreeMap::from([(key("DescribeServices", "success"), 8)]),
        );
        assert_eq!(count(&metrics, "DescribeServices", "success"), Some(8.0));
        // The source restarted counting: the counter grows by the new count, never shrinks.
        metrics.set_aws_requests(
            "a",
            &BTreeMap::from([(key("DescribeServices", "success"), 2)]),
        );
        assert_eq!(count(&metrics, "DescribeServices", "success"), Some(10.0));
        // A key missing from a snapshot keeps its value.
        metrics.set_aws_requests("a", &BTreeMap::new());
        assert_eq!(count(&metrics, "DescribeServices", "success"), Some(10.0));
    }

    #[test]
    fn aws_request_snapshots_are_per_target() {
        let metrics = Metrics::new().unwrap();
        let snapshot = |count: u64| {
            BTreeMap::from([(("DescribeServices".to_owned(), "success".to_owned()), count)])
        };
        let count = |metrics: &Metrics, target: &str| {
            let (samples, _) = parse_exposition(&metrics.encode()).unwrap();
            value_of(
                &samples,
                "berth_aws_requests_total",
                &[
                    ("target", target),
                    ("operation", "DescribeServices"),
                    ("outcome", "success"),
                ],
            )
        };
        metrics.set_aws_requests("a", &snapshot(3));
        metrics.set_aws_requests("b", &snapshot(3));
        assert_eq!(count(&metrics, "a"), Some(3.0));
        assert_eq!(count(&metrics, "b"), Some(3.0));
        // Each target's deltas are against its own last snapshot.
        metrics.set_aws_requests("a", &snapshot(4));
        metrics.set_aws_requests("b", &snapshot(1));
        assert_eq!(count(&metrics, "a"), Some(4.0));
        assert_eq!(count(&metrics, "b"), Some(4.0));
    }

    #[test]
    fn a_declared_target_exposes_its_reconcile_histogram_at_zero() {
        let metrics = Metrics::new().unwrap();
        metrics.declare_target("a");
        let text = metrics.encode();
        let (samples, _) = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            value_of(
                &samples,
                "berth_reconcile_duration_seconds_count",
                &[("target", "a")]
            ),
            Some(0.0),
            "{text}"
        );
        assert!(!text.contains("berth_reconcile_total"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new().unwrap();
        let odd = "odd \"service\"\\\nname";
        metrics.inc_drift("a", "prod", odd);
        let text = metrics.encode();
        let (samples, _) = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            value_of(
                &samples,
                "berth_drift_total",
                &[("target", "a"), ("cluster", "prod"), ("service", odd)]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn the_parser_rejects_broken_expositions() {
        for broken in [
            "berth_x 1\n",
            "# TYPE berth_x counter\nberth_y 1\n",
            "# TYPE berth_x counter\nberth_x{a=\"1\" 1\n",
            "# TYPE berth_x counter\nberth_x{a=1} 1\n",
            "# TYPE berth_x counter\nberth_x one\n",
            "# TYPE berth_x counter\nberth_x 1\nberth_x 2\n",
            "# TYPE berth_x counter\n# TYPE berth_x gauge\n",
            "# TYPE berth_x histogram\nberth_x_bucket 1\n",
            "# TYPE berth_x counter\nberth_x 1",
        ] {
            assert!(parse_exposition(broken).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn metrics_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Metrics>();
    }
}
