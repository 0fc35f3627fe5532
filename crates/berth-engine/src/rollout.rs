//! Following a rollout after berth changed a service: the PRIMARY deployment's `rolloutState`
//! and counts, until it completes, fails (circuit breaker), or the progress deadline passes.
//! ECS's service events are reported once each, oldest first. Time goes through tokio only, so
//! tests run under a paused clock.
//!
//! Rollouts followed at the same time share their reads ([`RolloutPolls`]): one
//! `DescribeServices` per cluster and poll answers for up to 10 of them, instead of one each.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use berth_core::live::{Deployment, LiveService, ServiceEvent, ServiceLookup};
use berth_core::manifest::ServiceId;

use crate::ports::EcsRead;

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutOutcome {
    /// The PRIMARY deployment runs the expected task definition and is COMPLETED.
    Completed,
    /// ECS gave up: rolloutState FAILED, or the circuit breaker rolled back to another revision.
    Failed {
        /// What happened, from ECS where it said.
        reason: String,
        /// The last service events (newest first), for the report.
        events: Vec<ServiceEvent>,
    },
    /// Still going when the progress deadline passed.
    DeadlineExceeded {
        /// Where it was.
        state: String,
    },
    /// The service could not be read (gone, or the API failed on every poll until the deadline).
    Unobservable {
        /// Why.
        reason: String,
    },
}

/// Timing of rollout following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutTiming {
    /// Give up after this long.
    pub deadline: Duration,
    /// Describe the service this often.
    pub poll_interval: Duration,
}

impl Default for RolloutTiming {
    fn default() -> Self {
        RolloutTiming {
            deadline: crate::defaults::PROGRESS_DEADLINE,
            poll_interval: crate::defaults::ROLLOUT_POLL,
        }
    }
}

/// What a follower reports while it follows.
pub trait RolloutObserver: Sync {
    /// A service event ECS recorded since the last one reported.
    fn event(&self, id: &ServiceId, event: &ServiceEvent);
    /// The PRIMARY deployment's state at a poll.
    fn progress(&self, id: &ServiceId, primary: &Deployment);
}

/// An observer that ignores everything.
pub struct Quiet;

impl RolloutObserver for Quiet {
    fn event(&self, _: &ServiceId, _: &ServiceEvent) {}
    fn progress(&self, _: &ServiceId, _: &Deployment) {}
}

/// Events berth has already reported for a service.
#[derive(Debug, Default)]
pub struct SeenEvents(HashSet<String>);

impl SeenEvents {
    /// Marks every event of `service` as seen (events from before berth's change are history).
    pub fn baseline(service: &LiveService) -> Self {
        SeenEvents(service.events.iter().map(|e| e.id.clone()).collect())
    }

    /// The events not seen yet, oldest first; marks them seen.
    pub fn fresh<'a>(&mut self, events: &'a [ServiceEvent]) -> Vec<&'a ServiceEvent> {
        let mut fresh: Vec<&ServiceEvent> = events
            .iter()
            .filter(|e| self.0.insert(e.id.clone()))
            .collect();
        fresh.reverse(); // ECS lists newest first
        fresh
    }
}

/// Judges one observation of the service against the expected task definition.
pub fn judge(service: &LiveService, expected_task_definition: &str) -> Option<RolloutOutcome> {
    let primary = service.deployments.iter().find(|d| d.status == "PRIMARY")?;
    if primary.task_definition_arn != expected_task_definition {
        let events: Vec<ServiceEvent> = service.events.iter().take(5).cloned().collect();
        return Some(RolloutOutcome::Failed {
            reason: format!(
                "the deployment was rolled back: PRIMARY runs {} instead of {expected_task_definition}{}",
                primary.task_definition_arn,
                primary
                    .rollout_state_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            events,
        });
    }
    let steady = primary.running_count == primary.desired_count && primary.pending_count == 0;
    match primary.rollout_state.as_deref() {
        // A scaling keeps the PRIMARY's COMPLETED: done once its tasks run.
        Some("COMPLETED") if steady => Some(RolloutOutcome::Completed),
        Some("FAILED") => Some(RolloutOutcome::Failed {
            reason: primary
                .rollout_state_reason
                .clone()
                .unwrap_or_else(|| "rollout FAILED".to_string()),
            events: service.events.iter().take(5).cloned().collect(),
        }),
        // No rolloutState (deployments without the circuit breaker on older ECS): done when
        // the only deployment runs everything it should.
        None if service.deployments.len() == 1 && steady => Some(RolloutOutcome::Completed),
        _ => None,
    }
}

fn describe_state(service: Option<&LiveService>) -> String {
    match service.and_then(|s| s.deployments.iter().find(|d| d.status == "PRIMARY")) {
        Some(primary) => format!(
            "{} running {}/{} (pending {}), {} deployments",
            primary
                .rollout_state
                .as_deref()
                .unwrap_or("no rolloutState"),
            primary.running_count,
            primary.desired_count,
            primary.pending_count,
            service.map_or(0, |s| s.deployments.len())
        ),
        None => "no PRIMARY deployment".to_string(),
    }
}

/// The reads of every rollout being followed at once. A follower that asks for its service gets
/// the answer another follower's read brought back within the last `fresh_for`; otherwise its
/// read asks for every followed service of its cluster, so followers polling on the same
/// interval soon share one `DescribeServices` per 10 services.
pub struct RolloutPolls<'a, E> {
    ecs: &'a E,
    fresh_for: Duration,
    state: Mutex<PollState>,
}

#[derive(Default)]
struct PollState {
    followed: BTreeSet<ServiceId>,
    latest: BTreeMap<ServiceId, (Instant, ServiceLookup)>,
}

impl<'a, E: EcsRead> RolloutPolls<'a, E> {
    /// Shared reads through `ecs`; an answer serves other followers for `fresh_for` (half the
    /// poll interval keeps every follower's view at most one poll old).
    pub fn new(ecs: &'a E, fresh_for: Duration) -> Self {
        RolloutPolls {
            ecs,
            fresh_for,
            state: Mutex::new(PollState::default()),
        }
    }

    async fn start(&self, id: &ServiceId) {
        let mut state = self.state.lock().await;
        state.latest.remove(id);
        state.followed.insert(id.clone());
    }

    async fn stop(&self, id: &ServiceId) {
        let mut state = self.state.lock().await;
        state.followed.remove(id);
        state.latest.remove(id);
    }

    /// `id` as ECS reports it now (at most `fresh_for` ago).
    async fn lookup(&self, id: &ServiceId) -> Result<ServiceLookup, String> {
        // Held across the read on purpose: followers that wake together queue here, and all
        // but the first find the answer the first one's read brought back.
        let mut state = self.state.lock().await;
        if let Some((at, lookup)) = state.latest.get(id)
            && at.elapsed() < self.fresh_for
        {
            return Ok(lookup.clone());
        }
        let names: Vec<String> = state
            .followed
            .iter()
            .filter(|f| f.cluster == id.cluster && *f != id)
            .map(|f| f.name.clone())
            .chain(std::iter::once(id.name.clone()))
            .collect();
        let lookups = self
            .ecs
            .describe_services(&id.cluster, &names)
            .await
            .map_err(|err| err.to_string())?;
        let now = Instant::now();
        let mut answer = None;
        for lookup in lookups {
            let found = match &lookup {
                ServiceLookup::Found(service) => service.id.clone(),
                ServiceLookup::Missing(missing) => missing.clone(),
            };
            if &found == id {
                answer = Some(lookup.clone());
            }
            if state.followed.contains(&found) {
                state.latest.insert(found, (now, lookup));
            }
        }
        answer.ok_or_else(|| format!("DescribeServices did not answer for {id}"))
    }
}

/// Follows `id`'s rollout to `expected_task_definition` until it ends or `timing.deadline`.
pub async fn follow<E: EcsRead>(
    polls: &RolloutPolls<'_, E>,
    id: &ServiceId,
    expected_task_definition: &str,
    seen: SeenEvents,
    timing: RolloutTiming,
    observer: &dyn RolloutObserver,
) -> RolloutOutcome {
    polls.start(id).await;
    let outcome = follow_reads(polls, id, expected_task_definition, seen, timing, observer).await;
    polls.stop(id).await;
    outcome
}

async fn follow_reads<E: EcsRead>(
    polls: &RolloutPolls<'_, E>,
    id: &ServiceId,
    expected_task_definition: &str,
    mut seen: SeenEvents,
    timing: RolloutTiming,
    observer: &dyn RolloutObserver,
) -> RolloutOutcome {
    let started = tokio::time::Instant::now();
    let mut last: Option<LiveService> = None;
    let mut last_error = None;
    loop {
        match polls.lookup(id).await {
            Ok(lookup) => match lookup {
                ServiceLookup::Found(service) => {
                    for event in seen.fresh(&service.events) {
                        observer.event(id, event);
                    }
                    if let Some(primary) =
                        service.deployments.iter().find(|d| d.status == "PRIMARY")
                    {
                        observer.progress(id, primary);
                    }
                    if let Some(outcome) = judge(&service, expected_task_definition) {
                        return outcome;
                    }
                    last = Some(*service);
                }
                ServiceLookup::Missing(_) => {
                    return RolloutOutcome::Unobservable {
                        reason: format!("service {id} no longer exists"),
                    };
                }
            },
            Err(err) => last_error = Some(err),
        }
        if started.elapsed() >= timing.deadline {
            return match (&last, last_error) {
                (None, Some(reason)) => RolloutOutcome::Unobservable { reason },
                _ => RolloutOutcome::DeadlineExceeded {
                    state: describe_state(last.as_ref()),
                },
            };
        }
        tokio::time::sleep(timing.poll_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(primary: Deployment) -> LiveService {
        LiveService {
            id: ServiceId::new("prod", "web"),
            arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
            status: "ACTIVE".into(),
            spec: Default::default(),
            task_definition_arn: primary.task_definition_arn.clone(),
            tags: Default::default(),
            role_arn: None,
            running_count: primary.running_count,
            pending_count: primary.pending_count,
            deployments: vec![primary],
            events: Vec::new(),
        }
    }

    fn primary(rollout_state: Option<&str>, running: i32, pending: i32) -> Deployment {
        Deployment {
            id: "ecs-svc/1".into(),
            status: "PRIMARY".into(),
            task_definition_arn: "web:2".into(),
            rollout_state: rollout_state.map(str::to_string),
            rollout_state_reason: None,
            desired_count: 4,
            running_count: running,
            pending_count: pending,
            failed_tasks: 0,
        }
    }

    #[test]
    fn a_completed_deployment_that_is_still_scaling_is_not_done() {
        // ECS keeps the PRIMARY's COMPLETED through a desiredCount-only change.
        let scaling = service(primary(Some("COMPLETED"), 2, 2));
        assert_eq!(judge(&scaling, "web:2"), None);
        let scaled = service(primary(Some("COMPLETED"), 4, 0));
        assert_eq!(judge(&scaled, "web:2"), Some(RolloutOutcome::Completed));
        assert_eq!(judge(&service(primary(None, 3, 1)), "web:2"), None);
        assert_eq!(
            judge(&service(primary(None, 4, 0)), "web:2"),
            Some(RolloutOutcome::Completed)
        );
    }
}
