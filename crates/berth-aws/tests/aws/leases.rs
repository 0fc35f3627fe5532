//! The lease table on the emulator's DynamoDB (issue 13): claims, renewals, takeovers after
//! expiry, releases and scans through [`DynamoLeases`], each test in its own account with its own
//! table. Times are given, not read from a clock: `now_ms` and `expires_ms` are what a replica
//! would pass.

use berth_aws::{Aws, DynamoLeases};
use berth_engine::ports::{LeaseKind, LeaseRecord, LeaseStore, lease_key};
use berth_testkit::Emulator;
use berth_testkit::faults::{FaultPlan, FaultProxy, FaultRates};

use super::support::{adapter_through, emulator_account};
use super::{adapter, counts};

/// The table every test creates in its own account.
const TABLE: &str = "berth-leases";

/// A base time, in milliseconds since the epoch.
const T0: u64 = 1_700_000_000_000;

/// A seed under which some takeovers lose their answer and no call loses all of its attempts.
const LOST_ANSWER_SEED: u64 = 3;

/// How long a lease lasts in these tests.
const TTL: u64 = 30_000;

/// An adapter and the lease table, in a fresh account.
async fn leases() -> (Aws, DynamoLeases) {
    let account = emulator_account();
    account.create_lease_table(TABLE).expect("CreateTable");
    let aws = adapter(&account).await;
    let leases = DynamoLeases::new(&aws, TABLE);
    (aws, leases)
}

/// The record of `key` in a scan, if any.
async fn stored(leases: &DynamoLeases, key: &str) -> Option<LeaseRecord> {
    let records = leases.scan().await.expect("Scan");
    records.into_iter().find(|record| record.key == key)
}

#[tokio::test]
async fn a_free_key_is_claimed_then_renewed_by_its_holder_only() {
    let (aws, leases) = leases().await;
    let key = lease_key(LeaseKind::Target, "prod");

    let claimed = leases.claim(&key, "a", T0, T0 + TTL).await.expect("claim");
    let expected = LeaseRecord {
        key: key.clone(),
        holder: "a".into(),
        expires_ms: T0 + TTL,
        version: 1,
    };
    assert_eq!(claimed, Some(expected.clone()), "a free key: version 1");

    let renewed = leases
        .claim(&key, "a", T0 + 10_000, T0 + 10_000 + TTL)
        .await;
    let renewed = renewed.expect("renew");
    assert_eq!(
        renewed,
        Some(LeaseRecord {
            expires_ms: T0 + 10_000 + TTL,
            ..expected.clone()
        }),
        "a renewal moves the expiry and keeps the version"
    );

    let other = leases
        .claim(&key, "b", T0 + 20_000, T0 + 20_000 + TTL)
        .await;
    assert_eq!(other.expect("claim"), None, "held by `a` until it expires");
    assert_eq!(
        stored(&leases, &key).await.map(|r| (r.holder, r.version)),
        Some(("a".to_string(), 1)),
        "a refused claim changes nothing"
    );
    let calls = counts(&aws, "UpdateItem");
    println!("UpdateItem, claim + renewal + refused claim: {calls:?}");
    // The first claim makes two calls (a refused renewal: no item; the takeover), the renewal
    // one, and the refused claim one: its renewal's refusal shows an unexpired holder.
    assert_eq!(aws.counters().total("UpdateItem"), 2 + 1 + 1);
    assert_eq!(calls.get("ConditionalCheckFailedException"), Some(&2));
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_with_a_new_version() {
    let (aws, leases) = leases().await;
    let key = lease_key(LeaseKind::Target, "staging");
    leases.claim(&key, "a", T0, T0 + TTL).await.expect("claim");

    let expires = T0 + TTL;
    let at_expiry = leases.claim(&key, "b", expires, expires + TTL).await;
    assert_eq!(at_expiry.expect("claim"), None, "not past its expiry yet");
    let after = leases
        .claim(&key, "b", expires + 1, expires + 1 + TTL)
        .await;
    assert_eq!(
        after.expect("claim"),
        Some(LeaseRecord {
            key: key.clone(),
            holder: "b".into(),
            expires_ms: expires + 1 + TTL,
            version: 2,
        }),
        "a new holder sees a new version"
    );
    let back = leases
        .claim(&key, "a", expires + 2, expires + 2 + TTL)
        .await;
    assert_eq!(back.expect("claim"), None, "the old holder lost it");
    println!(
        "UpdateItem, claim + refused + takeover + refused: {:?}",
        counts(&aws, "UpdateItem")
    );
    // A claim of a free or expired key: a refused renewal and the takeover; a refused claim:
    // one refused renewal.
    assert_eq!(aws.counters().total("UpdateItem"), 2 + 1 + 2 + 1);
}

#[tokio::test]
async fn a_release_frees_the_key_only_for_its_holder() {
    let (_aws, leases) = leases().await;
    let key = lease_key(LeaseKind::Target, "prod");
    leases.claim(&key, "a", T0, T0 + TTL).await.expect("claim");

    leases.release(&key, "b").await.expect("release by another");
    let kept = stored(&leases, &key).await;
    assert_eq!(
        kept.map(|r| (r.holder, r.expires_ms)),
        Some(("a".to_string(), T0 + TTL)),
        "a non-holder's release does nothing"
    );
    leases
        .release(&lease_key(LeaseKind::Target, "nowhere"), "a")
        .await
        .expect("releasing a key nobody has is no error");

    leases.release(&key, "a").await.expect("release");
    let taken = leases.claim(&key, "b", T0 + 1, T0 + 1 + TTL).await;
    assert_eq!(
        taken.expect("claim").map(|r| (r.holder, r.version)),
        Some(("b".to_string(), 2)),
        "released: another replica claims it at once"
    );
    assert_eq!(
        stored(&leases, &lease_key(LeaseKind::Target, "nowhere")).await,
        None
    );
}

#[tokio::test]
async fn a_scan_returns_every_target_and_replica_record() {
    let (aws, leases) = leases().await;
    let mut claimed = Vec::new();
    for (kind, name, holder) in [
        (LeaseKind::Replica, "a", "a"),
        (LeaseKind::Replica, "b", "b"),
        (LeaseKind::Target, "prod", "a"),
        (LeaseKind::Target, "staging", "b"),
        (LeaseKind::Target, "dev", "a"),
    ] {
        let key = lease_key(kind, name);
        let record = leases.claim(&key, holder, T0, T0 + TTL).await;
        claimed.push(record.expect("claim").expect("a free key"));
    }

    let mut scanned = leases.scan().await.expect("Scan");
    scanned.sort_by(|x, y| x.key.cmp(&y.key));
    claimed.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(scanned, claimed);
    assert_eq!(
        scanned.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        [
            "replica#a",
            "replica#b",
            "target#dev",
            "target#prod",
            "target#staging"
        ]
    );
    println!(
        "Scan: {:?}, UpdateItem: {:?}",
        counts(&aws, "Scan"),
        counts(&aws, "UpdateItem")
    );
    assert_eq!(counts(&aws, "Scan").get("success"), Some(&1));
    // Each free key: a refused renewal (no item) and the takeover.
    assert_eq!(counts(&aws, "UpdateItem").get("success"), Some(&5));
    assert_eq!(aws.counters().total("UpdateItem"), 10);
}

#[tokio::test]
async fn a_record_missing_an_attribute_is_skipped_by_a_scan() {
    let account = emulator_account();
    account.create_lease_table(TABLE).expect("CreateTable");
    let aws = adapter(&account).await;
    let leases = DynamoLeases::new(&aws, TABLE);
    leases
        .claim("replica#a", "a", T0, T0 + TTL)
        .await
        .expect("claim");
    account
        .dynamodb(
            "PutItem",
            serde_json::json!({
                "TableName": TABLE,
                "Item": { "key": { "S": "target#odd" }, "holder": { "S": "a" } },
            }),
        )
        .expect("PutItem");

    let scanned = leases.scan().await.expect("Scan");
    assert_eq!(
        scanned.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["replica#a"]
    );
}

#[tokio::test]
async fn a_missing_table_is_an_error() {
    let account = emulator_account();
    let aws = adapter(&account).await;
    let leases = DynamoLeases::new(&aws, "no-such-table");
    let error = leases
        .claim("target#prod", "a", T0, T0 + TTL)
        .await
        .expect_err("no table");
    assert_eq!(error.code(), Some("ResourceNotFoundException"), "{error}");
    let error = leases.scan().await.expect_err("no table");
    assert_eq!(error.code(), Some("ResourceNotFoundException"), "{error}");
}

#[tokio::test]
async fn a_takeover_whose_answer_was_lost_is_held_after_the_retry() {
    let account = emulator_account();
    account.create_lease_table(TABLE).expect("CreateTable");
    let emulator = Emulator::shared().unwrap_or_else(|error| panic!("{error}"));
    let lost = FaultRates {
        lost_answer: 0.5,
        ..FaultRates::default()
    };
    let plan = FaultPlan::new(LOST_ANSWER_SEED).operation("UpdateItem", lost);
    let proxy = FaultProxy::start(emulator.addr(), plan)
        .await
        .expect("proxy");
    let aws = adapter_through(&account, &proxy).await;
    let leases = DynamoLeases::new(&aws, TABLE);

    for index in 0..10 {
        let key = lease_key(LeaseKind::Target, &format!("t{index}"));
        let claimed = leases.claim(&key, "a", T0, T0 + TTL).await.expect("claim");
        assert_eq!(
            claimed.map(|r| (r.holder, r.version)),
            Some(("a".to_string(), 1)),
            "{key}: held, and its version bumped once"
        );
    }
    let lost_takeovers = proxy
        .forwarded_of("UpdateItem")
        .iter()
        .filter(|request| request.answer_lost)
        .filter(|request| {
            request.json()["UpdateExpression"]
                .as_str()
                .is_some_and(|update| update.contains("if_not_exists"))
        })
        .count();
    println!(
        "UpdateItem through lost answers: {:?}, lost takeovers: {lost_takeovers}",
        counts(&aws, "UpdateItem")
    );
    assert!(
        lost_takeovers > 0,
        "no takeover lost its answer: the test proves nothing"
    );
}
