//! `pipeline`: from a git commit to production traffic on Amazon ECS.
//!
//! The core never sees clap: `cli` turns arguments into a plain [`request::Request`], [`run()`]
//! plans and executes it and reports start and end on every sink, whatever the path.
//! `docs/architecture.md` walks through a release.

pub mod aws;
pub mod ci;
pub mod cli;
pub mod command;
pub mod config;
pub mod deploy;
pub mod ecs;
pub mod error;
pub mod git;
pub mod guard;
pub mod image;
pub mod notify;
pub mod plan;
pub mod publish_release;
pub mod report;
pub mod request;
mod run;
pub mod stdio;
pub mod task_definition;
pub mod verify;
pub mod version;

pub use error::{Error, ExitCode};
pub use run::run;
