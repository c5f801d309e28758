//! Elastic Load Balancing v2 over the Query protocol (API version 2015-12-01): load balancers, target groups,
//! listeners and listener rules with weighted forward actions, target registration. Nothing routes real traffic; the state is
//! what CodeDeploy shifts and what alarm dimensions are derived from (REFERENCE 3.5, 4.1).

pub mod model;
mod rules;

use crate::protocol::query::{Params, el, list};
use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx, World};
use model::members;
pub use model::{
    Action, ElbState, Listener, LoadBalancer, Rule, RuleCondition, Target, TargetGroup, load_balancer_dimension,
    target_group_dimension,
};

pub const API_VERSION: &str = "2015-12-01";
const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

pub fn handle(w: &mut World, ctx: &Ctx, action: &str, params: &Params) -> AwsResult<String> {
    let elb = &mut w.elbv2;
    let result = match action {
        "CreateLoadBalancer" => create_load_balancer(elb, ctx, params)?,
        "DescribeLoadBalancers" => describe_load_balancers(elb, params)?,
        "DeleteLoadBalancer" => delete_load_balancer(elb, params)?,
        "CreateTargetGroup" => create_target_group(elb, ctx, params)?,
        "DescribeTargetGroups" => describe_target_groups(elb, params)?,
        "DeleteTargetGroup" => delete_target_group(elb, params)?,
        "CreateListener" => create_listener(elb, params)?,
        "DescribeListeners" => describe_listeners(elb, params)?,
        "ModifyListener" => modify_listener(elb, params)?,
        "DeleteListener" => delete_listener(elb, params)?,
        "RegisterTargets" => register_targets(elb, params, true)?,
        "DeregisterTargets" => register_targets(elb, params, false)?,
        "DescribeTargetHealth" => describe_target_health(elb, params)?,
        "CreateRule" => rules::create(elb, params)?,
        "DescribeRules" => rules::describe(elb, params)?,
        "ModifyRule" => rules::modify(elb, params)?,
        "DeleteRule" => rules::delete(elb, params)?,
        other => return Err(AwsError::not_implemented("elbv2", other)),
    };
    Ok(format!(
        "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>\
         <ResponseMetadata>{}</ResponseMetadata></{action}Response>",
        el("RequestId", &uuid::Uuid::new_v4().to_string())
    ))
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationError", message)
}

fn required<'a>(params: &'a Params, name: &str) -> AwsResult<&'a str> {
    params.get(name).map(String::as_str).filter(|s| !s.is_empty()).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn parse_num<T: std::str::FromStr>(params: &Params, name: &str) -> AwsResult<Option<T>> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| validation(format!("'{v}' is not a valid value for {name}"))),
    }
}

/// Load balancer and target group names: 1-32 alphanumerics or hyphens, no hyphen at either end.
fn check_name(kind: &str, name: &str) -> AwsResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "{kind} name '{name}' must be 1-32 alphanumeric characters or hyphens, and must not begin or end with a hyphen"
        )))
    }
}

fn random_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn create_load_balancer(elb: &mut ElbState, ctx: &Ctx, params: &Params) -> AwsResult<String> {
    let name = required(params, "Name")?;
    check_name("Load balancer", name)?;
    if name.starts_with("internal-") {
        return Err(validation("Load balancer names cannot start with 'internal-'"));
    }
    // Creating an existing load balancer again is idempotent, as in AWS.
    if let Some(existing) = elb.load_balancer_by_name(name) {
        return Ok(members("LoadBalancers", [existing.to_xml()]));
    }
    let lb_type = params.get("Type").cloned().unwrap_or_else(|| "application".into());
    let prefix = match lb_type.as_str() {
        "application" => "app",
        "network" => "net",
        "gateway" => "gwy",
        other => return Err(validation(format!("Load balancer type '{other}' is not valid"))),
    };
    let scheme = params.get("Scheme").cloned().unwrap_or_else(|| "internet-facing".into());
    let arn = ctx.arn("elasticloadbalancing", &format!("loadbalancer/{prefix}/{name}/{}", random_id()));
    let internal = if scheme == "internal" { "internal-" } else { "" };
    let lb = LoadBalancer {
        dns_name: format!(
            "{internal}{name}-{}.{}.elb.amazonaws.com",
            rand::random::<u32>() % 1_000_000_000,
            ctx.region
        ),
        arn,
        name: name.to_owned(),
        scheme,
        lb_type,
        vpc_id: "vpc-sandbox".into(),
        subnets: list(params, "Subnets"),
        security_groups: list(params, "SecurityGroups"),
        ip_address_type: params.get("IpAddressType").cloned().unwrap_or_else(|| "ipv4".into()),
        created: now_epoch(),
    };
    let xml = lb.to_xml();
    elb.load_balancers.push(lb);
    Ok(members("LoadBalancers", [xml]))
}

fn describe_load_balancers(elb: &ElbState, params: &Params) -> AwsResult<String> {
    let names = list(params, "Names");
    let arns = list(params, "LoadBalancerArns");
    let found: Vec<&LoadBalancer> = if !names.is_empty() {
        let missing: Vec<&String> = names.iter().filter(|n| elb.load_balancer_by_name(n).is_none()).collect();
        if !missing.is_empty() {
            return Err(AwsError::client("LoadBalancerNotFound", format!("Load balancers '{missing:?}' not found")));
        }
        names.iter().filter_map(|n| elb.load_balancer_by_name(n)).collect()
    } else if !arns.is_empty() {
        let missing: Vec<&String> = arns.iter().filter(|a| elb.load_balancer(a).is_none()).collect();
        if !missing.is_empty() {
            return Err(AwsError::client("LoadBalancerNotFound", format!("Load balancers '{missing:?}' not found")));
        }
        arns.iter().filter_map(|a| elb.load_balancer(a)).collect()
    } else {
        elb.load_balancers.iter().collect()
    };
    Ok(members("LoadBalancers", found.iter().map(|l| l.to_xml())))
}

fn delete_load_balancer(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let arn = required(params, "LoadBalancerArn")?.to_owned();
    // Deleting a load balancer deletes its listeners; an unknown ARN is not an error in AWS.
    elb.load_balancers.retain(|l| l.arn != arn);
    elb.listeners.retain(|l| l.load_balancer_arn != arn);
    Ok(String::new())
}

fn create_target_group(elb: &mut ElbState, ctx: &Ctx, params: &Params) -> AwsResult<String> {
    let name = required(params, "Name")?;
    check_name("Target group", name)?;
    let target_type = params.get("TargetType").cloned().unwrap_or_else(|| "instance".into());
    if !["instance", "ip", "lambda", "alb"].contains(&target_type.as_str()) {
        return Err(validation(format!("Target type '{target_type}' is not valid")));
    }
    let protocol = params.get("Protocol").cloned();
    let port: Option<u16> = parse_num(params, "Port")?;
    let vpc_id = params.get("VpcId").cloned();
    if target_type != "lambda" {
        if protocol.is_none() {
            return Err(validation("A protocol must be specified"));
        }
        if port.is_none() {
            return Err(validation("A port must be specified"));
        }
        if vpc_id.is_none() {
            return Err(validation("A VPC ID must be specified"));
        }
    }
    if let Some(existing) = elb.target_group_by_name(name) {
        // Same settings: idempotent; different ones: the name is taken.
        if existing.protocol == protocol && existing.port == port && existing.vpc_id == vpc_id {
            let lbs = elb.load_balancers_of_target_group(&existing.arn);
            return Ok(members("TargetGroups", [existing.to_xml(&lbs)]));
        }
        return Err(AwsError::client(
            "DuplicateTargetGroupName",
            format!("A target group with the same name '{name}' exists, but with different settings"),
        ));
    }
    let http = matches!(protocol.as_deref(), Some("HTTP" | "HTTPS") | None);
    let health_check_protocol = params.get("HealthCheckProtocol").cloned().unwrap_or_else(|| {
        protocol.clone().filter(|_| !http).unwrap_or_else(|| protocol.clone().unwrap_or_else(|| "HTTP".into()))
    });
    let tg = TargetGroup {
        arn: ctx.arn("elasticloadbalancing", &format!("targetgroup/{name}/{}", random_id())),
        name: name.to_owned(),
        protocol,
        port,
        vpc_id,
        target_type,
        health_check_protocol,
        health_check_port: params.get("HealthCheckPort").cloned().unwrap_or_else(|| "traffic-port".into()),
        health_check_path: params.get("HealthCheckPath").cloned().or_else(|| http.then(|| "/".into())),
        health_check_enabled: params.get("HealthCheckEnabled").is_none_or(|v| v != "false"),
        health_check_interval: parse_num(params, "HealthCheckIntervalSeconds")?.unwrap_or(30),
        health_check_timeout: parse_num(params, "HealthCheckTimeoutSeconds")?.unwrap_or(5),
        healthy_threshold: parse_num(params, "HealthyThresholdCount")?.unwrap_or(5),
        unhealthy_threshold: parse_num(params, "UnhealthyThresholdCount")?.unwrap_or(2),
        matcher: params.get("Matcher.HttpCode").cloned().unwrap_or_else(|| "200".into()),
        targets: Vec::new(),
    };
    let xml = tg.to_xml(&[]);
    elb.target_groups.push(tg);
    Ok(members("TargetGroups", [xml]))
}

fn target_group_not_found(what: impl std::fmt::Display) -> AwsError {
    AwsError::client("TargetGroupNotFound", format!("Target groups '{what}' not found"))
}

fn describe_target_groups(elb: &ElbState, params: &Params) -> AwsResult<String> {
    let names = list(params, "Names");
    let arns = list(params, "TargetGroupArns");
    let found: Vec<&TargetGroup> = if !names.is_empty() {
        if let Some(missing) = names.iter().find(|n| elb.target_group_by_name(n).is_none()) {
            return Err(target_group_not_found(missing));
        }
        names.iter().filter_map(|n| elb.target_group_by_name(n)).collect()
    } else if !arns.is_empty() {
        if let Some(missing) = arns.iter().find(|a| elb.target_group(a).is_none()) {
            return Err(target_group_not_found(missing));
        }
        arns.iter().filter_map(|a| elb.target_group(a)).collect()
    } else if let Some(lb_arn) = params.get("LoadBalancerArn") {
        if elb.load_balancer(lb_arn).is_none() {
            return Err(AwsError::client("LoadBalancerNotFound", format!("Load balancer '{lb_arn}' not found")));
        }
        elb.target_groups.iter().filter(|t| elb.load_balancers_of_target_group(&t.arn).contains(lb_arn)).collect()
    } else {
        elb.target_groups.iter().collect()
    };
    Ok(members("TargetGroups", found.iter().map(|t| t.to_xml(&elb.load_balancers_of_target_group(&t.arn)))))
}

fn delete_target_group(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let arn = required(params, "TargetGroupArn")?.to_owned();
    if let Some(listener) = elb.listeners_of_target_group(&arn).first() {
        return Err(AwsError::client(
            "ResourceInUse",
            format!("Target group '{arn}' is currently in use by a listener or a rule ({})", listener.arn),
        ));
    }
    elb.target_groups.retain(|t| t.arn != arn);
    Ok(String::new())
}

/// Reads `<prefix>.member.N.*` (`DefaultActions` of a listener, `Actions` of a rule); forward actions must
/// name existing target groups.
fn actions(elb: &ElbState, params: &Params, prefix: &str) -> AwsResult<Vec<Action>> {
    let mut out = Vec::new();
    for i in 1.. {
        let p = format!("{prefix}.member.{i}");
        let Some(kind) = params.get(&format!("{p}.Type")) else { break };
        let order = parse_num(params, &format!("{p}.Order"))?;
        let single = params.get(&format!("{p}.TargetGroupArn")).cloned();
        let mut forward = Vec::new();
        for j in 1.. {
            let t = format!("{p}.ForwardConfig.TargetGroups.member.{j}");
            let Some(arn) = params.get(&format!("{t}.TargetGroupArn")) else { break };
            let weight: u32 = parse_num(params, &format!("{t}.Weight"))?.unwrap_or(1);
            if weight > 999 {
                return Err(validation("Target group weights must be between 0 and 999"));
            }
            forward.push((arn.clone(), weight));
        }
        if kind == "forward" {
            match (&single, forward.is_empty()) {
                (Some(arn), true) => forward.push((arn.clone(), 1)),
                (Some(arn), false) if forward.len() != 1 || &forward[0].0 != arn => {
                    return Err(validation(
                        "You cannot specify both a target group ARN and a forward config with different target groups",
                    ));
                }
                (None, true) => return Err(validation("A forward action needs a target group")),
                _ => {}
            }
            for (arn, _) in &forward {
                if elb.target_group(arn).is_none() {
                    return Err(target_group_not_found(arn));
                }
            }
        } else if !["redirect", "fixed-response", "authenticate-oidc", "authenticate-cognito", "jwt-validation"]
            .contains(&kind.as_str())
        {
            return Err(validation(format!("Action type '{kind}' is not valid")));
        }
        out.push(Action { kind: kind.clone(), order, forward, single_arn: single.is_some() });
    }
    Ok(out)
}

fn create_listener(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let lb_arn = required(params, "LoadBalancerArn")?;
    let Some(lb) = elb.load_balancer(lb_arn) else {
        return Err(AwsError::client("LoadBalancerNotFound", format!("Load balancer '{lb_arn}' not found")));
    };
    let port: Option<u16> = parse_num(params, "Port")?;
    let protocol = params.get("Protocol").cloned();
    let default_actions = actions(elb, params, "DefaultActions")?;
    if default_actions.is_empty() {
        return Err(validation("A listener needs at least one default action"));
    }
    if let Some(existing) = elb.listeners.iter().find(|l| l.load_balancer_arn == lb_arn && l.port == port) {
        // The same listener again is idempotent; another one on the same port is a duplicate.
        if existing.protocol == protocol && existing.default_actions == default_actions {
            return Ok(members("Listeners", [existing.to_xml()]));
        }
        return Err(AwsError::client(
            "DuplicateListener",
            "A listener already exists on this port for this load balancer",
        ));
    }
    // listener/app/<lb name>/<lb id>/<listener id>
    let arn = lb.arn.replacen(":loadbalancer/", ":listener/", 1);
    let listener = Listener {
        arn: format!("{arn}/{}", random_id()),
        load_balancer_arn: lb_arn.to_owned(),
        port,
        protocol,
        default_actions,
    };
    let xml = listener.to_xml();
    elb.listeners.push(listener);
    Ok(members("Listeners", [xml]))
}

fn describe_listeners(elb: &ElbState, params: &Params) -> AwsResult<String> {
    let arns = list(params, "ListenerArns");
    let found: Vec<&Listener> = if !arns.is_empty() {
        if let Some(missing) = arns.iter().find(|a| elb.listener(a).is_none()) {
            return Err(AwsError::client("ListenerNotFound", format!("Listener '{missing}' not found")));
        }
        arns.iter().filter_map(|a| elb.listener(a)).collect()
    } else if let Some(lb_arn) = params.get("LoadBalancerArn") {
        if elb.load_balancer(lb_arn).is_none() {
            return Err(AwsError::client("LoadBalancerNotFound", format!("Load balancer '{lb_arn}' not found")));
        }
        elb.listeners.iter().filter(|l| &l.load_balancer_arn == lb_arn).collect()
    } else {
        return Err(validation("You must specify either listener ARNs or a load balancer ARN"));
    };
    Ok(members("Listeners", found.iter().map(|l| l.to_xml())))
}

fn modify_listener(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let arn = required(params, "ListenerArn")?.to_owned();
    if elb.listener(&arn).is_none() {
        return Err(AwsError::client("ListenerNotFound", format!("Listener '{arn}' not found")));
    }
    let new_actions = actions(elb, params, "DefaultActions")?;
    let port: Option<u16> = parse_num(params, "Port")?;
    let Some(listener) = elb.listeners.iter_mut().find(|l| l.arn == arn) else {
        return Err(AwsError::client("ListenerNotFound", format!("Listener '{arn}' not found")));
    };
    if !new_actions.is_empty() {
        listener.default_actions = new_actions;
    }
    if port.is_some() {
        listener.port = port;
    }
    if let Some(p) = params.get("Protocol") {
        listener.protocol = Some(p.clone());
    }
    Ok(members("Listeners", [listener.to_xml()]))
}

fn delete_listener(elb: &mut ElbState, params: &Params) -> AwsResult<String> {
    let arn = required(params, "ListenerArn")?.to_owned();
    if elb.listener(&arn).is_none() {
        return Err(AwsError::client("ListenerNotFound", format!("Listener '{arn}' not found")));
    }
    elb.listeners.retain(|l| l.arn != arn);
    // A listener's rules go with it.
    elb.rules.retain(|r| r.listener_arn != arn);
    Ok(String::new())
}

fn targets(params: &Params) -> AwsResult<Vec<Target>> {
    let mut out = Vec::new();
    for i in 1.. {
        let Some(id) = params.get(&format!("Targets.member.{i}.Id")) else { break };
        out.push(Target { id: id.clone(), port: parse_num(params, &format!("Targets.member.{i}.Port"))? });
    }
    Ok(out)
}

fn register_targets(elb: &mut ElbState, params: &Params, register: bool) -> AwsResult<String> {
    let arn = required(params, "TargetGroupArn")?.to_owned();
    let wanted = targets(params)?;
    if wanted.is_empty() {
        return Err(validation("At least one target must be specified"));
    }
    let Some(tg) = elb.target_groups.iter_mut().find(|t| t.arn == arn) else {
        return Err(target_group_not_found(&arn));
    };
    let default_port = tg.port;
    for mut t in wanted {
        t.port = t.port.or(default_port);
        if register {
            if !tg.targets.contains(&t) {
                tg.targets.push(t);
            }
        } else {
            tg.targets.retain(|have| have != &t);
        }
    }
    Ok(String::new())
}

/// Targets are `healthy` once their group serves a load balancer, `unused` otherwise (nothing is probed).
fn describe_target_health(elb: &ElbState, params: &Params) -> AwsResult<String> {
    let arn = required(params, "TargetGroupArn")?;
    let tg = elb.target_group(arn).ok_or_else(|| target_group_not_found(arn))?;
    let asked = targets(params)?;
    let in_use = !elb.listeners_of_target_group(arn).is_empty();
    let shown: Vec<Target> = if asked.is_empty() { tg.targets.clone() } else { asked };
    let rows = shown.iter().map(|t| {
        // Lambda targets have no port: the elements are left out rather than sent empty (they are integers).
        let port = t.port.or(tg.port).map(|p| p.to_string());
        let port_el = |name: &str| port.as_deref().map(|p| el(name, p)).unwrap_or_default();
        let registered = tg.targets.iter().any(|have| have.id == t.id);
        let health = match (registered, in_use) {
            (false, _) => format!(
                "{}{}{}",
                el("State", "unavailable"),
                el("Reason", "Target.NotRegistered"),
                el("Description", "Target is not registered to the target group")
            ),
            (true, false) => format!(
                "{}{}{}",
                el("State", "unused"),
                el("Reason", "Target.NotInUse"),
                el("Description", "Target group is not configured to receive traffic from the load balancer")
            ),
            (true, true) => el("State", "healthy"),
        };
        format!(
            "<Target>{}{}</Target>{}<TargetHealth>{health}</TargetHealth>",
            el("Id", &t.id),
            port_el("Port"),
            port_el("HealthCheckPort")
        )
    });
    Ok(members("TargetHealthDescriptions", rows))
}
