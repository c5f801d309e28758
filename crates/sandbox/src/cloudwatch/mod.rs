//! Amazon CloudWatch alarms and metrics (REFERENCE section 4), served over RPCv2-CBOR (and awsJson1.0).
//!
//! `metrics` stores datapoints, `alarms` holds alarm configuration and the API around it, `evaluate` moves
//! alarms between OK / ALARM / INSUFFICIENT_DATA from the world's tick, `expr` evaluates metric math.

pub mod alarms;
pub mod evaluate;
pub mod expr;
pub mod history;
pub mod metric_data;
pub mod metrics;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx, World};
use alarms::Alarm;
use metrics::{MetricKey, MetricStore, Sample};

#[derive(Debug, Default)]
pub struct CloudWatchState {
    pub alarms: BTreeMap<String, Alarm>,
    pub metrics: MetricStore,
    /// History of deleted alarms: AWS keeps it after the alarm is gone (REFERENCE A2).
    pub deleted_history: Vec<history::HistoryItem>,
}

impl CloudWatchState {
    /// The current state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of an alarm, `None` if it does not exist.
    pub fn alarm_state(&self, name: &str) -> Option<&str> {
        self.alarms.get(name).map(|a| a.state.as_str())
    }

    /// Records one datapoint now, for emulated services that publish metrics themselves (the load-balancer
    /// stand-in publishing `HTTPCode_Target_5XX_Count`, for instance).
    pub fn put_metric(&mut self, namespace: &str, name: &str, dimensions: &[(&str, &str)], value: f64) {
        let key = MetricKey {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions: dimensions.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        };
        let sample =
            Sample { t: now_epoch(), count: 1.0, sum: value, min: value, max: value, values: vec![value], unit: None };
        self.metrics.put(key, sample);
    }
}

pub fn handle(w: &mut World, ctx: &Ctx, op: &str, input: &Value) -> AwsResult<Value> {
    let cw = &mut w.cloudwatch;
    match op {
        "PutMetricAlarm" => alarms::put_metric_alarm(&mut cw.alarms, ctx, input),
        "DescribeAlarms" => alarms::describe_alarms(&cw.alarms, input),
        "SetAlarmState" => alarms::set_alarm_state(&mut cw.alarms, input),
        "DescribeAlarmHistory" => {
            let items = cw.alarms.values().flat_map(|a| a.history.iter()).chain(cw.deleted_history.iter());
            history::describe(items, input)
        }
        "DeleteAlarms" => {
            let names = input.get("AlarmNames").and_then(Value::as_array).cloned().unwrap_or_default();
            let kept: Vec<history::HistoryItem> = names
                .iter()
                .filter_map(|n| cw.alarms.get(n.as_str()?))
                .flat_map(|a| a.history.iter().cloned())
                .collect();
            let out = alarms::delete_alarms(&mut cw.alarms, input)?;
            cw.deleted_history.extend(kept);
            Ok(out)
        }
        "PutMetricData" => metrics::put_metric_data(&mut cw.metrics, input),
        "GetMetricStatistics" => metrics::get_metric_statistics(&cw.metrics, ctx, input),
        "ListMetrics" => metrics::list_metrics(&cw.metrics, input),
        "GetMetricData" => metric_data::get_metric_data(&cw.metrics, ctx, input),
        other => Err(AwsError::not_implemented("cloudwatch", other)),
    }
}

/// Evaluates every alarm whose period has rolled over since its last evaluation.
pub fn tick(w: &mut World, ctx: &Ctx) {
    let now = now_epoch();
    let cw = &mut w.cloudwatch;
    for alarm in cw.alarms.values_mut() {
        evaluate::evaluate(alarm, &cw.metrics, ctx, now);
    }
}
