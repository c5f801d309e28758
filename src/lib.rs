//! `pipeline`: from a git commit to production traffic on Amazon ECS.
//!
//! The core never sees clap: `cli` turns arguments into a plain [`request::Request`], [`run`]
//! executes it and reports start and end on every sink, whatever the path.

pub mod aws;
pub mod cli;
pub mod config;
pub mod error;
pub mod git;
pub mod image;
// PENDING(config/version): pub mod plan;
pub mod report;
pub mod request;
// PENDING: mod run;
pub mod version;

pub use error::{Error, ExitCode};

// PENDING: run() lands with config/version/build.
