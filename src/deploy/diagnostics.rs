//! After a failed deploy: what the user needs to see, gathered in one place. Best effort: a
//! diagnostics call that fails adds a line saying so, it never hides the original error.

use super::service::{ServiceInfo, describe};
use crate::aws::Aws;

/// The service's latest events and its recently stopped tasks with their reasons and exit codes.
pub async fn gather(aws: &Aws, svc: &ServiceInfo) -> Vec<String> {
    let mut lines = Vec::new();
    match describe(&aws.ecs, &svc.cluster, &svc.name).await {
        Ok(now) => {
            lines.push(format!("{}/{} now runs {}", now.cluster, now.name, now.task_definition));
            lines.extend(now.events.iter().take(5).map(|e| format!("event: {e}")));
        }
        Err(e) => lines.push(format!("could not describe the service: {e}")),
    }
    lines.extend(stopped_tasks(aws, svc).await);
    lines
}

async fn stopped_tasks(aws: &Aws, svc: &ServiceInfo) -> Vec<String> {
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(&svc.cluster)
        .service_name(&svc.name)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .max_results(5)
        .send()
        .await;
    let arns = match listed {
        Ok(out) if !out.task_arns().is_empty() => out.task_arns().to_vec(),
        Ok(_) => return Vec::new(),
        Err(e) => return vec![format!("could not list stopped tasks: {e}")],
    };
    let described = aws.ecs.describe_tasks().cluster(&svc.cluster).set_tasks(Some(arns)).send().await;
    let Ok(out) = described else { return vec!["could not describe stopped tasks".into()] };
    out.tasks()
        .iter()
        .map(|t| {
            let containers: Vec<String> = t
                .containers()
                .iter()
                .map(|c| {
                    let exit = c.exit_code().map(|x| format!("exit {x}")).unwrap_or_else(|| "no exit code".into());
                    let reason = c.reason().map(|r| format!(", {r}")).unwrap_or_default();
                    format!("{} {exit}{reason}", c.name().unwrap_or("?"))
                })
                .collect();
            format!(
                "stopped task {}: {} ({}) [{}]",
                t.task_arn().and_then(|a| a.rsplit('/').next()).unwrap_or("?"),
                t.stop_code().map(|c| c.as_str()).unwrap_or("-"),
                t.stopped_reason().unwrap_or("no reason"),
                containers.join("; ")
            )
        })
        .collect()
}
