//! What berth-aws's emulator test binaries (`tests/aws.rs`, `tests/faults.rs`) share: an account
//! on the emulator, the credentials it accepts, berth-moto's per-account settings, and what the
//! emulator holds, read directly (not through the adapter under test).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ecs::config::Credentials;
use berth_aws::Aws;
use berth_testkit::ACCOUNT_HEADER;
use berth_testkit::faults::FaultProxy;
use berth_testkit::{Emulator, TestAccount};
use serde_json::{Value, json};

/// A fresh account on this binary's emulator (started on first use; panics with the install
/// command when moto is missing: tests fail rather than skip).
pub fn emulator_account() -> TestAccount {
    match Emulator::shared() {
        Ok(emulator) => emulator.account(),
        Err(error) => panic!("{error}"),
    }
}

/// The static credentials every test adapter signs with (the emulator accepts any).
pub fn test_credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "berth-tests")
}

/// `POST /berth-moto/<setting>` for `account` only (see `deploy/local/berth_moto`).
pub fn berth_moto(account: &TestAccount, setting: &str, body: Value) {
    account
        .berth_moto(setting, &body)
        .unwrap_or_else(|e| panic!("{setting}: {e}"));
}

/// The revisions of `family` that ListTaskDefinitions lists, oldest first.
pub fn revisions(account: &TestAccount, family: &str) -> Vec<String> {
    let listed = account
        .ecs("ListTaskDefinitions", json!({ "familyPrefix": family }))
        .expect("ListTaskDefinitions");
    listed["taskDefinitionArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|arn| arn.contains(&format!("task-definition/{family}:")))
        .map(str::to_string)
        .collect()
}

/// An adapter for `account` whose requests go through `proxy`: up to 6 attempts per call with a
/// short backoff (10 ms, doubling), so a test under 25 % faults takes seconds, not minutes.
pub async fn adapter_through(account: &TestAccount, proxy: &FaultProxy) -> Aws {
    let retry = RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(200));
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(account.region()))
        .endpoint_url(proxy.endpoint())
        .credentials_provider(test_credentials())
        .retry_config(retry)
        .load()
        .await;
    Aws::from_sdk_config(
        sdk_config,
        vec![(ACCOUNT_HEADER.to_string(), account.id().to_string())],
    )
}
