//! `wait: false`: start the deployment and leave it to AWS's own alarms, which is allowed only
//! when AWS itself keeps watching: the guard alarms attached to the CodeDeploy deployment with
//! auto-rollback on alarm (the tool attaches them on CreateDeployment, REFERENCE 3.8), or ECS
//! deployment alarms and the circuit breaker, both with rollback, on the service (REFERENCE 2.4).

use super::plan::DeployPlan;
use super::strategy::Strategy;
use crate::Error;
use crate::ecs::service::ServiceInfo;
use crate::report::{Reporter, Stage};

/// Who watches a deployment the tool does not wait for, or why nobody would.
pub fn watcher(strategy: Strategy, svc: &ServiceInfo, guard_alarms: &[String]) -> Result<String, String> {
    match strategy {
        Strategy::CodeDeploy if guard_alarms.is_empty() => {
            Err("no guard alarm would be attached to the CodeDeploy deployment".into())
        }
        Strategy::CodeDeploy => Ok(format!(
            "CodeDeploy watches {} and rolls back on ALARM (DEPLOYMENT_STOP_ON_ALARM)",
            guard_alarms.join(", ")
        )),
        Strategy::Rolling | Strategy::EcsBlueGreen | Strategy::EcsLinear | Strategy::EcsCanary => {
            let alarms = svc.deployment_alarms.as_ref().filter(|a| a.enable && a.rollback && !a.names.is_empty());
            let breaker = svc.circuit_breaker.filter(|b| b.enable && b.rollback);
            match (alarms, breaker) {
                (Some(a), Some(_)) => Ok(format!(
                    "ECS watches {} (deployment alarms with rollback) and the circuit breaker rolls back failing tasks",
                    a.names.join(", ")
                )),
                (None, _) => Err(format!(
                    "{}/{} has no deployment alarms with rollback (deploymentConfiguration.alarms)",
                    svc.cluster, svc.name
                )),
                (_, None) => Err(format!(
                    "{}/{} has no circuit breaker with rollback (deploymentConfiguration.deploymentCircuitBreaker)",
                    svc.cluster, svc.name
                )),
            }
        }
    }
}

/// At plan time: `wait: false` is refused when nothing would watch the deployment.
pub fn check(plan: &DeployPlan) -> Result<(), Error> {
    if plan.watch.wait {
        return Ok(());
    }
    watcher(plan.strategy, &plan.service, &plan.alarms)
        .map(|_| ())
        .map_err(|reason| Error::Unwatched { environment: plan.environment.clone(), reason })
}

/// After the start: who watches, until when, and how to learn the end.
pub fn report(plan: &DeployPlan, deployment: &str, reporter: &mut Reporter) {
    let who = watcher(plan.strategy, &plan.service, &plan.alarms).unwrap_or_default();
    let until = time::OffsetDateTime::now_utc() + plan.watch.timeout;
    let until = until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    reporter.finished(
        Stage::Deploy,
        format!(
            "deployment {deployment} started and left to AWS (wait: false): {who} until it ends (expected before \
             {until}); `pipeline status -e {}` tells how it ended",
            plan.environment
        ),
    );
}

/// How the service's latest deployment ended (or that it still runs), for `pipeline status`: the
/// answer to a release started with `wait: false`. The flag says whether it was rolled back.
pub async fn latest(
    aws: &crate::aws::Aws,
    svc: &ServiceInfo,
    codedeploy: Option<&super::codedeploy::CodeDeploySettings>,
) -> Result<Option<(String, bool)>, Error> {
    if let Some(cd) = codedeploy {
        let listed = aws
            .codedeploy
            .list_deployments()
            .application_name(&cd.application)
            .deployment_group_name(&cd.deployment_group)
            .send()
            .await
            .map_err(|e| Error::aws("ListDeployments", &cd.deployment_group, e))?;
        for id in listed.deployments().iter().take(5) {
            let out = aws
                .codedeploy
                .get_deployment()
                .deployment_id(id)
                .send()
                .await
                .map_err(|e| Error::aws("GetDeployment", id, e))?;
            let Some(d) = out.deployment_info() else { continue };
            if d.creator().is_some_and(|c| c.as_str() == "codeDeployRollback") {
                continue;
            }
            let status = d.status().map_or("unknown", |s| s.as_str());
            let error = d
                .error_information()
                .map(|e| format!(" ({}: {})", e.code().map_or("?", |c| c.as_str()), e.message().unwrap_or_default()))
                .unwrap_or_default();
            let rollback = d.rollback_info().and_then(|r| r.rollback_deployment_id());
            let rolled = rollback.is_some();
            let tail = rollback.map(|r| format!(", rolled back by {r}")).unwrap_or_default();
            return Ok(Some((format!("CodeDeploy deployment {id}: {status}{error}{tail}"), rolled)));
        }
        return Ok(None);
    }
    let listed = aws
        .ecs
        .list_service_deployments()
        .cluster(&svc.cluster)
        .service(&svc.name)
        .send()
        .await
        .map_err(|e| Error::aws("ListServiceDeployments", &svc.name, e))?;
    let newest = listed.service_deployments().iter().max_by(|a, b| {
        let t = |d: &aws_sdk_ecs::types::ServiceDeploymentBrief| d.created_at().map_or(0.0, |t| t.as_secs_f64());
        t(a).total_cmp(&t(b))
    });
    let Some(d) = newest else { return Ok(None) };
    let status = d.status().map_or("unknown", |s| s.as_str());
    let reason = d.status_reason().map(|r| format!(" ({r})")).unwrap_or_default();
    let rolled = status.starts_with("ROLLBACK_");
    Ok(Some((format!("ECS deployment {}: {status}{reason}", d.service_deployment_arn().unwrap_or("?")), rolled)))
}
