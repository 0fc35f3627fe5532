//! Applying to live (emulated) ECS: the calls berth makes and how rollouts end.
