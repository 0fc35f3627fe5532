//! berth-engine: the logic that talks to the outside world, through traits it is generic over.
//!
//! `ports` declares what the engine needs from ECS and ECR; `berth-aws` implements it for real
//! AWS, `berth-testkit` in memory. `read` gathers the live state a plan needs, with as few API
//! calls as the APIs allow.

pub mod apply;
pub mod daemon;
pub mod defaults;
pub mod import;
pub mod lease;
pub mod ports;
pub mod read;
pub mod retention;
pub mod rollout;

pub use read::{EngineError, read_live, read_live_to_apply};
