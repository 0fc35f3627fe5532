//! The status page rendered from real `DaemonState`s: a row per service with its
//! `data-status`, hostile strings escaped, waiting sentences, details, targets, bounds, 404.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::http::StatusCode;
use berth_core::live::ServiceEvent;
use berth_core::vocabulary::Status;
use berth_engine::daemon::{
    DaemonOptions, DaemonState, HistoryEntry, InvalidFile, NoTelemetry, Reconciler, ServiceDetail,
    ServiceState, Snapshot, SuspendScope, Waiting,
};
use berth_testkit::fake::{FakeEcs, FakeRegistry};
use tokio::sync::RwLock;

use super::{MAX_SERVICES, overview_page, service_page};
use crate::{TargetEntry, TargetsView};

const REVISION: &str = "c07c54e1795c8cf8a75c4121f96cbbb85f437b65";
const NOW: u64 = 1_700_000_000;
const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
const HOSTILE: &str = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";

/// A state after a real reconcile (of no manifests, against an empty fake ECS), at
/// [`REVISION`], first seen 5 minutes before [`NOW`].
async fn reconciled() -> DaemonState {
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
    state.revision = Some(REVISION.into());
    state.revision_seen_unix = Some(NOW - 300);
    state.source_stale_seconds = Some(0);
    state
}

fn service(status: Status) -> ServiceState {
    ServiceState {
        status,
        manifest: Some("prod/web.yaml:3".into()),
        desired_task_definition: None,
        live_task_definition: Some(ARN.into()),
        rollout: Some("COMPLETED 2/2".into()),
        last_error: None,
        next_retry_seconds: None,
        pending_changes: Vec::new(),
        waiting: None,
    }
}

/// One service per status, `prod/<status in lower case>`, with what each usually carries.
async fn estate() -> DaemonState {
    let mut state = reconciled().await;
    for status in Status::ALL {
        let mut service = service(status);
        match status {
            Status::Failed => {
                service.last_error = Some(HOSTILE.into());
                service.next_retry_seconds = Some(47);
                service.waiting = Some(Waiting::Backoff {
                    retry_in_seconds: 47,
                });
            }
            Status::OutOfSync => {
                service.waiting = Some(Waiting::DependsOn {
                    service: "prod/api".into(),
                });
                service.pending_changes = vec!["desiredCount".into()];
            }
            Status::Suspended => {
                service.waiting = Some(Waiting::Suspended {
                    scope: SuspendScope::Service,
                });
            }
            Status::Progressing => {
                service.desired_task_definition = Some(ARN.replace(":3", ":4"));
                service.rollout = Some("IN_PROGRESS 1/2".into());
            }
            _ => {}
        }
        let key = format!("prod/{}", status.as_str().to_lowercase());
        state.services.insert(key, service);
    }
    state
}

fn one_target(state: DaemonState) -> RwLock<DaemonState> {
    RwLock::new(state)
}

fn row(key: &str, status: Status) -> String {
    format!(
        r#"<tr data-service="{key}" data-status="{}">"#,
        status.as_str()
    )
}

#[tokio::test]
async fn every_status_has_its_row_badge_and_data_status() {
    let view = one_target(estate().await);
    let page = overview_page(&view, NOW).into_string();
    for status in Status::ALL {
        let key = format!("prod/{}", status.as_str().to_lowercase());
        assert!(page.contains(&row(&key, status)), "{key} in\n{page}");
        let badge = format!(r#"class="badge s-{0}">{0}</span>"#, status.as_str());
        assert!(page.contains(&badge), "{badge}");
        let colour = format!(".s-{}{{background:#", status.as_str());
        assert!(page.contains(&colour), "a colour for {status}");
        let link = format!(
            r#"href="/services/prod/{}""#,
            status.as_str().to_lowercase()
        );
        assert!(page.contains(&link), "{link}");
    }
    // Desired vs live as `family:revision`, the ARN in the title; rollout; pending changes.
    assert!(page.contains(&format!(r#"<code title="{ARN}">web:3</code>"#)));
    assert!(page.contains(">web:4</code>"), "the desired revision");
    assert!(page.contains("<code>IN_PROGRESS 1/2</code>"));
    assert!(page.contains("<code>desiredCount</code>"));
    assert!(page.contains("in 47s"), "the next retry");
    // What each waits for, in the engine's one sentence.
    for key in ["prod/outofsync", "prod/suspended", "prod/failed"] {
        let waiting = view
            .try_read()
            .ok()
            .and_then(|s| s.services[key].waiting.clone());
        let sentence = waiting.expect("waiting").describe();
        assert!(
            page.contains(&format!(r#"<td class="waiting">{sentence}</td>"#)),
            "{key}"
        );
    }
    // The source and the last reconcile.
    assert!(page.contains(&format!(r#"<code title="{REVISION}">c07c54e1795c</code>"#)));
    assert!(page.contains("first seen 5m ago"), "{page}");
    assert!(page.contains(r#"class="badge r-ok">ok</span>"#), "{page}");
    // A page that refreshes itself and runs nothing.
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(r#"<meta http-equiv="refresh" content="10">"#));
    for forbidden in [
        "<script",
        "<form",
        "<img",
        "<iframe",
        "<a href=\"javascript",
    ] {
        assert!(!page.contains(forbidden), "{forbidden} in\n{page}");
    }
}

#[tokio::test]
async fn hostile_strings_from_git_and_aws_are_escaped_everywhere() {
    let mut state = estate().await;
    let key = format!("prod/{HOSTILE}");
    let mut hostile = service(Status::Invalid);
    hostile.manifest = Some(HOSTILE.into());
    hostile.last_error = Some(HOSTILE.into());
    hostile.live_task_definition = Some(format!("arn:aws:ecs:task-definition/{HOSTILE}"));
    hostile.pending_changes = vec![HOSTILE.into()];
    hostile.waiting = Some(Waiting::Conflict {
        owner: HOSTILE.into(),
    });
    state.services.insert(key.clone(), hostile);
    state.details.insert(key.clone(), detail(HOSTILE));
    state.source_error = Some(HOSTILE.into());
    state.invalid_files.push(InvalidFile {
        file: HOSTILE.into(),
        error: HOSTILE.into(),
    });
    if let Some(summary) = state.last_reconcile.as_mut() {
        summary.prune.push(HOSTILE.into());
    }
    let view = one_target(state);
    let overview = overview_page(&view, NOW).into_string();
    let (code, detail) = service_page(&view, "prod", HOSTILE, None, NOW);
    assert_eq!(code, StatusCode::OK);
    let escaped =
        "&lt;script&gt;alert('x')&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
    let attribute = format!(r#"data-service="prod/{escaped}""#);
    for page in [overview, detail.into_string()] {
        for forbidden in ["<script", "<img"] {
            assert!(!page.contains(forbidden), "{forbidden} in\n{page}");
        }
        assert!(page.contains(&attribute), "{page}");
        assert!(page.contains(&format!(">{escaped}<")), "as text: {page}");
    }
    // The link keeps the name in one path segment.
    let (code, _) = service_page(&view, "prod", "nothing", None, NOW);
    assert_eq!(code, StatusCode::NOT_FOUND);
}

/// Two events and a history of three, oldest first, each naming `text`.
fn detail(text: &str) -> ServiceDetail {
    ServiceDetail {
        events: vec![
            ServiceEvent {
                id: "2".into(),
                created_at: "2023-11-14T22:13:00Z".into(),
                message: format!("(service web) has reached a steady state. {text}"),
            },
            ServiceEvent {
                id: "1".into(),
                created_at: "2023-11-14T22:10:00Z".into(),
                message: "(service web) has started 2 tasks".into(),
            },
        ],
        history: VecDeque::from([
            HistoryEntry {
                at_unix: NOW - 3_600,
                revision: "aaaaaaaaaaaaaaaa".into(),
                status: Status::Progressing,
                message: None,
            },
            HistoryEntry {
                at_unix: NOW - 600,
                revision: "bbbbbbbbbbbbbbbb".into(),
                status: Status::Failed,
                message: Some(text.into()),
            },
            HistoryEntry {
                at_unix: NOW - 60,
                revision: REVISION.into(),
                status: Status::Synced,
                message: None,
            },
        ]),
    }
}

#[tokio::test]
async fn a_service_page_shows_its_events_and_history_newest_first() {
    let mut state = estate().await;
    state.details.insert("prod/failed".into(), detail("why"));
    let view = one_target(state);
    let (code, page) = service_page(&view, "prod", "failed", None, NOW);
    assert_eq!(code, StatusCode::OK);
    let page = page.into_string();
    assert!(page.contains(r#"data-service="prod/failed" data-status="Failed""#));
    assert!(page.contains("<h1>prod/failed</h1>"), "{page}");
    assert!(page.contains(ARN), "the full ARN");
    let backoff = Waiting::Backoff {
        retry_in_seconds: 47,
    };
    assert!(page.contains(&format!("<dd>{}</dd>", backoff.describe())));
    assert!(page.contains("&lt;script&gt;"), "the whole last error");
    let steady = page
        .find("has reached a steady state")
        .expect("newest event");
    let started = page.find("has started 2 tasks").expect("older event");
    assert!(steady < started, "events newest first");
    let synced = page
        .find("2023-11-14 22:12:20 UTC")
        .expect("newest history entry");
    let failed = page.find("2023-11-14 22:03:20 UTC").expect("older entry");
    let progressing = page.find("2023-11-14 21:13:20 UTC").expect("oldest entry");
    assert!(
        synced < failed && failed < progressing,
        "history newest first"
    );
    assert!(page.contains("1m ago"));
    assert!(page.contains(r#"<tr data-status="Failed">"#));

    // A service with nothing recorded says so.
    let (code, page) = service_page(&view, "prod", "synced", None, NOW);
    assert_eq!(code, StatusCode::OK);
    let page = page.into_string();
    assert!(page.contains("no events recorded"), "{page}");
    assert!(page.contains("no history recorded"), "{page}");
    assert!(
        page.contains("<dd>nothing</dd>"),
        "waits for nothing: {page}"
    );
}

#[tokio::test]
async fn unknown_services_and_targets_are_404_and_a_busy_state_503() {
    let view = one_target(estate().await);
    let (code, page) = service_page(&view, "prod", "nope", None, NOW);
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(
        page.into_string()
            .contains("berth knows no service <code>prod/nope</code>")
    );
    let (code, _) = service_page(&view, "prod", "synced", Some("target=eu"), NOW);
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = service_page(&view, "prod", "synced", Some("target=default"), NOW);
    assert_eq!(code, StatusCode::OK, "the one target is `default`");

    let _writing = view.write().await;
    let (code, page) = service_page(&view, "prod", "nope", None, NOW);
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.into_string().contains("busy"));
    let page = overview_page(&view, NOW).into_string();
    assert!(page.contains("busy: a reconcile is updating"), "{page}");
}

fn entry(name: &str, region: &str, state: DaemonState) -> TargetEntry {
    TargetEntry {
        name: name.into(),
        region: region.into(),
        state: Arc::new(RwLock::new(state)),
    }
}

#[tokio::test]
async fn several_targets_are_grouped_and_linked_by_name() {
    let mut eu = reconciled().await;
    eu.services
        .insert("prod/synced".into(), service(Status::Failed));
    let view = TargetsView::new(vec![
        entry("prod-us", "us-east-1", estate().await),
        entry("prod-eu", "eu-west-1", eu),
    ]);
    let page = overview_page(&view, NOW).into_string();
    let us = page.find("<h2>target prod-us").expect("prod-us heading");
    let eu = page.find("<h2>target prod-eu").expect("prod-eu heading");
    assert!(us < eu, "targets in order");
    assert!(page.contains("eu-west-1"));
    assert!(
        page.contains(
            r#"<tr data-service="prod/synced" data-status="Failed" data-target="prod-eu">"#
        )
    );
    assert!(page.contains(r#"href="/services/prod/synced?target=prod-eu""#));
    assert!(page.contains(r#"href="/services/prod/synced?target=prod-us""#));

    let (code, both) = service_page(&view, "prod", "synced", None, NOW);
    assert_eq!(code, StatusCode::OK);
    let both = both.into_string();
    assert!(both.contains("target prod-us") && both.contains("target prod-eu"));
    let (code, one) = service_page(&view, "prod", "synced", Some("target=prod-eu"), NOW);
    assert_eq!(code, StatusCode::OK);
    let one = one.into_string();
    assert!(one.contains(r#"data-status="Failed" data-target="prod-eu""#));
    assert!(!one.contains("target prod-us"), "{one}");
}

#[tokio::test]
async fn the_page_renders_at_most_max_services_and_says_how_many_it_left_out() {
    let mut state = reconciled().await;
    for index in 0..MAX_SERVICES + 5 {
        let cluster = if index % 2 == 0 { "even" } else { "odd" };
        state
            .services
            .insert(format!("{cluster}/svc-{index:05}"), service(Status::Synced));
    }
    let view = one_target(state);
    let page = overview_page(&view, NOW).into_string();
    assert_eq!(page.matches("<tr data-service=").count(), MAX_SERVICES);
    assert!(page.contains("5 more services are not shown"), "left out");
    assert!(page.contains("<h3>cluster even"));
    assert!(page.contains("<h3>cluster odd"));
    // The totals count every service, shown or not.
    assert!(page.contains(&format!("</span> {}</span>", MAX_SERVICES + 5)));
}

#[tokio::test]
async fn the_source_error_invalid_files_and_prune_notes_show() {
    let mut state = estate().await;
    state.source_error = Some("fetch did not finish within 120s; abandoned".into());
    state.source_stale_seconds = Some(125);
    state.invalid_files.push(InvalidFile {
        file: "prod/broken.yaml".into(),
        error: "prod/broken.yaml:3:1: YAML syntax error".into(),
    });
    if let Some(summary) = state.last_reconcile.as_mut() {
        summary
            .prune
            .push("prune is off: prod/old owned by this source".into());
    }
    let view = one_target(state);
    let page = overview_page(&view, NOW).into_string();
    assert!(page.contains("last good fetch 2m 5s ago"), "{page}");
    assert!(page.contains("fetch did not finish within 120s; abandoned"));
    assert!(page.contains(r#"<tr data-invalid-file="prod/broken.yaml">"#));
    assert!(page.contains("prune is off: prod/old owned by this source"));
}
