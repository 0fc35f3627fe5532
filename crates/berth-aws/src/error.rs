//! The adapter's error: what went wrong talking to ECS, ECR or DynamoDB, with AWS's own error
//! code and message kept, so a log line says exactly what AWS said.

use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::convert::ConvertError;

/// Why an ECS, ECR or DynamoDB call failed (after the SDK's retries).
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// AWS answered with an error: e.g. `ClusterNotFoundException`, `AccessDeniedException`,
    /// `ThrottlingException` once the retries are spent.
    #[error("{service} {operation}: {code}: {message}")]
    Api {
        /// `ECS`, `ECR` or `DynamoDB`.
        service: &'static str,
        /// The operation, e.g. `DescribeServices`.
        operation: &'static str,
        /// AWS's error code (`Unknown` when the answer has none).
        code: String,
        /// AWS's error message.
        message: String,
        /// The HTTP status of the answer.
        status: u16,
    },
    /// The call got no usable answer: it could not be built or signed (no region, no
    /// credentials), it timed out, the connection failed, or the answer could not be read.
    #[error("{service} {operation}: {kind}: {message}")]
    Call {
        /// `ECS`, `ECR` or `DynamoDB`.
        service: &'static str,
        /// The operation.
        operation: &'static str,
        /// What kind of failure.
        kind: CallFailure,
        /// The SDK's description, with its causes.
        message: String,
    },
    /// `DescribeServices` reported a failure for a service other than `MISSING` (which is an
    /// answer, not an error).
    #[error("ECS DescribeServices: `{arn}`: {reason}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    ServiceFailure {
        /// The service ARN (or name) ECS reported.
        arn: String,
        /// ECS's reason.
        reason: String,
        /// ECS's detail, if any.
        detail: Option<String>,
    },
    /// An answer lacks something berth needs (e.g. a service without its name or ARN).
    #[error("{service} {operation}: the answer has no {what}")]
    Incomplete {
        /// `ECS`, `ECR` or `DynamoDB`.
        service: &'static str,
        /// The operation.
        operation: &'static str,
        /// What is missing.
        what: String,
    },
    /// What ECS returned does not convert into berth's model (e.g. an enum value newer than
    /// berth's model).
    #[error("{what}: {source}")]
    Convert {
        /// What was being converted (e.g. the service or task definition ARN).
        what: String,
        /// Why.
        #[source]
        source: ConvertError,
    },
}

/// AWS error codes that mean "slow down" (the SDK's own list of throttling codes).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// The kinds of [`AwsError::Call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// The request could not be built or signed (e.g. no region, no credentials).
    Construction,
    /// The call or an attempt timed out.
    Timeout,
    /// The request could not be sent or no response came (connection refused, reset, DNS).
    Dispatch,
    /// A response came but could not be read.
    Response,
    /// No credentials to sign with: the standard chain has none, or a target's role could not
    /// be assumed (STS's answer, e.g. `AccessDenied`, is in the message).
    Credentials,
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallFailure::Construction => "cannot build the request",
            CallFailure::Timeout => "timed out",
            CallFailure::Dispatch => "no response",
            CallFailure::Response => "unreadable response",
            CallFailure::Credentials => "no credentials",
        })
    }
}

impl AwsError {
    /// AWS's error code, for [`AwsError::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the call may succeed if made again: AWS throttled it, answered 5xx, or no
    /// usable answer came (timeout, connection failure, unreadable answer). Such a call may
    /// also have taken effect: its answer may be what was lost.
    pub fn is_retryable(&self) -> bool {
        match self {
            AwsError::Api { code, status, .. } => {
                *status >= 500 || THROTTLING.contains(&code.as_str())
            }
            AwsError::Call { kind, .. } => *kind != CallFailure::Construction,
            _ => false,
        }
    }

    /// Maps an SDK error of `service`'s `operation`.
    pub(crate) fn from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        error: SdkError<E, HttpResponse>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if let Some(credentials) = source_of::<CredentialsError>(&error) {
            return AwsError::Call {
                service,
                operation,
                kind: CallFailure::Credentials,
                message: causes(credentials),
            };
        }
        let kind = match &error {
            SdkError::ServiceError(context) => {
                return AwsError::Api {
                    service,
                    operation,
                    code: error.code().unwrap_or("Unknown").to_string(),
                    message: error.message().unwrap_or_default().to_string(),
                    status: context.raw().status().as_u16(),
                };
            }
            SdkError::ConstructionFailure(_) => CallFailure::Construction,
            SdkError::TimeoutError(_) => CallFailure::Timeout,
            SdkError::DispatchFailure(failure) if failure.is_timeout() => CallFailure::Timeout,
            SdkError::DispatchFailure(_) => CallFailure::Dispatch,
            _ => CallFailure::Response,
        };
        AwsError::Call {
            service,
            operation,
            kind,
            message: DisplayErrorContext(&error).to_string(),
        }
    }
}

/// The first error of type `T` in `error`'s chain of sources (itself included).
fn source_of<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// `error` and its causes, each by its `Display`, joined by `: ` (without the SDK's debug dump
/// of the raw response that [`DisplayErrorContext`] appends).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        current = cause.source();
    }
    text
}
