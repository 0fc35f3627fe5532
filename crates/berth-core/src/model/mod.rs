//! The manifest model: berth's own envelope plus the ECS API shapes it embeds.

#[rustfmt::skip] pub mod ecs;
pub(crate) mod serde_util;
pub mod units;
