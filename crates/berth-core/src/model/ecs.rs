//! Generated ECS model (placeholder until berth-codegen writes it).
