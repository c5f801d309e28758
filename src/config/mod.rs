//! `.pipeline.yml`: the model, loading with file:line:column errors, `--set` overrides, normalisation, the JSON Schema
//! and the starter config.

mod diagnose;
mod duration;
pub mod environment;
pub mod error;
pub mod identity;
mod init;
mod load;
pub mod model;
mod normalize;
mod overrides;
pub mod schedule;
mod schema;
mod select;
pub mod services;
pub mod sidecars;
pub mod task;
pub mod verify;

#[cfg(test)]
mod load_tests;

pub(crate) use diagnose::{closest, locate};
pub use environment::{
    BeforeDeployStep, CodeDeploy, Environment, FiveXx, Guard, OnBusy, OnCancel, Strategy, TaskDefinitionSource,
};
pub use error::{At, ConfigError};
pub use init::{INIT_TEMPLATE, Starter};
pub use load::{from_text, load};
pub use model::{Config, GithubNotify, Image, ImageCache, Notify, Slack, SlackAuth, Source};
pub use schedule::{Schedule, SchedulerSettings};
pub use schema::schema;
pub use services::{DeployOrder, ServiceSpec};
pub use sidecars::{Sidecar, SidecarSource};
pub use task::{CapacityProviderItem, LaunchType, Task, TaskDefinitionRef};
pub use verify::{AppSpecHooks, HttpCheck, VerifyCheck};

/// The config file used when `--config` is not given.
pub const DEFAULT_PATH: &str = ".pipeline.yml";
