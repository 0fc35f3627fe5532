//! SDK interceptors berth attaches to every client: [`ApiCounters`] counts requests at the HTTP
//! layer (one per attempt, so retries count), and extra headers are added for emulators.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::config_bag::ConfigBag;
use berth_core::vocabulary::AwsOutcome;

/// The outcome of a request that got a 2xx answer ([`AwsOutcome::Success`]).
pub const SUCCESS: &str = AwsOutcome::SUCCESS;
/// The outcome of a request that got no answer ([`AwsOutcome::TransportError`]).
pub const TRANSPORT_ERROR: &str = AwsOutcome::TRANSPORT_ERROR;

/// Requests sent to AWS, by operation and outcome, shared by every client of one
/// [`Aws`](crate::Aws). The daemon exports it as `berth_aws_requests_total{operation,outcome}`.
///
/// Every HTTP request counts once, retries included. `operation` is the API operation name
/// (`DescribeServices`, `DescribeImages`, ...). `outcome` is [`SUCCESS`] for a 2xx answer, AWS's
/// error code for an error answer (`ThrottlingException`, `ServiceNotFoundException`; or
/// `http_<status>` when the answer names none), and [`TRANSPORT_ERROR`] when no answer came. A
/// call that fails before anything is sent (no credentials) does not count.
#[derive(Debug, Clone, Default)]
pub struct ApiCounters {
    counts: Arc<Mutex<BTreeMap<(String, String), u64>>>,
}

impl ApiCounters {
    /// A fresh set of counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far, by `(operation, outcome)`.
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.lock().clone()
    }

    /// Requests of `operation` so far, whatever their outcome.
    pub fn total(&self, operation: &str) -> u64 {
        self.lock()
            .iter()
            .filter(|((op, _), _)| op == operation)
            .map(|(_, count)| count)
            .sum()
    }

    /// Counts one request.
    fn record(&self, operation: &str, outcome: String) {
        *self
            .lock()
            .entry((operation.to_string(), outcome))
            .or_default() += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), u64>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep counting.
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The interceptor feeding [`ApiCounters`].
#[derive(Debug, Clone)]
pub(crate) struct CountingInterceptor {
    pub(crate) counters: ApiCounters,
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "berth::CountingInterceptor"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let outcome = match (context.response(), context.output_or_error()) {
            (Some(response), _) => outcome(response),
            // No response, but the attempt failed sending or waiting: it was on the wire.
            (None, Some(Err(error))) if error.is_connector_error() || error.is_timeout_error() => {
                TRANSPORT_ERROR.to_string()
            }
            // Failed before sending (e.g. signing without credentials): no request to count.
            _ => return Ok(()),
        };
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", |metadata| metadata.name());
        self.counters.record(operation, outcome);
        Ok(())
    }
}

/// The outcome label of an answer.
fn outcome(response: &Response) -> String {
    let status = response.status();
    let outcome = if status.is_success() {
        AwsOutcome::Success
    } else {
        error_code(response).map_or(
            AwsOutcome::HttpStatus(status.as_u16()),
            AwsOutcome::ErrorCode,
        )
    };
    outcome.to_string()
}

/// AWS's error code in an error answer: the `x-amzn-errortype` header, or the JSON body's
/// `__type` (`Code`, `namespace#Code` or `Code:url` forms).
fn error_code(response: &Response) -> Option<String> {
    let raw = match response.headers().get("x-amzn-errortype") {
        Some(header) => header.to_string(),
        None => {
            let body: serde_json::Value = serde_json::from_slice(response.body().bytes()?).ok()?;
            body.get("__type")?.as_str()?.to_string()
        }
    };
    let code = raw.rsplit('#').next()?.split(':').next()?.trim();
    (!code.is_empty()).then(|| code.to_string())
}

/// Adds fixed headers to every request (e.g. moto's `x-moto-account-id`).
#[derive(Clone)]
pub(crate) struct HeaderInterceptor {
    pub(crate) headers: Vec<(String, String)>,
}

impl fmt::Debug for HeaderInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be secrets: names only.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("HeaderInterceptor")
            .field("headers", &names)
            .finish()
    }
}

impl Intercept for HeaderInterceptor {
    fn name(&self) -> &'static str {
        "berth::HeaderInterceptor"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = context.request_mut().headers_mut();
        for (name, value) in &self.headers {
            headers.try_insert(name.clone(), value.clone())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn response(status: u16, header: Option<&str>, body: &str) -> Response {
        let mut response = Response::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        if let Some(header) = header {
            response
                .headers_mut()
                .insert("x-amzn-errortype", header.to_string());
        }
        response
    }

    #[test]
    fn outcomes_name_the_aws_error_code() {
        assert_eq!(outcome(&response(200, None, "{}")), "success");
        assert_eq!(
            outcome(&response(
                400,
                Some("ThrottlingException:http://internal"),
                ""
            )),
            "ThrottlingException"
        );
        assert_eq!(
            outcome(&response(
                400,
                None,
                r#"{"__type":"com.amazonaws.ecs#ClusterNotFoundException","message":"x"}"#
            )),
            "ClusterNotFoundException"
        );
        assert_eq!(outcome(&response(503, None, "<html>")), "http_503");
    }

    #[test]
    fn counters_sum_per_operation() {
        let counters = ApiCounters::new();
        counters.record("DescribeServices", "success".into());
        counters.record("DescribeServices", "success".into());
        counters.record("DescribeServices", "ThrottlingException".into());
        counters.record("ListServices", "success".into());
        assert_eq!(counters.total("DescribeServices"), 3);
        assert_eq!(
            counters
                .snapshot()
                .get(&("DescribeServices".to_string(), "success".to_string())),
            Some(&2)
        );
    }
}
