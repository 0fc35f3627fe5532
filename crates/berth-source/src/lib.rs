//! berth-source: reads manifest files from where they live.
