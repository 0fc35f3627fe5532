//! The status page: `GET /` and `GET /services/{cluster}/{name}`, HTML rendered on the server
//! from each target's `DaemonState` (docs/operations.md, "The status page").
//!
//! Read-only and unauthenticated like `/status`: no form, no link that changes anything, no
//! JavaScript (the `Content-Security-Policy` forbids scripts outright); the page reloads itself
//! every [`REFRESH_SECONDS`]. Every string from manifests, git or AWS is escaped by maud; the
//! only unescaped text is this module's own stylesheet. Each service row carries
//! `data-service` (`cluster/name`), `data-status` ([`Status::as_str`]) and, with several
//! targets, `data-target`, which tests and scrapers may rely on.
//!
//! States are read through [`DaemonView::read_targets`]: a target whose reconcile is writing
//! its state shows as busy rather than being waited for, and a read lock is held only while
//! that target's part of the page renders. At most [`MAX_SERVICES`] rows are rendered; the
//! page says how many were left out.
//!
//! - `render`: the maud templates.
//! - `words`: the times, names and links the templates print.

mod render;
mod words;

#[cfg(test)]
mod tests;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_core::vocabulary::Status;
use berth_engine::daemon::DaemonState;
use maud::Markup;

use crate::DaemonView;

/// How many service rows the overview renders at most, over all targets.
pub const MAX_SERVICES: usize = 2000;

/// The page's `<meta http-equiv="refresh">` interval, in seconds.
pub const REFRESH_SECONDS: u32 = 10;

/// Scripts, frames, forms and every other fetch forbidden; only the inline stylesheet runs.
const CONTENT_SECURITY_POLICY: &str = concat!(
    "default-src 'none'; style-src 'unsafe-inline'; ",
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
);

/// One target's state as the status page reads it, borrowed for one call of the reader given
/// to [`DaemonView::read_targets`].
#[derive(Debug, Clone, Copy)]
pub struct TargetRead<'a> {
    /// The target's name (`default` without `targets:` in berth.yaml).
    pub name: &'a str,
    /// Its AWS region (empty when not configured).
    pub region: &'a str,
    /// How many targets the daemon has (1 without `targets:`): with more than one, the page
    /// groups services by target and links carry `?target=`.
    pub count: usize,
    /// Its state; `None` while a reconcile is writing it.
    pub state: Option<&'a DaemonState>,
}

impl TargetRead<'_> {
    /// The target to name in links and headings: only when there are several.
    fn shown_name(&self) -> Option<&str> {
        (self.count > 1).then_some(self.name)
    }
}

/// How many rows the overview may still render, and how many it left out.
#[derive(Debug)]
struct Budget {
    left: usize,
    omitted: usize,
}

/// Services per status over every target, in [`Status::ALL`]'s order.
#[derive(Debug, Default)]
struct Totals([usize; Status::ALL.len()]);

impl Totals {
    fn add(&mut self, status: Status) {
        if let Some(index) = Status::ALL.iter().position(|s| *s == status) {
            self.0[index] += 1;
        }
    }

    /// The non-zero counts, in order.
    fn counts(&self) -> impl Iterator<Item = (Status, usize)> + '_ {
        Status::ALL
            .iter()
            .zip(self.0)
            .filter(|(_, count)| *count > 0)
            .map(|(status, count)| (*status, count))
    }
}

/// The wall clock as Unix seconds (0 before 1970): the page shows ages, not instants of
/// tokio's clock.
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// `GET /`.
pub(crate) fn overview(view: &dyn DaemonView, now: u64) -> Response {
    html_response(StatusCode::OK, overview_page(view, now))
}

/// `GET /services/{cluster}/{name}`, with the request's raw query.
pub(crate) fn service(
    view: &dyn DaemonView,
    cluster: &str,
    name: &str,
    query: Option<&str>,
    now: u64,
) -> Response {
    let (status, markup) = service_page(view, cluster, name, query, now);
    html_response(status, markup)
}

/// The overview: the source, then per target its last reconcile and its services by cluster.
fn overview_page(view: &dyn DaemonView, now: u64) -> Markup {
    let mut source = None;
    let mut sections = Vec::new();
    let mut budget = Budget {
        left: MAX_SERVICES,
        omitted: 0,
    };
    let mut totals = Totals::default();
    view.read_targets(&mut |target| {
        if let Some(state) = target.state {
            if source.is_none() {
                source = Some(render::source(state, now));
            }
            for service in state.services.values() {
                totals.add(service.status);
            }
        }
        sections.push(render::target_section(&target, &mut budget));
    });
    render::overview(source, &totals, &sections, budget.omitted)
}

/// One service's page (every target that has it, or the one `?target=` names), a busy page
/// (503) when a target that may have it is being written, or a 404 page.
fn service_page(
    view: &dyn DaemonView,
    cluster: &str,
    name: &str,
    query: Option<&str>,
    now: u64,
) -> (StatusCode, Markup) {
    let key = format!("{cluster}/{name}");
    let wanted = words::target_param(query);
    let mut found = Vec::new();
    let mut busy = Vec::new();
    view.read_targets(&mut |target| {
        if wanted.is_some_and(|wanted| wanted != target.name) {
            return;
        }
        match target.state {
            None => busy.push(target.name.to_owned()),
            Some(state) => {
                if let Some(service) = state.services.get(&key) {
                    let detail = state.details.get(&key);
                    found.push(render::service_detail(&target, &key, service, detail, now));
                }
            }
        }
    });
    if !found.is_empty() {
        (StatusCode::OK, render::service_page(&key, &found))
    } else if !busy.is_empty() {
        (StatusCode::SERVICE_UNAVAILABLE, render::busy_page(&key))
    } else {
        (StatusCode::NOT_FOUND, render::not_found(&key, wanted))
    }
}

/// An HTML answer with the page's headers: no caching, no sniffing, no scripts.
fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}
