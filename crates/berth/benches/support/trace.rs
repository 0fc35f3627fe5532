//! The AWS calls a client made, read from the fault proxy's log of forwarded requests: when each
//! operation was first and last sent, relative to the client's process start, and how often.
//! A bench times a client this way from outside, the same way for berth as for another tool.

// Each bench compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth_testkit::faults::Forwarded;

/// One operation's calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationTrace {
    /// The AWS operation, e.g. `UpdateService`.
    pub operation: String,
    /// How many requests of it reached the emulator.
    pub count: usize,
    /// When the first was sent, after the start.
    pub first: Duration,
    /// When the last was sent, after the start.
    pub last: Duration,
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The AWS operation.
    pub operation: String,
    /// When it was sent, after the start.
    pub at: Duration,
    /// What it was about, from its body (service, task definition, repository), or empty.
    pub subject: String,
}

/// Every call sent after a start, by operation.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Operations in the order of their first call.
    pub operations: Vec<OperationTrace>,
    /// Every call, in send order.
    pub calls: Vec<Call>,
}

/// The request member that names what a call is about: the first of these present.
const SUBJECTS: &[&str] = &[
    "/service",
    "/services/0",
    "/family",
    "/taskDefinition",
    "/familyPrefix",
    "/repositoryName",
    "/resourceArn",
    "/cluster",
];

fn subject(forwarded: &Forwarded) -> String {
    let body = forwarded.json();
    SUBJECTS
        .iter()
        .find_map(|pointer| body.pointer(pointer)?.as_str())
        .map_or_else(String::new, |s| {
            // ARNs: the resource part says enough.
            s.rsplit('/').next().unwrap_or(s).to_string()
        })
}

impl Trace {
    /// The calls in `forwarded` sent at or after `start` (the proxy logs them in answer order,
    /// so they are sorted by send time here).
    pub fn new(start: Instant, forwarded: &[Forwarded]) -> Trace {
        let mut calls: Vec<Call> = forwarded
            .iter()
            .filter_map(|f| {
                Some(Call {
                    operation: f.operation.clone(),
                    at: f.at.checked_duration_since(start)?,
                    subject: subject(f),
                })
            })
            .collect();
        calls.sort_by_key(|call| call.at);
        let mut operations: Vec<OperationTrace> = Vec::new();
        for Call { operation, at, .. } in &calls {
            match operations.iter_mut().find(|o| &o.operation == operation) {
                Some(seen) => {
                    seen.count += 1;
                    seen.last = *at;
                }
                None => operations.push(OperationTrace {
                    operation: operation.clone(),
                    count: 1,
                    first: *at,
                    last: *at,
                }),
            }
        }
        Trace { operations, calls }
    }

    /// The calls of `operation`, if any.
    pub fn get(&self, operation: &str) -> Option<&OperationTrace> {
        self.operations.iter().find(|o| o.operation == operation)
    }

    /// How many calls were sent up to and including `end`.
    pub fn calls_until(&self, end: Duration) -> usize {
        self.calls.iter().filter(|call| call.at <= end).count()
    }

    /// Every call on a line of its own: `  0.134 DescribeServices berth-00`.
    pub fn dump(&self) -> String {
        self.calls
            .iter()
            .map(|c| {
                format!(
                    "  {:>7.3} {} {}\n",
                    c.at.as_secs_f64(),
                    c.operation,
                    c.subject
                )
            })
            .collect()
    }

    /// Calls per operation, sorted by name.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.operations
            .iter()
            .map(|o| (o.operation.clone(), o.count))
            .collect()
    }

    /// One line: `ListServices 0.06 → DescribeServices ×3 0.12…0.95 → …` (seconds after the
    /// start, operations in the order of their first call).
    pub fn chain(&self) -> String {
        self.operations
            .iter()
            .map(|o| {
                if o.count == 1 {
                    format!("{} {:.2}", o.operation, o.first.as_secs_f64())
                } else {
                    format!(
                        "{} ×{} {:.2}…{:.2}",
                        o.operation,
                        o.count,
                        o.first.as_secs_f64(),
                        o.last.as_secs_f64()
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}
