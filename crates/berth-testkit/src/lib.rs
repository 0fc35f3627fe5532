//! berth-testkit: the local ECS emulator launcher, in-process fakes of ECS/ECR behind the
//! engine's traits (`fake`), the apply scenarios both run (`scenarios`), and fixture builders
//! for tests.
//!
//! Integration tests talk to a real ECS/ECR API: moto in server mode (see `deploy/local/`).
//! [`Emulator::shared`] starts one moto per test binary on a free port, and
//! [`Emulator::account`] hands each test an isolated [`TestAccount`] on it:
//!
//! ```no_run
//! use berth_testkit::Emulator;
//!
//! # fn main() -> Result<(), berth_testkit::EmulatorError> {
//! let account = Emulator::shared()?.account();
//! account.ecs("CreateCluster", serde_json::json!({ "clusterName": "prod" }))?;
//! let network = account.default_network()?;
//! assert!(network.security_group.starts_with("sg-"));
//! # Ok(())
//! # }
//! ```
//!
//! When moto is not installed, starting fails with [`EmulatorError::NotInstalled`], whose message
//! gives the install command: tests fail rather than skip.

#[cfg(feature = "faults")]
pub mod container_credentials;
pub mod corpus;
pub mod emulator;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "faults")]
pub mod faults;
pub mod fixtures;
pub mod http;
pub mod locate;
pub mod recorder;
#[cfg(feature = "scenarios")]
pub mod scenarios;
mod xml;

pub use emulator::{
    ACCOUNT_HEADER, DEFAULT_ACCOUNT, Emulator, Network, REGION, TestAccount,
    isolate_aws_environment,
};
pub use error::EmulatorError;
pub use locate::{INSTALL_COMMAND, MOTO_ENV, MOTO_VERSION, MotoSearch, workspace_root};
