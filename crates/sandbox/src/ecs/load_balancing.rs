//! Service tasks in their target groups: ECS registers a service task in the target groups of its
//! `loadBalancers` once it runs, and deregisters it when it is asked to stop, so `DescribeTargetHealth` shows
//! the service's tasks without anyone registering them by hand ("Use load balancing to distribute Amazon ECS
//! service traffic", ECS developer guide). A CodeDeploy replacement task set registers in the green group.
//!
//! Every task here is awsvpc, so only `ip` target groups receive targets (the task's private IP and the
//! container port); `instance` groups stay empty, since the sandbox has no container instances.

use std::collections::BTreeSet;

use serde_json::Value;

use super::EcsState;
use super::services::{Deployment, Service};
use crate::elbv2::{ElbState, Target};

/// (target group ARN, private IP, port).
pub type Registration = (String, String, u16);

/// The (target group name or ARN, container port) pairs a deployment's tasks belong in.
fn target_groups(s: &Service, d: &Deployment) -> Vec<(String, u16)> {
    let entries: Vec<(String, u16)> = s
        .load_balancers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|lb| {
            let tg = lb.get("targetGroupArn").and_then(Value::as_str)?;
            let port = lb.get("containerPort").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok())?;
            Some((tg.to_owned(), port))
        })
        .collect();
    match d.task_set.as_ref().and_then(|t| t.target_group.clone()).or_else(|| d.target_group.clone()) {
        Some(own) => entries.first().map(|(_, port)| vec![(own, *port)]).unwrap_or_default(),
        None => entries,
    }
}

/// Brings the target groups in line with the running service tasks; cheap when nothing changed.
pub fn sync(ecs: &mut EcsState, elb: &mut ElbState) {
    let mut wanted: BTreeSet<Registration> = BTreeSet::new();
    for t in ecs.tasks.values().filter(|t| t.last_status == "RUNNING" && t.desired_status == "RUNNING") {
        let (Some(service), Some(deployment)) = (&t.service, &t.deployment_id) else { continue };
        let Some(s) = ecs.service(&t.cluster, service) else { continue };
        let Some(d) = s.deployments.iter().find(|d| &d.id == deployment) else { continue };
        for (group, port) in target_groups(s, d) {
            let Some(tg) = elb.target_group(&group).or_else(|| elb.target_group_by_name(&group)) else { continue };
            if tg.target_type == "ip" {
                wanted.insert((tg.arn.clone(), t.eni.private_ip.clone(), port));
            }
        }
    }
    if wanted == ecs.registered {
        return;
    }
    for (arn, ip, port) in ecs.registered.difference(&wanted) {
        if let Some(tg) = elb.target_groups.iter_mut().find(|g| &g.arn == arn) {
            tg.targets.retain(|t| !(t.id == *ip && t.port == Some(*port)));
        }
    }
    for (arn, ip, port) in wanted.difference(&ecs.registered) {
        if let Some(tg) = elb.target_groups.iter_mut().find(|g| &g.arn == arn) {
            let target = Target { id: ip.clone(), port: Some(*port) };
            if !tg.targets.contains(&target) {
                tg.targets.push(target);
            }
        }
    }
    ecs.registered = wanted;
}
