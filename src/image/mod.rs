//! The image half: build, push, and what ECR already has.

pub mod build;
pub mod build_log;
pub mod context;
pub mod dockerignore;
pub mod ecr;
pub mod push;
pub mod reference;
pub mod release;
