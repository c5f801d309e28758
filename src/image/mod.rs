//! The image half: build, push, and what ECR already has.

pub mod build;
pub mod context;
