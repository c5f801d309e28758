//! Listener rules (CreateRule, DescribeRules, ModifyRule, DeleteRule): a priority, conditions and forward
//! actions with weights. ECS-native blue/green shifts traffic by rewriting the weights of the production and
//! test listener rules (REFERENCE 2.6), and the `--tasks docker` load-balancer stand-in routes by them.

use super::model::{Action, ElbState, Rule, RuleCondition, members};
use super::{actions, parse_num, random_id, required, validation};
use crate::protocol::query::{Params, list};
use crate::{AwsError, AwsResult};

fn rule_not_found(arn: &str) -> AwsError {
    AwsError::client("RuleNotFound", format!("Rule '{arn}' not found"))
}

/// `Conditions.member.N`: a field and its values, given flat (`Values`) or in the field's own config.
fn conditions(params: &Params) -> AwsResult<Vec<RuleCondition>> {
    let mut out = Vec::new();
    for i in 1.. {
        let p = format!("Conditions.member.{i}");
        let Some(field) = params.get(&format!("{p}.Field")) else { break };
        let mut values = list(params, &format!("{p}.Values"));
        for config in ["PathPatternConfig", "HostHeaderConfig", "HttpRequestMethodConfig"] {
            values.extend(list(params, &format!("{p}.{config}.Values")));
        }
        if values.is_empty() {
            return Err(validation(format!("A condition on '{field}' needs at least one value")));
        }
        if !["path-pattern", "host-header", "http-request-method", "http-header", "query-string", "source-ip"]
            .contains(&field.as_str())
        {
            return Err(validation(format!("Condition field '{field}' is not valid")));
        }
        out.push(RuleCondition { field: field.clone(), values });
    }
    Ok(out)
}

pub(super) fn create(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let listener_arn = required(params, "ListenerArn")?.to_owned();
    if elb.listener(&listener_arn).is_none() {
        return Err(AwsError::client("ListenerNotFound", format!("Listener '{listener_arn}' not found")));
    }
    let priority: u32 = parse_num(params, "Priority")?.ok_or_else(|| validation("Priority is required"))?;
    if !(1..=50_000).contains(&priority) {
        return Err(validation("Priority must be between 1 and 50000"));
    }
    if elb.rules.iter().any(|r| r.listener_arn == listener_arn && r.priority == priority) {
        return Err(AwsError::client("PriorityInUse", format!("Priority '{priority}' is currently in use")));
    }
    let conditions = conditions(params)?;
    if conditions.is_empty() {
        return Err(validation("A rule needs at least one condition"));
    }
    let actions = actions(elb, params, "Actions")?;
    if actions.is_empty() {
        return Err(validation("A rule needs at least one action"));
    }
    // listener-rule/app/<lb name>/<lb id>/<listener id>/<rule id>
    let arn = format!("{}/{}", listener_arn.replacen(":listener/", ":listener-rule/", 1), random_id());
    let rule = Rule { arn, listener_arn, priority, conditions, actions };
    let xml = rule.to_xml();
    elb.rules.push(rule);
    Ok(members("Rules", [xml]))
}

pub(super) fn describe(elb: &ElbState, params: &Params) -> AwsResult<String> {
    let arns = list(params, "RuleArns");
    if !arns.is_empty() {
        let mut found = Vec::new();
        for a in &arns {
            found.push(elb.rule(a).ok_or_else(|| rule_not_found(a))?.to_xml());
        }
        return Ok(members("Rules", found));
    }
    let listener_arn = params
        .get("ListenerArn")
        .ok_or_else(|| validation("You must specify either listener rule ARNs or a listener ARN"))?;
    let listener =
        elb.listener(listener_arn).ok_or_else(|| AwsError::client("ListenerNotFound", "Listener not found"))?;
    let mut rules: Vec<&Rule> = elb.rules.iter().filter(|r| &r.listener_arn == listener_arn).collect();
    rules.sort_by_key(|r| r.priority);
    let mut out: Vec<String> = rules.iter().map(|r| r.to_xml()).collect();
    // The default rule: the listener's default actions, last, with priority `default`.
    let default_arn = format!("{}/default", listener_arn.replacen(":listener/", ":listener-rule/", 1));
    out.push(Rule::xml_of(&default_arn, "default", &[], &listener.default_actions, true));
    Ok(members("Rules", out))
}

pub(super) fn modify(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let arn = required(params, "RuleArn")?.to_owned();
    if elb.rule(&arn).is_none() {
        return Err(rule_not_found(&arn));
    }
    let new_actions: Vec<Action> = actions(elb, params, "Actions")?;
    let new_conditions = conditions(params)?;
    let rule = elb.rules.iter_mut().find(|r| r.arn == arn).ok_or_else(|| rule_not_found(&arn))?;
    if !new_actions.is_empty() {
        rule.actions = new_actions;
    }
    if !new_conditions.is_empty() {
        rule.conditions = new_conditions;
    }
    Ok(members("Rules", [rule.to_xml()]))
}

pub(super) fn delete(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let arn = required(params, "RuleArn")?.to_owned();
    if elb.rule(&arn).is_none() {
        return Err(rule_not_found(&arn));
    }
    elb.rules.retain(|r| r.arn != arn);
    Ok(String::new())
}
