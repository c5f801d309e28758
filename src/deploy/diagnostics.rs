//! After a failed deploy: what the user needs to see, gathered in one place, and only what belongs
//! to this deployment: service events, stopped tasks and CodeDeploy errors from its start on (an
//! earlier deployment's ALARM_ACTIVE is not this one's). Best effort: a diagnostics call that fails
//! adds a line saying so, it never hides the original error.

use std::time::SystemTime;

use super::codedeploy::CodeDeploySettings;
use crate::aws::Aws;
use crate::ecs::service::ServiceInfo;

/// The service's events since `since`, the tasks stopped since then with their reasons and exit
/// codes, and for CodeDeploy this deployment's error and failed lifecycle events.
pub async fn gather(
    aws: &Aws,
    svc: &ServiceInfo,
    codedeploy: Option<&CodeDeploySettings>,
    since: SystemTime,
) -> Vec<String> {
    let since = aws_smithy_types::DateTime::from(since).as_secs_f64();
    let mut lines = Vec::new();
    match aws.ecs.describe_services().cluster(&svc.cluster).services(&svc.name).send().await {
        Ok(out) => {
            if let Some(now) = out.services().first() {
                lines.push(format!("{}/{} now runs {}", svc.cluster, svc.name, now.task_definition().unwrap_or("?")));
                let events = now
                    .events()
                    .iter()
                    .filter(|e| e.created_at().is_some_and(|t| t.as_secs_f64() >= since))
                    .filter_map(|e| e.message());
                lines.extend(events.take(5).map(|e| format!("event: {e}")));
            }
        }
        Err(e) => lines
            .push(format!("could not describe the service: {}", crate::Error::aws("DescribeServices", &svc.name, e))),
    }
    lines.extend(stopped_tasks(aws, svc, since).await);
    if let Some(cd) = codedeploy {
        lines.extend(codedeploy_failure(aws, svc, cd, since).await);
    }
    lines
}

/// This release's deployment (the first of the group created since it started): its
/// errorInformation and its failed lifecycle events.
async fn codedeploy_failure(aws: &Aws, svc: &ServiceInfo, cd: &CodeDeploySettings, since: f64) -> Vec<String> {
    let listed = aws
        .codedeploy
        .list_deployments()
        .application_name(&cd.application)
        .deployment_group_name(&cd.deployment_group)
        .send()
        .await;
    let ids: Vec<String> = listed.map(|l| l.deployments().to_vec()).unwrap_or_default();
    // Ours is the first deployment created since the release started (a rollback after it has no error).
    let mut failed: Option<(f64, String, String)> = None;
    for id in ids.iter().take(10) {
        let Ok(out) = aws.codedeploy.get_deployment().deployment_id(id).send().await else { continue };
        let Some(info) = out.deployment_info() else { continue };
        let created = info.create_time().map(|t| t.as_secs_f64()).unwrap_or(0.0);
        if created < since || info.creator().is_some_and(|c| c.as_str() == "codeDeployRollback") {
            continue;
        }
        let Some(e) = info.error_information() else { continue };
        if failed.as_ref().is_none_or(|(t, _, _)| created < *t) {
            let code = e.code().map(|c| c.as_str()).unwrap_or("UNKNOWN");
            failed = Some((created, id.clone(), format!("{code}: {}", e.message().unwrap_or("no message"))));
        }
    }
    let Some((_, id, error)) = failed else { return Vec::new() };
    let mut lines = vec![format!("CodeDeploy {id}: {error}")];
    let target = format!("{}:{}", svc.cluster, svc.name);
    if let Ok(out) = aws.codedeploy.get_deployment_target().deployment_id(&id).target_id(target).send().await {
        let events =
            out.deployment_target().and_then(|t| t.ecs_target()).map(|t| t.lifecycle_events()).unwrap_or_default();
        for event in events.iter().filter(|e| e.status().map(|s| s.as_str()) == Some("Failed")) {
            let detail = event.diagnostics().and_then(|d| d.message()).unwrap_or("no diagnostics");
            lines.push(format!("lifecycle event {} failed: {detail}", event.lifecycle_event_name().unwrap_or("?")));
        }
    }
    lines
}

async fn stopped_tasks(aws: &Aws, svc: &ServiceInfo, since: f64) -> Vec<String> {
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(&svc.cluster)
        .service_name(&svc.name)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .max_results(20)
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
        // Only tasks this deployment started (an earlier release's crashes are not its diagnostics).
        .filter(|t| t.created_at().is_none_or(|c| c.as_secs_f64() >= since))
        .take(5)
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
