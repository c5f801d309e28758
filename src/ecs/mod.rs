//! Reading ECS: the live service and the task-definition revisions it runs. The deployment calls
//! (UpdateService, RunTask) live with the strategies in `deploy/`.

pub mod discover;
pub mod revision;
pub mod service;
