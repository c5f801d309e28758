//! Deploying a registered task definition: the strategy is chosen once, then driven and watched.

pub mod appspec;
pub mod cancel;
pub mod codedeploy;
pub mod rolling;
pub mod rollout;
pub mod service;
pub mod strategy;
pub mod verified;
pub mod watch;
pub mod plan;
pub mod run_task;
pub mod execute;
pub mod diagnostics;
