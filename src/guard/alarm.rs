//! The ALB 5xx alarm for a service's target groups (REFERENCE 4.1-4.2): named, dimensioned and
//! upserted by the tool, so every release is guarded without hand-made alarms.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StandardUnit, Statistic};

use crate::Error;
/// The thresholds, as `guard.five-xx` in the config gives them.
pub use crate::config::FiveXx;

/// One alarm to upsert: its name and the (LoadBalancer, TargetGroup) dimension values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlarmSpec {
    pub name: String,
    pub load_balancer: String,
    pub target_group: String,
}

/// `pipeline-<cluster>-<service>-5xx-<target group name>`: stable across releases, one per target group.
pub fn guard_alarm_name(cluster: &str, service: &str, target_group_name: &str) -> String {
    format!("pipeline-{cluster}-{service}-5xx-{target_group_name}")
}

/// CloudWatch dimension values from ARNs: `app/<name>/<id>` (after `loadbalancer/`) and
/// `targetgroup/<name>/<id>` (after the last `:`).
pub fn dimension_values(load_balancer_arn: &str, target_group_arn: &str) -> Option<(String, String)> {
    let lb = load_balancer_arn.split_once(":loadbalancer/")?.1.to_owned();
    let tg = target_group_arn.rsplit(':').next()?.to_owned();
    tg.starts_with("targetgroup/").then_some((lb, tg))
}

/// Upserts the alarm (PutMetricAlarm is idempotent and keeps the alarm's state).
pub async fn ensure_five_xx(cw: &aws_sdk_cloudwatch::Client, spec: &AlarmSpec, limits: &FiveXx) -> Result<(), Error> {
    cw.put_metric_alarm()
        .alarm_name(&spec.name)
        .alarm_description("5xx answered by the service's targets; managed by pipeline, which stops and rolls back a deployment when it fires")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .dimensions(Dimension::builder().name("LoadBalancer").value(&spec.load_balancer).build())
        .dimensions(Dimension::builder().name("TargetGroup").value(&spec.target_group).build())
        .statistic(Statistic::Sum)
        .unit(StandardUnit::Count)
        .period(i32::try_from(limits.period.as_secs()).unwrap_or(60))
        .evaluation_periods(i32::try_from(limits.evaluation_periods).unwrap_or(2))
        .set_datapoints_to_alarm(limits.datapoints_to_alarm.and_then(|d| i32::try_from(d).ok()))
        .threshold(limits.threshold)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        // No traffic means no datapoints, which is not an outage.
        .treat_missing_data("notBreaching")
        .send()
        .await
        .map_err(|e| Error::aws("PutMetricAlarm", &spec.name, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_come_from_the_arn_suffixes() {
        let lb = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web-prod/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web-green/73e2d6bc24d8a067";
        assert_eq!(
            dimension_values(lb, tg),
            Some(("app/web-prod/50dc6c495c0c9188".into(), "targetgroup/web-green/73e2d6bc24d8a067".into()))
        );
        assert_eq!(dimension_values("arn:aws:ec2:x", tg), None);
    }
}
