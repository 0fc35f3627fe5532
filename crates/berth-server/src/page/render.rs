//! The status page's templates (maud): the layout, the overview's parts, a service's page and
//! the busy and not-found pages. Every value is escaped by maud; `PreEscaped` wraps only the
//! stylesheet this file writes.

use std::sync::OnceLock;

use berth_core::live::ServiceEvent;
use berth_core::vocabulary::{ReconcileResult, Status};
use berth_engine::daemon::{DaemonState, HistoryEntry, ServiceDetail, ServiceState, Waiting};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::words::{ago, arn_tail, clip, duration, service_href, short_revision, split_key, utc};
use super::{Budget, REFRESH_SECONDS, TargetRead, Totals};

/// The characters of a last error shown in an overview row (the service's page shows it all,
/// up to [`DETAIL_TEXT`]).
const ROW_ERROR: usize = 240;
/// The characters of any one text shown whole (a last error, a title attribute).
const DETAIL_TEXT: usize = 16_384;
/// The pending changes listed in an overview row.
const ROW_PENDING: usize = 5;

/// The stylesheet, less the status colours (see [`stylesheet`]).
const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.25rem 1.5rem;\
color:#1f2328;background:#fff}
h1{font-size:1.35rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:1.6rem 0 .4rem}
h3{font-size:1rem;margin:1.1rem 0 .35rem;color:#424a53}
a{color:#0550ae}code,pre{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
table{border-collapse:collapse;width:100%;margin:.2rem 0 .6rem}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #d8dee4}
th{background:#f6f8fa;font-weight:600;white-space:nowrap}
tbody tr:hover{background:#f6f8fa}
td.error{overflow-wrap:anywhere;color:#a40e26}
table.services{table-layout:fixed}
table.services th,table.services td{box-sizing:border-box;overflow-wrap:anywhere}
table.services th:nth-child(1){width:12%}table.services th:nth-child(2){width:9%}
table.services th:nth-child(3),table.services th:nth-child(4){width:8%}
table.services th:nth-child(5){width:10%}table.services th:nth-child(6){width:14%}
table.services th:nth-child(7){width:21%}table.services th:nth-child(8){width:7%}
table.services th:nth-child(9){width:11%}
.badge{display:inline-block;padding:.05rem .55rem;border-radius:1rem;font-size:12px;\
font-weight:600;color:#fff;white-space:nowrap}
.muted{color:#57606a}.small{font-size:12px}
.note{padding:.45rem .75rem;border-left:4px solid #bf8700;background:#fff8c5;margin:.5rem 0}
.alert{border-left-color:#cf222e;background:#ffebe9}
.summary span{margin-right:.9rem}
ul.plain{margin:0;padding-left:1.1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.2rem;margin:.5rem 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
";

/// Each status's badge colour, chosen for white text.
fn status_colour(status: Status) -> &'static str {
    match status {
        Status::Synced => "#1a7f37",
        Status::Progressing => "#0969da",
        Status::OutOfSync => "#9a6700",
        Status::Failed => "#cf222e",
        Status::Invalid => "#8250df",
        Status::Suspended => "#6e7781",
    }
}

/// Each reconcile result's badge colour.
fn result_colour(result: ReconcileResult) -> &'static str {
    match result {
        ReconcileResult::Ok => "#1a7f37",
        ReconcileResult::Error => "#cf222e",
    }
}

/// [`STYLE`] and a badge class per status (`s-<status>`) and result (`r-<result>`), written
/// from the vocabulary so that no status name is spelled here.
fn stylesheet() -> &'static str {
    static SHEET: OnceLock<String> = OnceLock::new();
    SHEET.get_or_init(|| {
        let mut sheet = STYLE.to_owned();
        for status in Status::ALL {
            let rule = format!(
                ".s-{}{{background:{}}}\n",
                status.as_str(),
                status_colour(status)
            );
            sheet.push_str(&rule);
        }
        for result in ReconcileResult::ALL {
            let rule = format!(
                ".r-{}{{background:{}}}\n",
                result.as_str(),
                result_colour(result)
            );
            sheet.push_str(&rule);
        }
        sheet
    })
}

/// A whole page around `body`.
fn layout(title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · berth" }
                style { (PreEscaped(stylesheet())) }
            }
            body { (body) }
        }
    }
}

/// A status as a coloured badge.
fn status_badge(status: Status) -> Markup {
    html! { span class=(format!("badge s-{}", status.as_str())) { (status.as_str()) } }
}

/// A task definition as `family:revision`, the full ARN in its title; `—` for none.
fn task_definition(arn: Option<&str>) -> Markup {
    html! {
        @match arn {
            Some(arn) => code title=(arn) { (arn_tail(arn)) },
            None => span.muted { "—" },
        }
    }
}

/// The source: revision and its age, the fetch error, files that do not parse.
pub(super) fn source(state: &DaemonState, now: u64) -> Markup {
    html! {
        p.summary {
            @match &state.revision {
                Some(revision) => {
                    span { "revision " code title=(revision) { (short_revision(revision)) }
                        @if let Some(seen) = state.revision_seen_unix {
                            span.muted { " first seen " (ago(seen, now)) }
                        }
                    }
                },
                None => span.muted { "no revision fetched yet" },
            }
            @if let Some(since) = state.fetching_since {
                span.muted { "fetching for " (duration(since.elapsed().as_secs())) }
            }
        }
        @if let Some(error) = &state.source_error {
            p.note.alert {
                "The source cannot be read"
                @if let Some(stale) = state.source_stale_seconds {
                    " (last good fetch " (duration(stale)) " ago)"
                }
                "; berth keeps reconciling the last good revision: " (clip(error, DETAIL_TEXT))
            }
        }
        @if !state.invalid_files.is_empty() {
            h3 { "Files that do not parse" }
            table {
                thead { tr { th { "file" } th { "error" } } }
                tbody {
                    @for file in &state.invalid_files {
                        tr data-invalid-file=(file.file) {
                            td { code { (file.file) } }
                            td.error { (clip(&file.error, DETAIL_TEXT)) }
                        }
                    }
                }
            }
        }
    }
}

/// The overview page.
pub(super) fn overview(
    source: Option<Markup>,
    totals: &Totals,
    sections: &[Markup],
    omitted: usize,
) -> Markup {
    let body = html! {
        h1 { "berth" }
        @match source {
            Some(source) => (source),
            None => p.note { "busy: a reconcile is updating the status; refresh in a moment" },
        }
        p.summary {
            @for (status, count) in totals.counts() {
                span { (status_badge(status)) " " (count) }
            }
        }
        @if omitted > 0 {
            p.note {
                (omitted) " more services are not shown: this page lists at most "
                (super::MAX_SERVICES) ". GET /status lists them all."
            }
        }
        @for section in sections { (section) }
        p.muted.small {
            "Read-only; refreshes every " (REFRESH_SECONDS) "s. The same data as JSON: "
            a href="/status" { "/status" } "."
        }
    };
    layout("status", &body)
}

/// `target <name> · <region>` when there are several targets; nothing otherwise.
fn target_heading(target: &TargetRead<'_>) -> Markup {
    html! {
        @if let Some(name) = target.shown_name() {
            h2 {
                "target " (name)
                @if !target.region.is_empty() { span.muted { " · " (target.region) } }
            }
        }
    }
}

/// One target's part of the overview: its last reconcile and its services by cluster, as many
/// as `budget` allows.
pub(super) fn target_section(target: &TargetRead<'_>, budget: &mut Budget) -> Markup {
    let Some(state) = target.state else {
        return html! {
            section data-target=(target.name) {
                (target_heading(target))
                p.note { "busy: a reconcile is updating this target's status; refresh in a moment" }
            }
        };
    };
    let clusters = by_cluster(state, budget);
    html! {
        section data-target=(target.name) {
            (target_heading(target))
            (lease(state))
            (last_reconcile(state))
            @if state.services.is_empty() { p.muted { "no services" } }
            @for (cluster, rows) in &clusters {
                h3 { "cluster " (cluster) span.muted { " · " (rows.len()) } }
                (service_table(target, rows))
            }
        }
    }
}

/// The services `budget` allows, grouped by cluster (the keys are sorted, so each cluster's
/// services are together); the rest are counted as omitted.
fn by_cluster<'s>(
    state: &'s DaemonState,
    budget: &mut Budget,
) -> Vec<(&'s str, Vec<(&'s str, &'s ServiceState)>)> {
    let mut clusters: Vec<(&str, Vec<(&str, &ServiceState)>)> = Vec::new();
    for (key, service) in &state.services {
        if budget.left == 0 {
            budget.omitted += 1;
            continue;
        }
        budget.left -= 1;
        let (cluster, _) = split_key(key);
        match clusters.last_mut() {
            Some((last, rows)) if *last == cluster => rows.push((key, service)),
            _ => clusters.push((cluster, vec![(key, service)])),
        }
    }
    clusters
}

/// With `lease.table`, a note when another replica holds this target.
fn lease(state: &DaemonState) -> Markup {
    html! {
        @if let Some(lease) = state.lease.as_ref().filter(|lease| !lease.mine) {
            p.note {
                "Another replica reconciles this target ("
                (lease.holder.as_deref().unwrap_or("no holder"))
                "); what follows is this replica's last view of it."
            }
        }
    }
}

/// The last reconcile: result, revision, duration, counts, actions, read error, prune notes.
fn last_reconcile(state: &DaemonState) -> Markup {
    let Some(summary) = &state.last_reconcile else {
        return html! { p.muted { "no reconcile has finished yet" } };
    };
    let result = summary.result;
    html! {
        p.summary {
            span {
                "last reconcile "
                span class=(format!("badge r-{}", result.as_str())) { (result.as_str()) }
                " of " code title=(summary.revision) { (short_revision(&summary.revision)) }
                " at " (utc(summary.finished_unix))
                " in " (format!("{:.2}", summary.duration_seconds)) "s, "
                (summary.actions) " change(s) to ECS"
            }
            @for (status, count) in &summary.counts {
                span.muted { (count) " " (status) }
            }
        }
        @if let Some(error) = &summary.error {
            p.note.alert { "ECS could not be read: " (clip(error, DETAIL_TEXT)) }
        }
        @if !summary.prune.is_empty() {
            div.note {
                "Prune: "
                ul.plain { @for note in &summary.prune { li { (clip(note, DETAIL_TEXT)) } } }
            }
        }
    }
}

/// One cluster's services as a table.
fn service_table(target: &TargetRead<'_>, rows: &[(&str, &ServiceState)]) -> Markup {
    html! {
        table.services {
            thead {
                tr {
                    th { "service" } th { "status" } th { "desired" } th { "live" }
                    th { "rollout" } th { "waits for" } th { "last error" } th { "next retry" }
                    th { "pending changes" }
                }
            }
            tbody { @for (key, service) in rows { (service_row(target, key, service)) } }
        }
    }
}

/// One service's row of the overview.
fn service_row(target: &TargetRead<'_>, key: &str, service: &ServiceState) -> Markup {
    let (_, name) = split_key(key);
    let error = service.last_error.as_deref();
    html! {
        tr data-service=(key) data-status=(service.status.as_str())
            data-target=[target.shown_name()] {
            td {
                a href=(service_href(key, target.shown_name())) { (name) }
                @if let Some(manifest) = &service.manifest {
                    br; span.muted.small { (manifest) }
                }
            }
            td { (status_badge(service.status)) }
            td { (task_definition(service.desired_task_definition.as_deref())) }
            td { (task_definition(service.live_task_definition.as_deref())) }
            td { @if let Some(rollout) = &service.rollout { code { (rollout) } } }
            td.waiting { @if let Some(waiting) = &service.waiting { (waiting.describe()) } }
            td.error title=[error.map(|e| clip(e, DETAIL_TEXT))] {
                @if let Some(error) = error { (clip(error, ROW_ERROR)) }
            }
            td { @if let Some(retry) = service.next_retry_seconds { "in " (duration(retry)) } }
            td { (pending(&service.pending_changes, ROW_PENDING)) }
        }
    }
}

/// The first `max` pending changes, and how many more.
fn pending(changes: &[String], max: usize) -> Markup {
    html! {
        @for change in changes.iter().take(max) { code { (change) } br; }
        @if changes.len() > max { span.muted { "+" (changes.len() - max) " more" } }
    }
}

/// One target's view of one service: every field of its row, its ECS events, its history.
pub(super) fn service_detail(
    target: &TargetRead<'_>,
    key: &str,
    service: &ServiceState,
    detail: Option<&ServiceDetail>,
    now: u64,
) -> Markup {
    html! {
        section data-service=(key) data-status=(service.status.as_str())
            data-target=(target.name) {
            (target_heading(target))
            dl {
                dt { "status" } dd { (status_badge(service.status)) }
                dt { "manifest" } dd { (service.manifest.as_deref().unwrap_or("in no manifest")) }
                dt { "desired task definition" }
                dd { (full_arn(service.desired_task_definition.as_deref())) }
                dt { "live task definition" }
                dd { (full_arn(service.live_task_definition.as_deref())) }
                dt { "rollout" } dd { (service.rollout.as_deref().unwrap_or("—")) }
                dt { "waits for" }
                dd { (service.waiting.as_ref().map_or_else(|| "nothing".into(), Waiting::describe)) }
                dt { "next retry" }
                dd {
                    @match service.next_retry_seconds {
                        Some(retry) => { "in " (duration(retry)) " (from the last reconcile)" },
                        None => "—",
                    }
                }
                dt { "pending changes" }
                dd { (pending(&service.pending_changes, usize::MAX)) }
                dt { "last error" }
                dd {
                    @match &service.last_error {
                        Some(error) => pre.error { (clip(error, DETAIL_TEXT)) },
                        None => "—",
                    }
                }
            }
            h3 { "Recent ECS events" }
            (events(detail.map_or(&[], |detail| detail.events.as_slice())))
            h3 { "Reconcile history" }
            (history(detail.map(|detail| &detail.history), now))
        }
    }
}

/// A task definition as `family:revision` and its full ARN.
fn full_arn(arn: Option<&str>) -> Markup {
    html! {
        @match arn {
            Some(arn) => { code { (arn_tail(arn)) } br; span.muted.small { (arn) } },
            None => span.muted { "—" },
        }
    }
}

/// ECS's events, newest first.
fn events(events: &[ServiceEvent]) -> Markup {
    html! {
        @if events.is_empty() {
            p.muted { "no events recorded" }
        } @else {
            table {
                thead { tr { th { "at" } th { "message" } } }
                tbody {
                    @for event in events {
                        tr {
                            td { code { (event.created_at) } }
                            td { (clip(&event.message, DETAIL_TEXT)) }
                        }
                    }
                }
            }
        }
    }
}

/// Status changes, newest first.
fn history(history: Option<&std::collections::VecDeque<HistoryEntry>>, now: u64) -> Markup {
    let entries: Vec<&HistoryEntry> = history.map_or_else(Vec::new, |h| h.iter().rev().collect());
    html! {
        @if entries.is_empty() {
            p.muted { "no history recorded" }
        } @else {
            table {
                thead { tr { th { "at" } th { "revision" } th { "status" } th { "why" } } }
                tbody {
                    @for entry in entries {
                        tr data-status=(entry.status.as_str()) {
                            td {
                                (utc(entry.at_unix)) br;
                                span.muted.small { (ago(entry.at_unix, now)) }
                            }
                            td { code title=(entry.revision) { (short_revision(&entry.revision)) } }
                            td { (status_badge(entry.status)) }
                            td {
                                @if let Some(message) = &entry.message {
                                    (clip(message, DETAIL_TEXT))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A service's page: its sections (one per target that has it).
pub(super) fn service_page(key: &str, sections: &[Markup]) -> Markup {
    let body = html! {
        p.small { a href="/" { "← all services" } }
        h1 { (key) }
        @for section in sections { (section) }
    };
    layout(key, &body)
}

/// 503: the target that may have the service is being written.
pub(super) fn busy_page(key: &str) -> Markup {
    let body = html! {
        p.small { a href="/" { "← all services" } }
        h1 { (key) }
        p.note { "busy: a reconcile is updating the status; refresh in a moment" }
    };
    layout(key, &body)
}

/// 404: no target has the service (or the named target does not exist).
pub(super) fn not_found(key: &str, target: Option<&str>) -> Markup {
    let body = html! {
        p.small { a href="/" { "← all services" } }
        h1 { "Not found" }
        p {
            "berth knows no service " code { (key) }
            @if let Some(target) = target { " in target " code { (target) } }
            "."
        }
    };
    layout("not found", &body)
}
