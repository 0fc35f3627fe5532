//! The lease table in DynamoDB: berth-engine's `LeaseStore`, through which replicas share targets.
//!
//! One item per lease: partition key `key` (S, `target#<name>` or `replica#<id>`), `holder` (S),
//! `expires` (N, milliseconds since the Unix epoch) and `version` (N). Every write is one
//! conditional `UpdateItem`, so two replicas never both hold a key:
//!
//! - a claim first renews (`holder = me`: only `expires` moves); when that condition fails and
//!   the item as it was (returned with the failure) is another holder's and unexpired, the key is
//!   taken; otherwise the claim takes the key over (absent or expired: `holder`, `expires`, and
//!   `version` + 1). A takeover refused because the key is already the caller's is an earlier
//!   attempt of the same call whose answer was lost (the SDK retried it): the lease is held.
//! - a release sets `expires` to 0 if the caller still holds the key.
//! - a scan reads every item consistently, page by page.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use berth_engine::ports::{LeaseRecord, LeaseStore};

use crate::interceptors::{CountingInterceptor, HeaderInterceptor};
use crate::{Aws, AwsError};

/// The service label of this adapter's errors.
const SERVICE: &str = "DynamoDB";
const UPDATE_ITEM: &str = "UpdateItem";
const SCAN: &str = "Scan";

/// The item's attributes.
const KEY: &str = "key";
const HOLDER: &str = "holder";
const EXPIRES: &str = "expires";
const VERSION: &str = "version";

/// One DynamoDB item, by attribute name.
type Item = HashMap<String, AttributeValue>;

/// The lease table, a DynamoDB table with partition key `key` (S), through the same SDK
/// configuration, request counters ([`ApiCounters`](crate::ApiCounters)) and extra headers as
/// the [`Aws`] it is made from.
#[derive(Debug, Clone)]
pub struct DynamoLeases {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// What a conditional `UpdateItem` came to.
enum Update {
    /// The condition held: the item as written (`ReturnValues: ALL_NEW`).
    Written(Item),
    /// The condition failed: the item as it was, if there is one
    /// (`ReturnValuesOnConditionCheckFailure: ALL_OLD`).
    Refused(Option<Item>),
}

impl DynamoLeases {
    /// The lease table `table`, in `aws`'s region and account.
    pub fn new(aws: &Aws, table: impl Into<String>) -> DynamoLeases {
        let config = aws_sdk_dynamodb::config::Builder::from(&aws.sdk_config)
            .interceptor(CountingInterceptor {
                counters: aws.counters.clone(),
            })
            .interceptor(HeaderInterceptor {
                headers: aws.headers.clone(),
            })
            .build();
        DynamoLeases {
            client: aws_sdk_dynamodb::Client::from_conf(config),
            table: table.into(),
        }
    }

    /// An `UpdateItem` of `key`, returning the item as written or, when its condition fails,
    /// as it was.
    fn update_item(&self, key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    /// Moves `key`'s expiry if `holder` has it.
    async fn renew(&self, key: &str, holder: &str, expires_ms: u64) -> Result<Update, AwsError> {
        let request = self
            .update_item(key)
            .condition_expression("#h = :me")
            .update_expression("SET #e = :exp")
            .expression_attribute_names("#h", HOLDER)
            .expression_attribute_names("#e", EXPIRES)
            .expression_attribute_values(":me", AttributeValue::S(holder.to_string()))
            .expression_attribute_values(":exp", number(expires_ms));
        send(request).await
    }

    /// Gives `key` to `holder` if it is absent or expired at `now_ms`, with a new version.
    async fn take_over(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<Update, AwsError> {
        let request = self
            .update_item(key)
            .condition_expression("attribute_not_exists(#k) OR #e < :now")
            .update_expression("SET #h = :me, #e = :exp, #v = if_not_exists(#v, :zero) + :one")
            .expression_attribute_names("#k", KEY)
            .expression_attribute_names("#h", HOLDER)
            .expression_attribute_names("#e", EXPIRES)
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":now", number(now_ms))
            .expression_attribute_values(":me", AttributeValue::S(holder.to_string()))
            .expression_attribute_values(":exp", number(expires_ms))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":one", number(1));
        send(request).await
    }
}

impl LeaseStore for DynamoLeases {
    type Error = AwsError;

    async fn scan(&self) -> Result<Vec<LeaseRecord>, AwsError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| AwsError::from_sdk(SERVICE, SCAN, error))?;
            for item in page.items() {
                match record(item) {
                    Ok(found) => records.push(found),
                    Err(lacking) => tracing::warn!(
                        table = %self.table,
                        key = item.get(KEY).and_then(|v| v.as_s().ok()).map_or("?", String::as_str),
                        lacking,
                        "skipping a lease record without a valid attribute"
                    ),
                }
            }
            start = page.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(records);
            }
        }
    }

    async fn claim(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<Option<LeaseRecord>, AwsError> {
        match self.renew(key, holder, expires_ms).await? {
            Update::Written(item) => return written(&item).map(Some),
            Update::Refused(Some(current))
                if record(&current).is_ok_and(|lease| lease.expires_ms >= now_ms) =>
            {
                return Ok(None);
            }
            Update::Refused(_) => {}
        }
        match self.take_over(key, holder, now_ms, expires_ms).await? {
            Update::Written(item) => written(&item).map(Some),
            Update::Refused(current) => Ok(current
                .as_ref()
                .and_then(|item| record(item).ok())
                .filter(|lease| lease.holder == holder)),
        }
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), AwsError> {
        let request = self
            .update_item(key)
            .condition_expression("#h = :me")
            .update_expression("SET #e = :zero")
            .expression_attribute_names("#h", HOLDER)
            .expression_attribute_names("#e", EXPIRES)
            .expression_attribute_values(":me", AttributeValue::S(holder.to_string()))
            .expression_attribute_values(":zero", number(0));
        send(request).await.map(|_| ())
    }
}

/// Sends a conditional `UpdateItem`; a failed condition is an answer, not an error.
async fn send(request: UpdateItemFluentBuilder) -> Result<Update, AwsError> {
    match request.send().await {
        Ok(output) => Ok(Update::Written(output.attributes.unwrap_or_default())),
        Err(error) => match error.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                Ok(Update::Refused(failed.item().cloned()))
            }
            _ => Err(AwsError::from_sdk(SERVICE, UPDATE_ITEM, error)),
        },
    }
}

/// The record an `UpdateItem` wrote.
fn written(item: &Item) -> Result<LeaseRecord, AwsError> {
    record(item).map_err(|lacking| AwsError::Incomplete {
        service: SERVICE,
        operation: UPDATE_ITEM,
        what: format!("lease attribute `{lacking}`"),
    })
}

/// The record an item holds, or the name of the attribute it lacks (or has with another type,
/// or a number that is not a `u64`).
fn record(item: &Item) -> Result<LeaseRecord, &'static str> {
    let text = |name: &'static str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(name),
    };
    let whole = |name: &'static str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().map_err(|_| name),
        _ => Err(name),
    };
    Ok(LeaseRecord {
        key: text(KEY)?,
        holder: text(HOLDER)?,
        expires_ms: whole(EXPIRES)?,
        version: whole(VERSION)?,
    })
}

/// A DynamoDB number.
fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect()
    }

    #[test]
    fn an_item_with_every_attribute_is_a_record() {
        let full = item(&[
            (KEY, AttributeValue::S("target#prod".into())),
            (HOLDER, AttributeValue::S("replica-a".into())),
            (EXPIRES, number(1_700_000_000_000)),
            (VERSION, number(3)),
        ]);
        assert_eq!(
            record(&full),
            Ok(LeaseRecord {
                key: "target#prod".into(),
                holder: "replica-a".into(),
                expires_ms: 1_700_000_000_000,
                version: 3,
            })
        );
    }

    #[test]
    fn an_item_without_an_attribute_names_it() {
        let mut partial = item(&[
            (KEY, AttributeValue::S("replica#a".into())),
            (HOLDER, AttributeValue::S("a".into())),
            (EXPIRES, number(5)),
        ]);
        assert_eq!(record(&partial), Err(VERSION));
        partial.insert(VERSION.into(), AttributeValue::N("-1".into()));
        assert_eq!(record(&partial), Err(VERSION));
        partial.insert(VERSION.into(), number(1));
        partial.insert(HOLDER.into(), number(1));
        assert_eq!(record(&partial), Err(HOLDER));
    }
}
