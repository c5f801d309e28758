//! Deploying a registered task definition: the strategy is chosen once, then driven and watched.

pub mod appspec;
pub mod cancel;
pub mod codedeploy;
pub mod diagnostics;
pub mod execute;
pub mod plan;
pub mod rolling;
pub mod rollout;
pub mod run_task;
pub mod service;
pub mod strategy;
pub mod verified;
pub mod watch;
