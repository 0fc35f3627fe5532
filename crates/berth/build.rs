//! Link settings of the `berth` binary.
//!
//! `-z pack-relative-relocs` (DT_RELR) stores the binary's relative relocations, over 2 MB in
//! the usual format, as a bitmap of a few KB: less to read from disk and keep resident at every
//! start (docs/performance.md, "The daemon at 500 services"). It needs GNU ld 2.38 or later to
//! link (the build image's Debian bookworm has 2.40) and glibc 2.36 or later to run (the
//! runtime image is bookworm too); the binary names that glibc version, so an older one refuses
//! it at start with a clear message rather than misbehaving.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
