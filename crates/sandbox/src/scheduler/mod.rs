//! Amazon EventBridge Scheduler (REFERENCE A1; restJson1, signing name `scheduler`): schedule groups, schedules
//! with `at()`, `rate()` and `cron()` expressions evaluated on the sandbox's scaled clock (`Ctx::clock`), and ECS
//! RunTask targets that really start tasks. One-time schedules with `ActionAfterCompletion: DELETE` delete
//! themselves after their invocation.

mod expression;
mod groups;
mod invoke;
mod schedules;

use std::collections::BTreeMap;

use axum::http::Method;
use serde_json::Value;

use crate::protocol::rest_json::RestRequest;
use crate::{AwsError, AwsResult, Ctx, World};

pub use expression::Expression;
pub use schedules::Schedule;

/// The SigV4 signing name requests to this service carry.
pub const SIGNING_NAME: &str = "scheduler";
/// The group every account has; it cannot be deleted.
pub const DEFAULT_GROUP: &str = "default";

#[derive(Debug, Default)]
pub struct SchedulerState {
    /// Group name -> group; `default` is created on first use.
    groups: BTreeMap<String, groups::Group>,
    /// (group, name) -> schedule.
    schedules: BTreeMap<(String, String), Schedule>,
    /// ClientToken -> (the request, the ARN it created), for idempotent retries of CreateSchedule.
    tokens: BTreeMap<String, (Value, String)>,
    /// Every invocation so far, oldest first (what `GET /_sandbox/scheduler` shows).
    pub invocations: Vec<invoke::Invocation>,
}

/// The operation a request names, by method and path (the model's `http` bindings).
pub fn operation(r: &RestRequest) -> &'static str {
    let first = r.segments.first().map(String::as_str);
    match (&r.method, first, r.segments.len()) {
        (&Method::GET, Some("schedules"), 1) => "ListSchedules",
        (&Method::POST, Some("schedules"), 2) => "CreateSchedule",
        (&Method::GET, Some("schedules"), 2) => "GetSchedule",
        (&Method::PUT, Some("schedules"), 2) => "UpdateSchedule",
        (&Method::DELETE, Some("schedules"), 2) => "DeleteSchedule",
        (&Method::GET, Some("schedule-groups"), 1) => "ListScheduleGroups",
        (&Method::POST, Some("schedule-groups"), 2) => "CreateScheduleGroup",
        (&Method::GET, Some("schedule-groups"), 2) => "GetScheduleGroup",
        (&Method::DELETE, Some("schedule-groups"), 2) => "DeleteScheduleGroup",
        (&Method::GET, Some("tags"), _) => "ListTagsForResource",
        (&Method::POST, Some("tags"), _) => "TagResource",
        (&Method::DELETE, Some("tags"), _) => "UntagResource",
        _ => "Unknown",
    }
}

pub fn handle(w: &mut World, ctx: &Ctx, op: &str, r: &RestRequest) -> AwsResult<Value> {
    let state = &mut w.scheduler;
    state.ensure_default_group(ctx);
    let name = r.segments.get(1).map(String::as_str).unwrap_or_default();
    match op {
        "CreateSchedule" => schedules::create(state, ctx, name, &r.body),
        "GetSchedule" => schedules::get(state, name, r.query.get("groupName")),
        "UpdateSchedule" => schedules::update(state, ctx, name, &r.body),
        "DeleteSchedule" => schedules::delete(state, name, r.query.get("groupName")),
        "ListSchedules" => schedules::list(state, &r.query),
        "CreateScheduleGroup" => groups::create(state, ctx, name),
        "GetScheduleGroup" => groups::get(state, name),
        "DeleteScheduleGroup" => groups::delete(state, name),
        "ListScheduleGroups" => groups::list(state, &r.query),
        other => Err(AwsError::not_implemented("scheduler", other)),
    }
}

/// Invokes the schedules that are due on the scaled clock; deletes the ones that are done with DELETE.
pub fn tick(w: &mut World, ctx: &Ctx) {
    invoke::tick(w, ctx);
}

impl SchedulerState {
    fn ensure_default_group(&mut self, ctx: &Ctx) {
        if !self.groups.contains_key(DEFAULT_GROUP) {
            self.groups.insert(DEFAULT_GROUP.into(), groups::Group::new(ctx, DEFAULT_GROUP));
        }
    }

    /// A schedule by group and name, for tests and the control endpoint.
    pub fn schedule(&self, group: &str, name: &str) -> Option<&Schedule> {
        self.schedules.get(&(group.to_owned(), name.to_owned()))
    }
}

pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationException", message)
}

pub(crate) fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message)
}

pub(crate) fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ConflictException", message)
}

/// `Name` and `GroupName`: 1-64 characters of `[0-9a-zA-Z-_.]`.
pub(crate) fn check_name(field: &str, name: &str) -> AwsResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$"
        )))
    }
}

/// `NextToken` / `MaxResults` paging shared by the List operations: the token is the index of the next item.
pub(crate) fn page<T>(items: Vec<T>, query: &BTreeMap<String, String>) -> AwsResult<(Vec<T>, Option<String>)> {
    let max = match query.get("MaxResults") {
        Some(m) => m.parse::<usize>().ok().filter(|m| (1..=100).contains(m)).ok_or_else(|| {
            validation(format!(
                "Value '{m}' at 'maxResults' failed to satisfy constraint: Member must be between 1 and 100"
            ))
        })?,
        None => 100,
    };
    let start: usize = match query.get("NextToken") {
        Some(t) => t.parse().map_err(|_| validation("The NextToken is not valid."))?,
        None => 0,
    };
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items.into_iter().skip(start).take(max).collect(), next))
}
