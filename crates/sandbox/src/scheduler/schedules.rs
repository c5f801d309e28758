//! CreateSchedule, GetSchedule, UpdateSchedule, DeleteSchedule, ListSchedules (REFERENCE A1): validated as the
//! model and the API reference say, stored whole (UpdateSchedule replaces the whole schedule), and given their
//! next invocation on the scaled clock.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::expression::{self, Expression};
use super::{DEFAULT_GROUP, SchedulerState, check_name, conflict, not_found, page, validation};
use crate::world::epoch_seconds;
use crate::{AwsResult, Ctx};

/// The templated target kinds; a schedule names at most one.
const TEMPLATED: [&str; 5] =
    ["EcsParameters", "EventBridgeParameters", "KinesisParameters", "SageMakerPipelineParameters", "SqsParameters"];

#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub group: String,
    pub arn: String,
    /// The request members as given (what GetSchedule answers), defaults filled.
    pub spec: Value,
    pub expression: Expression,
    pub tz: TimeZone,
    /// Where `rate()` counts from and before which nothing runs: StartDate, else the creation time.
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub created: f64,
    pub modified: f64,
    /// The next invocation as the expression has it, and when it is really due (later within a flexible window).
    pub next: Option<Timestamp>,
    pub due: Option<Timestamp>,
}

impl Schedule {
    pub fn enabled(&self) -> bool {
        self.spec["State"] == "ENABLED"
    }

    pub fn deletes_after_completion(&self) -> bool {
        self.spec["ActionAfterCompletion"] == "DELETE"
    }

    pub fn target(&self) -> &Value {
        &self.spec["Target"]
    }

    /// Moves on to the occurrence after `after`, with its place in the flexible window drawn at random.
    pub fn advance(&mut self, after: Timestamp) {
        self.next = self.expression.next(&self.tz, self.start, after, self.end);
        let window = self.spec["FlexibleTimeWindow"]["MaximumWindowInMinutes"].as_i64().unwrap_or(0);
        let flexible = self.spec["FlexibleTimeWindow"]["Mode"] == "FLEXIBLE";
        self.due = self.next.map(|n| {
            let offset = if flexible && window > 0 { rand::random_range(0..window * 60) } else { 0 };
            Timestamp::from_second(n.as_second() + offset).unwrap_or(n)
        });
    }

    fn json(&self) -> Value {
        let mut out = self.spec.clone();
        out["Arn"] = json!(self.arn);
        out["Name"] = json!(self.name);
        out["GroupName"] = json!(self.group);
        out["CreationDate"] = json!(self.created);
        out["LastModificationDate"] = json!(self.modified);
        out
    }

    fn summary(&self) -> Value {
        json!({
            "Arn": self.arn,
            "Name": self.name,
            "GroupName": self.group,
            "State": self.spec["State"],
            "CreationDate": self.created,
            "LastModificationDate": self.modified,
            "Target": { "Arn": self.target()["Arn"] },
        })
    }
}

pub fn create(state: &mut SchedulerState, ctx: &Ctx, name: &str, body: &Value) -> AwsResult<Value> {
    let group = group_of(state, body.get("GroupName").and_then(Value::as_str))?;
    if let Some(token) = body.get("ClientToken").and_then(Value::as_str)
        && let Some((earlier, arn)) = state.tokens.get(token)
    {
        // The same request retried creates nothing new.
        if earlier == body {
            return Ok(json!({ "ScheduleArn": arn }));
        }
        return Err(conflict("The ClientToken has already been used with a different request."));
    }
    let key = (group.clone(), name.to_owned());
    if state.schedules.contains_key(&key) {
        return Err(conflict(format!("Schedule {name} already exists.")));
    }
    let now = epoch_seconds(ctx.clock());
    let schedule = build(ctx, name, &group, body, now, now)?;
    let arn = schedule.arn.clone();
    if let Some(token) = body.get("ClientToken").and_then(Value::as_str) {
        state.tokens.insert(token.to_owned(), (body.clone(), arn.clone()));
    }
    state.schedules.insert(key, schedule);
    Ok(json!({ "ScheduleArn": arn }))
}

pub fn update(state: &mut SchedulerState, ctx: &Ctx, name: &str, body: &Value) -> AwsResult<Value> {
    let group = group_of(state, body.get("GroupName").and_then(Value::as_str))?;
    let key = (group.clone(), name.to_owned());
    let Some(existing) = state.schedules.get(&key) else {
        return Err(not_found(format!("Schedule {name} does not exist.")));
    };
    let schedule = build(ctx, name, &group, body, existing.created, epoch_seconds(ctx.clock()))?;
    let arn = schedule.arn.clone();
    state.schedules.insert(key, schedule);
    Ok(json!({ "ScheduleArn": arn }))
}

pub fn get(state: &SchedulerState, name: &str, group: Option<&String>) -> AwsResult<Value> {
    check_name("name", name)?;
    let group = group.map(String::as_str).unwrap_or(DEFAULT_GROUP);
    check_name("groupName", group)?;
    state.schedule(group, name).map(Schedule::json).ok_or_else(|| not_found(format!("Schedule {name} does not exist.")))
}

pub fn delete(state: &mut SchedulerState, name: &str, group: Option<&String>) -> AwsResult<Value> {
    check_name("name", name)?;
    let group = group.map(String::as_str).unwrap_or(DEFAULT_GROUP);
    check_name("groupName", group)?;
    state
        .schedules
        .remove(&(group.to_owned(), name.to_owned()))
        .map(|_| json!({}))
        .ok_or_else(|| not_found(format!("Schedule {name} does not exist.")))
}

pub fn list(state: &SchedulerState, query: &BTreeMap<String, String>) -> AwsResult<Value> {
    let group = query.get("ScheduleGroup");
    if let Some(g) = group {
        check_name("groupName", g)?;
        if !state.groups.contains_key(g) {
            return Err(not_found(format!("Schedule group {g} does not exist.")));
        }
    }
    let prefix = query.get("NamePrefix").map(String::as_str).unwrap_or_default();
    let wanted_state = match query.get("State").map(String::as_str) {
        None => None,
        Some(s @ ("ENABLED" | "DISABLED")) => Some(s),
        Some(other) => return Err(validation(format!("Value '{other}' at 'state' failed to satisfy constraint."))),
    };
    let items: Vec<Value> = state
        .schedules
        .values()
        .filter(|s| group.is_none_or(|g| &s.group == g))
        .filter(|s| s.name.starts_with(prefix))
        .filter(|s| wanted_state.is_none_or(|w| s.spec["State"] == w))
        .map(Schedule::summary)
        .collect();
    let (page, next) = page(items, query)?;
    let mut out = json!({ "Schedules": page });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

fn group_of(state: &SchedulerState, group: Option<&str>) -> AwsResult<String> {
    let group = group.unwrap_or(DEFAULT_GROUP);
    check_name("groupName", group)?;
    if !state.groups.contains_key(group) {
        return Err(not_found(format!("Schedule group {group} does not exist.")));
    }
    Ok(group.to_owned())
}

/// Validates a Create/Update body and makes the schedule, its first invocation computed from now.
fn build(ctx: &Ctx, name: &str, group: &str, body: &Value, created: f64, modified: f64) -> AwsResult<Schedule> {
    check_name("name", name)?;
    let text = required_str(body, "ScheduleExpression")?;
    if text.len() > 256 {
        return Err(validation("ScheduleExpression must be at most 256 characters."));
    }
    let expression = Expression::parse(text).map_err(validation)?;
    let tz_name = body.get("ScheduleExpressionTimezone").and_then(Value::as_str);
    if tz_name.is_some_and(|t| !(1..=50).contains(&t.len())) {
        return Err(validation("ScheduleExpressionTimezone must be 1 to 50 characters."));
    }
    let tz = expression::time_zone(tz_name).map_err(validation)?;
    check_window(body.get("FlexibleTimeWindow"))?;
    check_target(body.get("Target"))?;
    let one_of = |field: &str, allowed: &[&str], default: &str| -> AwsResult<String> {
        match body.get(field) {
            None => Ok(default.to_owned()),
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(s.clone()),
            Some(v) => Err(validation(format!(
                "Value {v} at '{field}' failed to satisfy constraint: Member must satisfy enum value set: {allowed:?}"
            ))),
        }
    };
    let schedule_state = one_of("State", &["ENABLED", "DISABLED"], "ENABLED")?;
    let after_completion = one_of("ActionAfterCompletion", &["NONE", "DELETE"], "NONE")?;
    if body.get("Description").and_then(Value::as_str).is_some_and(|d| d.len() > 512) {
        return Err(validation("Description must be at most 512 characters."));
    }
    let date = |field: &str| -> AwsResult<Option<Timestamp>> {
        match body.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .and_then(|s| Timestamp::from_second(s as i64).ok())
                .map(Some)
                .ok_or_else(|| validation(format!("{field} is not a timestamp."))),
        }
    };
    let (start, end) = (date("StartDate")?, date("EndDate")?);
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(validation("The EndDate must be after the StartDate."));
    }
    let now = Timestamp::try_from(ctx.clock()).unwrap_or(Timestamp::UNIX_EPOCH);
    // Only what the output shape has is kept, so GetSchedule answers in it (ClientToken and GroupName are not).
    let mut spec = json!({
        "ScheduleExpression": text,
        "FlexibleTimeWindow": body["FlexibleTimeWindow"],
        "Target": body["Target"],
        "State": schedule_state,
        "ActionAfterCompletion": after_completion,
    });
    for field in ["Description", "KmsKeyArn", "ScheduleExpressionTimezone", "StartDate", "EndDate"] {
        if let Some(v) = body.get(field) {
            spec[field] = v.clone();
        }
    }
    let mut schedule = Schedule {
        name: name.to_owned(),
        group: group.to_owned(),
        arn: ctx.arn("scheduler", &format!("schedule/{group}/{name}")),
        spec,
        expression,
        tz,
        start: start.unwrap_or(now),
        end,
        created,
        modified,
        next: None,
        due: None,
    };
    schedule.advance(now);
    Ok(schedule)
}

fn required_str<'a>(body: &'a Value, field: &str) -> AwsResult<&'a str> {
    body.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// `FlexibleTimeWindow` must be given; `FLEXIBLE` needs `MaximumWindowInMinutes` (1-1440).
fn check_window(window: Option<&Value>) -> AwsResult<()> {
    let window = window.ok_or_else(|| validation("FlexibleTimeWindow is required."))?;
    let max = window.get("MaximumWindowInMinutes").and_then(Value::as_i64);
    match window.get("Mode").and_then(Value::as_str) {
        Some("OFF") => Ok(()),
        Some("FLEXIBLE") if max.is_some_and(|m| (1..=1440).contains(&m)) => Ok(()),
        Some("FLEXIBLE") => Err(validation("MaximumWindowInMinutes (1 to 1440) is required when Mode is FLEXIBLE.")),
        _ => Err(validation("FlexibleTimeWindow.Mode must be OFF or FLEXIBLE.")),
    }
}

fn check_target(target: Option<&Value>) -> AwsResult<()> {
    let target = target.ok_or_else(|| validation("Target is required."))?;
    let arn = required_str(target, "Arn")?;
    if arn.len() > 1600 {
        return Err(validation("Target.Arn must be at most 1600 characters."));
    }
    let role = required_str(target, "RoleArn")?;
    if !is_role_arn(role) {
        return Err(validation(format!("Invalid RoleArn {role}.")));
    }
    if target.get("Input").and_then(Value::as_str) == Some("") {
        return Err(validation("Target.Input must not be empty."));
    }
    if TEMPLATED.iter().filter(|k| target.get(**k).is_some()).count() > 1 {
        return Err(validation("Only one templated target parameter can be set."));
    }
    if let Some(ecs) = target.get("EcsParameters") {
        required_str(ecs, "TaskDefinitionArn")?;
        if let Some(count) = ecs.get("TaskCount")
            && !count.as_i64().is_some_and(|c| (1..=10).contains(&c))
        {
            return Err(validation("TaskCount must be between 1 and 10."));
        }
        let launch = ecs.get("LaunchType").and_then(Value::as_str);
        if launch.is_some_and(|l| !["EC2", "FARGATE", "EXTERNAL"].contains(&l)) {
            return Err(validation("LaunchType must be EC2, FARGATE or EXTERNAL."));
        }
        if let Some(vpc) = ecs.get("NetworkConfiguration").and_then(|n| n.get("awsvpcConfiguration")) {
            let subnets = vpc.get("Subnets").and_then(Value::as_array).map_or(0, Vec::len);
            if !(1..=16).contains(&subnets) {
                return Err(validation("awsvpcConfiguration.Subnets must list 1 to 16 subnets."));
            }
            if vpc.get("AssignPublicIp").and_then(Value::as_str) == Some("ENABLED") && launch != Some("FARGATE") {
                return Err(validation("AssignPublicIp ENABLED is only allowed when LaunchType is FARGATE."));
            }
        }
    }
    Ok(())
}

/// `^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@\/-]+$`
fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws") else { return false };
    let rest = match rest.strip_prefix('-') {
        Some(r) => {
            let (partition, tail) = r.split_once(':').unwrap_or((r, ""));
            if partition.is_empty() || !partition.chars().all(|c| c.is_ascii_lowercase()) {
                return false;
            }
            format!(":{tail}")
        }
        None => rest.to_owned(),
    };
    let Some(rest) = rest.strip_prefix(":iam::") else { return false };
    let Some((account, role)) = rest.split_once(":role/") else { return false };
    account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !role.is_empty()
        && role.chars().all(|c| c.is_alphanumeric() || "_+=,.@/-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_follow_the_models_pattern() {
        assert!(is_role_arn("arn:aws:iam::111122223333:role/scheduler"));
        assert!(is_role_arn("arn:aws-cn:iam::111122223333:role/path/to-role"));
        assert!(!is_role_arn("arn:aws:iam::1111:role/x"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:user/x"));
        assert!(!is_role_arn("role/x"));
    }
}
