//! berth-source: reads manifest sets from where they live (a local directory today; git next).

mod dir;

pub use dir::{SourceError, read_path};
