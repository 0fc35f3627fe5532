//! What berth-aws's emulator test binaries (`tests/aws.rs`, `tests/faults.rs`) share: an account
//! on the emulator, the credentials it accepts, berth-moto's per-account settings, and what the
//! emulator holds, read directly (not through the adapter under test).

use aws_sdk_ecs::config::Credentials;
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
