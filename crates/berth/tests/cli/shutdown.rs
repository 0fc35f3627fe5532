//! SIGTERM in the middle of a reconcile, as ECS sends it when it replaces berth's task: the
//! services already being changed finish their calls, no other service starts, and `berth run`
//! exits 0 well within ECS's `stopTimeout` (30 s). Every AWS call goes through the test kit's
//! proxy, slowed down so that the reconcile is still going when the signal arrives.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use berth_testkit::faults::{FaultPlan, FaultProxy};
use serde_json::Value;

use super::daemon::{Estate, ServiceFixture, one_at_a_time, push_body, sign};

/// Six services changed at most two at a time: when the first revision is registered, four
/// have not started.
const SERVICES: usize = 6;
const CONCURRENCY: usize = 2;
/// Every AWS call waits this long in the proxy once the estate is settled.
const SLOW: Duration = Duration::from_millis(1500);

/// The value of tag `key` on a described service.
fn tag(service: &Value, key: &str) -> Option<String> {
    service["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
        .map(str::to_string)
}

#[test]
fn sigterm_mid_reconcile_finishes_the_services_in_flight_starts_no_other_and_exits_0() {
    let _one = one_at_a_time();
    let names: Vec<String> = (0..SERVICES).map(|i| format!("svc-{i}")).collect();
    let fixtures: Vec<ServiceFixture> = names
        .iter()
        .map(|n| ServiceFixture::new(n, "web", "1.0"))
        .collect();
    let estate = Estate::new(&fixtures);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let proxy = runtime
        .block_on(FaultProxy::start(estate.emulator.addr(), FaultPlan::new(1)))
        .expect("proxy");
    let mut daemon = estate.daemon_with(&estate.config(), |command| {
        command
            .env("BERTH_AWS_ENDPOINT_URL", proxy.endpoint())
            .env("BERTH_CONCURRENCY", CONCURRENCY.to_string());
    });
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    daemon.wait_synced(&all);
    let first_sha = tag(&estate.describe("svc-0"), "berth:revision").expect("revision tag");

    // Every service bumped in one commit; every call now slow.
    proxy.set_plan(FaultPlan::fixed_latency(SLOW));
    let registers_before = proxy.forwarded_of("RegisterTaskDefinition").len();
    for name in &names {
        estate.write(&ServiceFixture::new(name, "web", "1.1"));
    }
    let bump_sha = estate.commit("all to 1.1");
    let body = push_body("refs/heads/main", &bump_sha);
    assert!(daemon.webhook(&body, Some(&sign(&body))).is_success());
    daemon.wait_until(
        "the first RegisterTaskDefinition of the bump",
        Duration::from_secs(120),
        |_| (proxy.forwarded_of("RegisterTaskDefinition").len() > registers_before).then_some(()),
    );

    let signalled = Instant::now();
    let exit = daemon.terminate();
    let took = signalled.elapsed();
    assert!(exit.success(), "berth run exited {exit} on SIGTERM");
    assert!(
        took < Duration::from_secs(30),
        "exited {took:?} after SIGTERM"
    );
    println!("exited {took:?} after SIGTERM mid-reconcile");

    // No service is half-applied: each runs either the old revision with the old commit's tags
    // or the new one with the new commit's (TagResource is a service's last call).
    let mut changed = BTreeSet::new();
    for name in &names {
        let service = estate.describe(name);
        let revision = tag(&service, "berth:revision").unwrap_or_default();
        // Each service's family had one revision before the bump.
        let running = service["taskDefinition"].as_str().unwrap_or_default();
        if running.ends_with(":2") {
            assert_eq!(
                revision, bump_sha,
                "{name} changed but not tagged: {service}"
            );
            changed.insert(name.clone());
        } else {
            assert!(running.ends_with(":1"), "{name}: {service}");
            assert_eq!(
                revision, first_sha,
                "{name} untouched but retagged: {service}"
            );
        }
    }
    // The signal came mid-reconcile (something had started) and stopped it (not everything
    // was changed): at most the services in flight then.
    assert!(!changed.is_empty(), "nothing was in flight");
    assert!(
        changed.len() <= CONCURRENCY,
        "started after SIGTERM: {changed:?}"
    );
    // No revision was registered for a service that was not changed: nothing new started.
    let registered_families: BTreeSet<String> = proxy
        .forwarded_of("RegisterTaskDefinition")
        .iter()
        .skip(registers_before)
        .filter_map(|call| call.json()["family"].as_str().map(str::to_string))
        .collect();
    assert_eq!(registered_families, changed, "registered without an update");
    drop(runtime);
}
