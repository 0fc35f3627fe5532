//! berth-core: the pure core (manifest model, loading, validation, rendering); no IO, no async.

pub mod model;
