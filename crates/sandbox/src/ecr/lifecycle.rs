//! Lifecycle policies (REFERENCE 1.6): stored and validated, never executed (the sandbox expires no images).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::EcrState;
use crate::protocol::json::required_str;
use crate::{AwsError, AwsResult, Ctx};

fn invalid(why: impl std::fmt::Display) -> AwsError {
    AwsError::invalid_parameter(format!(
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation \
         failure: {why}'"
    ))
}

/// The checks a client most often trips over: JSON shape, unique integer priorities, known enums,
/// `tagged` rules naming their tags, and an `any` rule having the highest priority.
fn validate(text: &str) -> AwsResult<()> {
    if !(100..=30720).contains(&text.chars().count()) {
        return Err(AwsError::invalid_parameter(
            "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'Member must have length \
             between 100 and 30720'",
        ));
    }
    let policy: Value = serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let rules = policy
        .get("rules")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| invalid("object has missing required properties ([\"rules\"])"))?;
    let mut priorities = BTreeSet::new();
    let mut any_priority = None;
    for rule in rules {
        let priority = rule
            .get("rulePriority")
            .and_then(Value::as_u64)
            .filter(|p| *p >= 1)
            .ok_or_else(|| invalid("rulePriority must be an integer of at least 1"))?;
        if !priorities.insert(priority) {
            return Err(invalid(format!("rulePriority {priority} is used by more than one rule")));
        }
        if validate_rule(rule)? {
            any_priority = Some(priority);
        }
    }
    match (any_priority, priorities.last()) {
        (Some(any), Some(&highest)) if any != highest => {
            Err(invalid("the rule with tagStatus 'any' must have the highest rulePriority"))
        }
        _ => Ok(()),
    }
}

/// Validates one rule's selection and action; true when it is a `tagStatus: any` rule.
fn validate_rule(rule: &Value) -> AwsResult<bool> {
    let selection = rule.get("selection").ok_or_else(|| invalid("rule has no selection"))?;
    let tag_status = selection.get("tagStatus").and_then(Value::as_str).unwrap_or_default();
    let has_tags = |field: &str| selection.get(field).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    match tag_status {
        "tagged" if !has_tags("tagPrefixList") && !has_tags("tagPatternList") => {
            return Err(invalid("a 'tagged' rule requires tagPrefixList or tagPatternList"));
        }
        "tagged" | "untagged" | "any" => {}
        other => return Err(invalid(format!("tagStatus must be tagged, untagged or any (got '{other}')"))),
    }
    let count_type = selection.get("countType").and_then(Value::as_str).unwrap_or_default();
    if !matches!(count_type, "imageCountMoreThan" | "sinceImagePushed" | "sinceImagePulled" | "sinceImageTransitioned")
    {
        return Err(invalid(format!("unknown countType '{count_type}'")));
    }
    if selection.get("countNumber").and_then(Value::as_u64).is_none_or(|n| n < 1) {
        return Err(invalid("countNumber must be a positive integer"));
    }
    let action = rule.pointer("/action/type").and_then(Value::as_str).unwrap_or_default();
    if !matches!(action, "expire" | "transition") {
        return Err(invalid(format!("action.type must be expire or transition (got '{action}')")));
    }
    Ok(tag_status == "any")
}

fn policy_json(ctx: &Ctx, repository: &str, text: &str) -> Value {
    json!({ "registryId": ctx.account_id, "repositoryName": repository, "lifecyclePolicyText": text })
}

fn not_found(ctx: &Ctx, repository: &str) -> AwsError {
    AwsError::client(
        "LifecyclePolicyNotFoundException",
        format!(
            "Lifecycle policy does not exist for the repository with name '{repository}' in the registry with id '{}'",
            ctx.account_id
        ),
    )
}

pub fn put(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let text = required_str(input, "lifecyclePolicyText")?;
    let repo = state.repository_mut(ctx, name)?;
    validate(text)?;
    repo.lifecycle_policy = Some(text.to_owned());
    Ok(policy_json(ctx, name, text))
}

pub fn get(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let repo = state.repository(ctx, name)?;
    let text = repo.lifecycle_policy.as_deref().ok_or_else(|| not_found(ctx, name))?;
    Ok(policy_json(ctx, name, text))
}

pub fn delete(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let repo = state.repository_mut(ctx, name)?;
    let text = repo.lifecycle_policy.take().ok_or_else(|| not_found(ctx, name))?;
    Ok(policy_json(ctx, name, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(priority: u64, tag_status: &str) -> Value {
        json!({
            "rulePriority": priority,
            "description": "a rule long enough to pass the length check of the policy text",
            "selection": {"tagStatus": tag_status, "tagPatternList": ["v*"], "countType": "imageCountMoreThan", "countNumber": 5},
            "action": {"type": "expire"}
        })
    }

    #[test]
    fn priorities_must_be_unique_and_any_last() {
        let ok = json!({"rules": [rule(1, "tagged"), rule(2, "any")]}).to_string();
        assert!(validate(&ok).is_ok());
        let dup = json!({"rules": [rule(1, "tagged"), rule(1, "untagged")]}).to_string();
        assert!(validate(&dup).is_err());
        let any_first = json!({"rules": [rule(1, "any"), rule(2, "tagged")]}).to_string();
        assert!(validate(&any_first).is_err());
    }
}
