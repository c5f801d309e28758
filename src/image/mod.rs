//! The image half: decide build or reuse from what ECR holds, build, push, tag.

pub mod build;
pub mod build_log;
pub mod cache;
pub mod context;
pub mod distribution;
pub mod dockerignore;
pub mod ecr;
pub mod existing;
pub mod labels;
pub mod plan;
pub mod platform;
pub mod promote;
pub mod publish;
pub mod push;
pub mod reference;
pub mod released;
pub mod sidecars;
pub mod tag_policy;
