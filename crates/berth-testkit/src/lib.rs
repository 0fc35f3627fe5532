//! berth-testkit: the local ECS emulator launcher and fixture builders for tests.
