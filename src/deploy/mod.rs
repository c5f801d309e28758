//! Deploying a registered task definition: the strategy is chosen once, then driven and watched.

pub mod appspec;
pub mod cancel;
pub mod codedeploy;
pub mod detach;
pub mod diagnostics;
pub mod ecs_deployment;
pub mod ecs_native;
pub mod group;
pub mod job;
pub mod payload;
pub mod plan;
pub mod rollback_target;
pub mod run_task;
pub mod schedules;
pub mod services;
pub mod stages;
pub mod strategy;
pub mod transient;
pub mod verdict;
pub mod verified;
pub mod watcher;
