//! Deploying a registered task definition: the strategy is chosen once, then driven and watched.

pub mod appspec;
pub mod cancel;
pub mod codedeploy;
pub mod diagnostics;
pub mod ecs_deployment;
pub mod group;
pub mod plan;
pub mod run_task;
pub mod stages;
pub mod strategy;
pub mod verdict;
pub mod verified;
pub mod watcher;
