//! What reconciling would do: each schedule of the config created, updated (and which fields) or left alone, and
//! each schedule of the tool's group that the config no longer names deleted. Pure.

use serde::Serialize;

use super::spec::ScheduleSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleChange {
    pub name: String,
    pub action: Action,
    /// For an update: `field: old -> new` for each field that changes.
    pub fields: Vec<String>,
}

impl ScheduleChange {
    pub fn describe(&self, group: &str) -> String {
        match self.action {
            Action::Create => format!("schedule {group}/{}: create", self.name),
            Action::Delete => format!("schedule {group}/{}: delete (no longer in the config)", self.name),
            Action::Unchanged => format!("schedule {group}/{}: unchanged", self.name),
            Action::Update => format!("schedule {group}/{}: update ({})", self.name, self.fields.join("; ")),
        }
    }
}

/// Desired against existing, by name: the config's order first, then deletions in name order.
pub fn diff(desired: &[ScheduleSpec], existing: &[ScheduleSpec]) -> Vec<ScheduleChange> {
    let mut changes = Vec::new();
    for want in desired {
        let change = match existing.iter().find(|e| e.name == want.name) {
            None => ScheduleChange { name: want.name.clone(), action: Action::Create, fields: Vec::new() },
            Some(have) => {
                let fields = changed_fields(want, have);
                let action = if fields.is_empty() { Action::Unchanged } else { Action::Update };
                ScheduleChange { name: want.name.clone(), action, fields }
            }
        };
        changes.push(change);
    }
    let mut gone: Vec<&ScheduleSpec> = existing.iter().filter(|e| !desired.iter().any(|d| d.name == e.name)).collect();
    gone.sort_by(|a, b| a.name.cmp(&b.name));
    changes.extend(gone.into_iter().map(|e| ScheduleChange {
        name: e.name.clone(),
        action: Action::Delete,
        fields: Vec::new(),
    }));
    changes
}

fn changed_fields(want: &ScheduleSpec, have: &ScheduleSpec) -> Vec<String> {
    let mut fields = Vec::new();
    let check = |fields: &mut Vec<String>, name: &str, old: String, new: String| {
        if old != new {
            fields.push(format!("{name}: {old} -> {new}"));
        }
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    check(&mut fields, "expression", have.expression.clone(), want.expression.clone());
    check(&mut fields, "timezone", opt(&have.timezone), opt(&want.timezone));
    check(&mut fields, "flexible window (min)", have.flexible_minutes.to_string(), want.flexible_minutes.to_string());
    check(&mut fields, "enabled", have.enabled.to_string(), want.enabled.to_string());
    check(&mut fields, "description", opt(&have.description), opt(&want.description));
    check(&mut fields, "cluster", have.cluster_arn.clone(), want.cluster_arn.clone());
    check(&mut fields, "role", have.role_arn.clone(), want.role_arn.clone());
    match &want.task_definition {
        Some(td) => check(&mut fields, "task definition", opt(&have.task_definition), td.clone()),
        // Known once the release registers it.
        None => fields.push(format!("task definition: {} -> the released revision", opt(&have.task_definition))),
    }
    check(&mut fields, "launch", format!("{:?}", have.launch), format!("{:?}", want.launch));
    check(&mut fields, "network", format!("{:?}", have.network), format!("{:?}", want.network));
    // The payload may hold secrets-to-be: say that it changed, never what it is.
    if have.input != want.input {
        fields.push("payload (container overrides) changed".into());
    }
    if have.delete_after != want.delete_after {
        fields.push(format!("delete after completion: {} -> {}", have.delete_after, want.delete_after));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::run_task::Launch;

    fn spec(name: &str, expression: &str) -> ScheduleSpec {
        ScheduleSpec {
            name: name.into(),
            expression: expression.into(),
            timezone: Some("Europe/Oslo".into()),
            flexible_minutes: 0,
            enabled: true,
            description: None,
            delete_after: false,
            cluster_arn: "arn:aws:ecs:eu-west-1:111122223333:cluster/jobs".into(),
            role_arn: "arn:aws:iam::111122223333:role/scheduler".into(),
            task_definition: Some("arn:aws:ecs:eu-west-1:111122223333:task-definition/report:3".into()),
            launch: Launch { launch_type: Some("FARGATE".into()), ..Launch::default() },
            network: None,
            input: Some("{\"containerOverrides\":[]}".into()),
        }
    }

    #[test]
    fn creates_updates_deletes_and_leaves_alone() {
        let existing =
            vec![spec("nightly", "cron(0 3 * * ? *)"), spec("old", "rate(1 hour)"), spec("same", "rate(1 day)")];
        let mut secret = spec("nightly", "cron(0 4 * * ? *)");
        secret.input = Some(
            "{\"containerOverrides\":[{\"name\":\"x\",\"environment\":[{\"name\":\"T\",\"value\":\"hunter2\"}]}]}"
                .into(),
        );
        let desired = vec![secret, spec("same", "rate(1 day)"), spec("new", "rate(5 minutes)")];
        let changes = diff(&desired, &existing);
        let actions: Vec<(&str, Action)> = changes.iter().map(|c| (c.name.as_str(), c.action)).collect();
        assert_eq!(
            actions,
            [
                ("nightly", Action::Update),
                ("same", Action::Unchanged),
                ("new", Action::Create),
                ("old", Action::Delete)
            ]
        );
        let line = changes[0].describe("g");
        assert!(line.contains("expression: cron(0 3 * * ? *) -> cron(0 4 * * ? *)"), "{line}");
        assert!(line.contains("payload") && !line.contains("hunter2"), "payload values never show: {line}");
    }

    #[test]
    fn an_unknown_released_revision_is_an_update() {
        let mut want = spec("nightly", "cron(0 3 * * ? *)");
        want.task_definition = None;
        let changes = diff(&[want], &[spec("nightly", "cron(0 3 * * ? *)")]);
        assert_eq!(changes[0].action, Action::Update);
        assert!(changes[0].fields[0].contains("the released revision"));
    }
}
