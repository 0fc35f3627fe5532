//! `berth run` with Fargate container credentials (a local endpoint like the ECS agent's), no static keys.
//!
//! The daemon gets only `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN` (no keys, no profile, no `~/.aws`, no IMDS) and reaches
//! the emulator through a fault proxy that injects nothing but records which access key id
//! signed each call. The credentials expire [`LIFETIME`] after each fetch; the SDK's identity
//! cache (aws-smithy-runtime's `LazyCache`) takes them for expired 10 s before their
//! `Expiration`, less a random jitter of up to half that (so 5 to 10 s before), and fetches new
//! ones on the next call after that.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_testkit::container_credentials::{CredentialsServer, Fetch};
use berth_testkit::faults::{FaultPlan, FaultProxy, Forwarded};

use super::daemon::{
    Estate, ServiceFixture, one_at_a_time, push_body, sign, three_services,
    wait_for_new_task_definition,
};

/// What the daemon sends as `Authorization` to the credentials endpoint.
const TOKEN: &str = "Basic berth-e2e-container-token";
/// How long each set of credentials lives: long enough for the first reconcile to finish with
/// the first set (the SDK replaces it 10 to 15 s after fetching it), short enough for the test
/// to wait it out.
const LIFETIME: Duration = Duration::from_secs(25);
/// How late a call may reach the proxy after the key that signed it expired: none should, the
/// SDK stops using credentials 5 s before they expire at the latest.
const SLACK: Duration = Duration::from_secs(1);

/// Every `AWS_*` variable of this process removed, static keys and profile too, then only the
/// container credentials variables set, and the AWS endpoint pointed at the proxy.
fn only_container_credentials(
    command: &mut Command,
    credentials: &CredentialsServer,
    proxy: &FaultProxy,
    absent: &Path,
) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", absent.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", absent.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", credentials.full_uri())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN)
        .env("BERTH_AWS_ENDPOINT_URL", proxy.endpoint());
}

/// The credentials handed out, by access key id: the order they were handed out in and the fetch.
fn by_key_id(credentials: &CredentialsServer) -> BTreeMap<String, (usize, Fetch)> {
    credentials
        .handed_out()
        .into_iter()
        .enumerate()
        .filter_map(|(n, fetch)| Some((fetch.access_key_id.clone()?, (n, fetch))))
        .collect()
}

/// Every call was signed with credentials the endpoint handed out, after it handed them out
/// and before they expired; every fetch was authorized.
fn every_call_used_live_container_credentials(
    credentials: &CredentialsServer,
    forwarded: &[Forwarded],
) {
    let fetches = credentials.fetches();
    assert!(
        fetches.iter().all(|f| f.authorized && f.status == 200),
        "only authorized fetches: {fetches:?}"
    );
    let keys = by_key_id(credentials);
    assert!(!forwarded.is_empty(), "berth made no AWS call");
    for call in forwarded {
        let key = call
            .access_key_id
            .as_deref()
            .unwrap_or_else(|| panic!("{} was not signed with SigV4", call.operation));
        let (_, fetch) = keys.get(key).unwrap_or_else(|| {
            panic!(
                "{} was signed with {key}, which the credentials endpoint never handed out \
                 (handed out: {:?})",
                call.operation,
                keys.keys().collect::<Vec<_>>()
            )
        });
        let expires_at = fetch.expires_at.expect("handed-out credentials expire");
        assert!(
            call.at >= fetch.at,
            "{} was signed with {key} before it was handed out",
            call.operation
        );
        assert!(
            call.at <= expires_at + SLACK,
            "{} was signed with {key} {:?} after it expired",
            call.operation,
            call.at - expires_at
        );
    }
}

#[test]
fn with_only_container_credentials_berth_reconciles_and_refreshes_them_as_they_expire() {
    let _one = one_at_a_time();
    // The proxy and the endpoint serve on this runtime's workers while the test blocks.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let estate = Estate::new(&three_services());
    let proxy = runtime
        .block_on(FaultProxy::start(estate.emulator.addr(), FaultPlan::new(0)))
        .expect("start the proxy");
    let credentials = runtime
        .block_on(CredentialsServer::start(TOKEN, LIFETIME))
        .expect("start the credentials endpoint");
    let absent = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut daemon = estate.daemon_with(&estate.config(), |command| {
        only_container_credentials(command, &credentials, &proxy, absent.path());
    });

    // (1) The estate converges on credentials from the endpoint.
    daemon.wait_synced(&["web", "api", "worker"]);
    every_call_used_live_container_credentials(&credentials, &proxy.forwarded());
    let first = credentials.handed_out()[0].clone();
    let first_key = first.access_key_id.clone().expect("a key id");
    let first_expiry = first.expires_at.expect("an expiry");

    // (2) Once the first credentials expired, a push is still applied: with newer ones.
    daemon.wait_until(
        "the first credentials to expire",
        LIFETIME + Duration::from_secs(5),
        |_| (Instant::now() > first_expiry).then_some(()),
    );
    let web_before = estate.live_task_definition("web");
    estate.write(&ServiceFixture::new("web", "web", "1.1"));
    let sha = estate.commit("web 1.1");
    let body = push_body("refs/heads/main", &sha);
    let response = daemon.webhook(&body, Some(&sign(&body)));
    assert!(response.is_success(), "{}", response.status);
    wait_for_new_task_definition(
        &estate,
        &mut daemon,
        "web",
        &web_before,
        Duration::from_secs(30),
    );
    let late_update = |proxy: &FaultProxy| {
        proxy
            .forwarded_of("UpdateService")
            .into_iter()
            .find(|call| call.at > first_expiry)
    };
    let update = daemon.wait_until(
        "the UpdateService in the proxy's log",
        Duration::from_secs(10),
        |_| late_update(&proxy),
    );
    daemon.wait_synced(&["web"]);

    let forwarded = proxy.forwarded();
    every_call_used_live_container_credentials(&credentials, &forwarded);
    let keys = by_key_id(&credentials);
    assert!(keys.len() >= 2, "the credentials were refreshed: {keys:?}");
    let order = |call: &Forwarded| keys[call.access_key_id.as_deref().unwrap_or_default()].0;
    let late: Vec<&Forwarded> = forwarded.iter().filter(|c| c.at > first_expiry).collect();
    assert!(
        late.iter().all(|call| order(call) > 0),
        "no call after {first_key} expired was signed with it"
    );
    assert!(
        order(&update) > 0,
        "the update was signed with newer credentials than {first_key}"
    );
    println!(
        "{} calls with {} sets of credentials in {:?}",
        forwarded.len(),
        keys.len(),
        started.elapsed()
    );
}
