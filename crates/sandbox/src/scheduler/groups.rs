//! Schedule groups: `default` always exists; a group holds schedules and deleting it deletes them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{DEFAULT_GROUP, SchedulerState, check_name, conflict, not_found, page, validation};
use crate::world::epoch_seconds;
use crate::{AwsResult, Ctx};

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub arn: String,
    pub created: f64,
}

impl Group {
    pub fn new(ctx: &Ctx, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            arn: ctx.arn("scheduler", &format!("schedule-group/{name}")),
            created: epoch_seconds(ctx.clock()),
        }
    }

    fn json(&self) -> Value {
        json!({
            "Arn": self.arn,
            "Name": self.name,
            "State": "ACTIVE",
            "CreationDate": self.created,
            "LastModificationDate": self.created,
        })
    }
}

pub fn create(state: &mut SchedulerState, ctx: &Ctx, name: &str) -> AwsResult<Value> {
    check_name("name", name)?;
    if state.groups.contains_key(name) {
        return Err(conflict(format!("Schedule group {name} already exists.")));
    }
    let group = Group::new(ctx, name);
    let arn = group.arn.clone();
    state.groups.insert(name.to_owned(), group);
    Ok(json!({ "ScheduleGroupArn": arn }))
}

pub fn get(state: &SchedulerState, name: &str) -> AwsResult<Value> {
    check_name("name", name)?;
    state.groups.get(name).map(Group::json).ok_or_else(|| not_found(format!("Schedule group {name} does not exist.")))
}

/// Deletes the group and its schedules. AWS keeps the group `DELETING` until its schedules are gone (eventually
/// consistent); here both go at once.
pub fn delete(state: &mut SchedulerState, name: &str) -> AwsResult<Value> {
    check_name("name", name)?;
    if name == DEFAULT_GROUP {
        return Err(validation("The default schedule group cannot be deleted."));
    }
    if state.groups.remove(name).is_none() {
        return Err(not_found(format!("Schedule group {name} does not exist.")));
    }
    state.schedules.retain(|(group, _), _| group != name);
    Ok(json!({}))
}

pub fn list(state: &SchedulerState, query: &BTreeMap<String, String>) -> AwsResult<Value> {
    let prefix = query.get("NamePrefix").map(String::as_str).unwrap_or_default();
    let groups: Vec<Value> = state.groups.values().filter(|g| g.name.starts_with(prefix)).map(Group::json).collect();
    let (page, next) = page(groups, query)?;
    let mut out = json!({ "ScheduleGroups": page });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}
