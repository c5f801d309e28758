//! `pipeline`: from a git commit to production traffic on Amazon ECS.
//!
//! The core never sees clap: `cli` turns arguments into plain requests, `run` executes them.

pub mod aws;
pub mod cli;
pub mod config;
pub mod error;
pub mod git;
pub mod image;
pub mod plan;
pub mod report;
pub mod version;

pub use error::{Error, ExitCode};
