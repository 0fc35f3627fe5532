//! Code generator.
fn main() {}
