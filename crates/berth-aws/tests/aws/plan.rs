//! Planning against live (emulated) ECS: what berth plans for services it did not create.
