//! GitHub commit statuses: which status a notice makes ([`StatusTracker`], pure: no IO, no
//! clock) and the request that posts it.
//!
//! Per target, one deployment is followed: the newest revision whose `Applying` was seen. It is
//! `pending` from `Applying` on, `failure` as soon as one of its services turns Failed, and
//! `success` once every service it changed is Synced; after `failure` or `success` its
//! transitions send nothing. Only git revisions (40 hex digits) get statuses.

use std::collections::BTreeMap;
use std::collections::HashMap;

use berth_core::manifest::ServiceId;
use berth_core::vocabulary::Status;
use berth_engine::daemon::Notice;
use berth_engine::defaults::DEFAULT_TARGET;
use serde::Serialize;

use crate::config::GithubStatuses;

/// GitHub's limit on a status description, in characters.
pub const DESCRIPTION_LIMIT: usize = 140;

/// A commit status's `state` (those berth uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitState {
    /// The commit is being deployed.
    Pending,
    /// Every service the commit changed is Synced.
    Success,
    /// A service the commit changed failed.
    Failure,
}

impl CommitState {
    /// GitHub's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitState::Pending => "pending",
            CommitState::Success => "success",
            CommitState::Failure => "failure",
        }
    }
}

/// One status to post on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// The target the deployment is in (it picks the context).
    pub target: String,
    /// The commit.
    pub sha: String,
    /// Its state.
    pub state: CommitState,
    /// At most [`DESCRIPTION_LIMIT`] characters.
    pub description: String,
}

/// The JSON body GitHub's `POST /repos/{owner}/{repo}/statuses/{sha}` takes.
#[derive(Debug, Serialize)]
pub struct StatusBody<'a> {
    /// `pending`, `success` or `failure`.
    pub state: CommitState,
    /// `berth` or `berth/<target>`.
    pub context: &'a str,
    /// What happened.
    pub description: &'a str,
}

/// The deployment followed in one target.
#[derive(Debug)]
struct Deployment {
    revision: String,
    /// The services the revision changes, and whether each is Synced.
    synced: BTreeMap<ServiceId, bool>,
    /// `success` or `failure` was sent.
    done: bool,
}

/// Decides the commit statuses from the notices, one deployment per target.
#[derive(Debug, Default)]
pub struct StatusTracker {
    deployments: HashMap<String, Deployment>,
}

impl StatusTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The status `notice` makes, if any.
    pub fn observe(&mut self, notice: &Notice) -> Option<CommitStatus> {
        match notice {
            Notice::Applying {
                target,
                revision,
                services,
            } => self.applying(target, revision, services),
            Notice::Transition {
                target,
                revision,
                id,
                to,
                reason,
                events,
                ..
            } => {
                let deployment = self.deployments.get_mut(target.as_str())?;
                let detail = reason.as_deref().or(events.first().map(String::as_str));
                let (state, description) = deployment.transition(revision, id, *to, detail)?;
                Some(status(target, revision, state, description))
            }
            Notice::Pruned { .. } | Notice::PruneRefused { .. } | Notice::DriftReverted { .. } => {
                None
            }
        }
    }

    fn applying(
        &mut self,
        target: &str,
        revision: &str,
        services: &[ServiceId],
    ) -> Option<CommitStatus> {
        if !is_git_sha(revision) || services.is_empty() {
            return None;
        }
        let current = self
            .deployments
            .get_mut(target)
            .filter(|d| d.revision == revision && !d.done);
        let deployment = match current {
            Some(deployment) => {
                // More services of the same revision: pending again only if the set grew.
                let before = deployment.synced.len();
                for id in services {
                    deployment.synced.insert(id.clone(), false);
                }
                if deployment.synced.len() == before {
                    return None;
                }
                deployment
            }
            // A newer revision supersedes the one followed; the same one after success or
            // failure (a retry) is followed anew.
            None => {
                let deployment = Deployment {
                    revision: revision.to_owned(),
                    synced: services.iter().map(|id| (id.clone(), false)).collect(),
                    done: false,
                };
                self.deployments.insert(target.to_owned(), deployment);
                self.deployments.get_mut(target)?
            }
        };
        let description = format!("deploying {}", services_count(deployment.synced.len()));
        Some(status(target, revision, CommitState::Pending, description))
    }
}

impl Deployment {
    /// The final state a service's transition makes, with its description.
    fn transition(
        &mut self,
        revision: &str,
        id: &ServiceId,
        to: Status,
        detail: Option<&str>,
    ) -> Option<(CommitState, String)> {
        if self.done || self.revision != revision {
            return None;
        }
        let synced = self.synced.get_mut(id)?;
        match to {
            Status::Failed => {
                self.done = true;
                let description = match detail {
                    Some(detail) => format!("failed: {id}: {}", one_line(detail)),
                    None => format!("failed: {id}"),
                };
                Some((CommitState::Failure, description))
            }
            Status::Synced => {
                *synced = true;
                if !self.synced.values().all(|synced| *synced) {
                    return None;
                }
                self.done = true;
                let description = format!("deployed {}", services_count(self.synced.len()));
                Some((CommitState::Success, description))
            }
            Status::Progressing | Status::OutOfSync | Status::Invalid | Status::Suspended => None,
        }
    }
}

fn status(target: &str, sha: &str, state: CommitState, description: String) -> CommitStatus {
    CommitStatus {
        target: target.to_owned(),
        sha: sha.to_owned(),
        state,
        description: truncate(&description, DESCRIPTION_LIMIT),
    }
}

fn services_count(count: usize) -> String {
    match count {
        1 => "1 service".to_owned(),
        n => format!("{n} services"),
    }
}

/// Whether `revision` is a git commit id (40 hex digits), not a directory's `dir-…` hash.
pub fn is_git_sha(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The status context of `target`: `base` for the target `default`, `base/target` otherwise.
pub fn context(base: &str, target: &str) -> String {
    if target == DEFAULT_TARGET {
        base.to_owned()
    } else {
        format!("{base}/{target}")
    }
}

/// The URL a status of `sha` is posted to.
pub fn status_url(github: &GithubStatuses, sha: &str) -> String {
    format!(
        "{}/repos/{}/{}/statuses/{sha}",
        github.api_url, github.owner, github.repo
    )
}

/// `text` cut to at most `limit` characters (on a character boundary), ending with `…` when
/// cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Newlines and runs of whitespace as one space (ECS events and errors may span lines).
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const NEWER: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn id(name: &str) -> ServiceId {
        ServiceId::new("prod", name)
    }

    fn applying(target: &str, revision: &str, names: &[&str]) -> Notice {
        Notice::Applying {
            target: target.into(),
            revision: revision.into(),
            services: names.iter().map(|n| id(n)).collect(),
        }
    }

    fn transition(revision: &str, name: &str, to: Status, reason: Option<&str>) -> Notice {
        Notice::Transition {
            target: "default".into(),
            revision: revision.into(),
            id: id(name),
            from: Some(Status::Progressing),
            to,
            reason: reason.map(Into::into),
            events: vec!["(service api) has reached a steady state.".into()],
        }
    }

    fn state(status: Option<CommitStatus>) -> Option<(CommitState, String)> {
        status.map(|s| (s.state, s.description))
    }

    #[test]
    fn pending_then_success_when_every_service_is_synced() {
        let mut tracker = StatusTracker::new();
        let pending = tracker.observe(&applying("default", SHA, &["api", "web"]));
        assert_eq!(
            pending,
            Some(CommitStatus {
                target: "default".into(),
                sha: SHA.into(),
                state: CommitState::Pending,
                description: "deploying 2 services".into(),
            })
        );
        let progressing = transition(SHA, "api", Status::Progressing, None);
        assert_eq!(tracker.observe(&progressing), None);
        assert_eq!(
            tracker.observe(&transition(SHA, "api", Status::Synced, None)),
            None
        );
        assert_eq!(
            state(tracker.observe(&transition(SHA, "web", Status::Synced, None))),
            Some((CommitState::Success, "deployed 2 services".into()))
        );
        // Final: nothing more for this revision.
        assert_eq!(
            tracker.observe(&transition(SHA, "web", Status::Failed, None)),
            None
        );
        assert_eq!(
            tracker.observe(&transition(SHA, "api", Status::Synced, None)),
            None
        );
    }

    #[test]
    fn failure_as_soon_as_one_service_fails_naming_it() {
        let mut tracker = StatusTracker::new();
        tracker.observe(&applying("default", SHA, &["api", "web"]));
        let failed = transition(SHA, "api", Status::Failed, Some("image web:9 not found"));
        assert_eq!(
            state(tracker.observe(&failed)),
            Some((
                CommitState::Failure,
                "failed: prod/api: image web:9 not found".into()
            ))
        );
        assert_eq!(
            tracker.observe(&transition(SHA, "web", Status::Synced, None)),
            None
        );
        assert_eq!(
            tracker.observe(&transition(SHA, "web", Status::Failed, None)),
            None
        );
    }

    #[test]
    fn failure_quotes_the_first_event_without_a_reason() {
        let mut tracker = StatusTracker::new();
        tracker.observe(&applying("default", SHA, &["api"]));
        let mut failed = transition(SHA, "api", Status::Failed, None);
        if let Notice::Transition { events, .. } = &mut failed {
            *events = vec!["(service api) failed\nto launch".into(), "older".into()];
        }
        assert_eq!(
            state(tracker.observe(&failed)),
            Some((
                CommitState::Failure,
                "failed: prod/api: (service api) failed to launch".into()
            ))
        );
    }

    #[test]
    fn a_newer_revision_supersedes_and_others_are_ignored() {
        let mut tracker = StatusTracker::new();
        tracker.observe(&applying("default", SHA, &["api", "web"]));
        let newer = tracker.observe(&applying("default", NEWER, &["api"]));
        assert_eq!(newer.map(|s| s.sha), Some(NEWER.to_owned()));
        // The old revision's transitions send nothing any more.
        assert_eq!(
            tracker.observe(&transition(SHA, "api", Status::Failed, None)),
            None
        );
        // A service outside the set sends nothing.
        assert_eq!(
            tracker.observe(&transition(NEWER, "web", Status::Failed, None)),
            None
        );
        assert_eq!(
            state(tracker.observe(&transition(NEWER, "api", Status::Synced, None))),
            Some((CommitState::Success, "deployed 1 service".into()))
        );
    }

    #[test]
    fn targets_are_followed_apart() {
        let mut tracker = StatusTracker::new();
        tracker.observe(&applying("default", SHA, &["api"]));
        let eu = tracker.observe(&applying("eu", SHA, &["api", "web"]));
        assert_eq!(eu.map(|s| s.target), Some("eu".to_owned()));
        assert_eq!(
            state(tracker.observe(&transition(SHA, "api", Status::Synced, None))),
            Some((CommitState::Success, "deployed 1 service".into()))
        );
    }

    #[test]
    fn the_same_revision_grows_or_starts_again() {
        let mut tracker = StatusTracker::new();
        tracker.observe(&applying("default", SHA, &["api"]));
        assert_eq!(tracker.observe(&applying("default", SHA, &["api"])), None);
        assert_eq!(
            state(tracker.observe(&applying("default", SHA, &["web"]))),
            Some((CommitState::Pending, "deploying 2 services".into()))
        );
        tracker.observe(&transition(SHA, "web", Status::Failed, None));
        // A retry of the failed revision is a new deployment of it.
        assert_eq!(
            state(tracker.observe(&applying("default", SHA, &["web"]))),
            Some((CommitState::Pending, "deploying 1 service".into()))
        );
        assert_eq!(
            state(tracker.observe(&transition(SHA, "web", Status::Synced, None))),
            Some((CommitState::Success, "deployed 1 service".into()))
        );
    }

    #[test]
    fn directory_revisions_get_no_status() {
        let mut tracker = StatusTracker::new();
        assert_eq!(
            tracker.observe(&applying("default", "dir-0123456789ab", &["api"])),
            None
        );
        let transition = transition("dir-0123456789ab", "api", Status::Failed, None);
        assert_eq!(tracker.observe(&transition), None);
        assert!(is_git_sha(SHA));
        assert!(!is_git_sha(&SHA[..39]));
        assert!(!is_git_sha(&format!("{}g", &SHA[..39])));
    }

    #[test]
    fn descriptions_are_cut_at_140_characters() {
        let mut tracker = StatusTracker::new();
        tracker.observe(&applying("default", SHA, &["api"]));
        let long = "é".repeat(300);
        let failed = tracker.observe(&transition(SHA, "api", Status::Failed, Some(&long)));
        let description = failed.map(|s| s.description).unwrap_or_default();
        assert_eq!(description.chars().count(), DESCRIPTION_LIMIT);
        assert!(description.starts_with("failed: prod/api: éé"));
        assert!(description.ends_with('…'));
        assert_eq!(truncate("short", 140), "short");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn contexts() {
        assert_eq!(context("berth", "default"), "berth");
        assert_eq!(context("berth", "prod-eu"), "berth/prod-eu");
        assert_eq!(context("deploy", "prod-eu"), "deploy/prod-eu");
    }

    #[test]
    fn body_is_github_json() {
        let body = StatusBody {
            state: CommitState::Failure,
            context: "berth",
            description: "failed: prod/api",
        };
        assert_eq!(
            serde_json::to_string(&body).ok().as_deref(),
            Some(r#"{"state":"failure","context":"berth","description":"failed: prod/api"}"#)
        );
    }
}
