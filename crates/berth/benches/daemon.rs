//! Benchmark: the daemon with 500 services in sync (being written; prints nothing yet).

fn main() {}
