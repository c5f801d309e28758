//! GetMetricData: metric queries and metric-math expressions over a time range, one value per period.
//! Periods are wall-clock buckets of `ctx.real(Period)`, like alarm evaluation (see `metrics.rs`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::expr::Expr;
use super::metrics::{MetricStore, key_of, period_len};
use crate::{AwsError, AwsResult, Ctx};

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationError", message)
}

enum Query {
    Stat { key: super::metrics::MetricKey, stat: String },
    Math(Expr),
}

pub fn get_metric_data(store: &MetricStore, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let start = input.get("StartTime").and_then(Value::as_f64).ok_or_else(|| validation("StartTime is required."))?;
    let end = input.get("EndTime").and_then(Value::as_f64).ok_or_else(|| validation("EndTime is required."))?;
    if end <= start {
        return Err(validation("The parameter StartTime must be less than the parameter EndTime."));
    }
    let queries = input
        .get("MetricDataQueries")
        .and_then(Value::as_array)
        .filter(|q| !q.is_empty() && q.len() <= 500)
        .ok_or_else(|| validation("MetricDataQueries must hold 1 to 500 queries."))?;

    let mut parsed: BTreeMap<String, Query> = BTreeMap::new();
    let mut returned = Vec::new();
    let mut period: Option<u32> = None;
    for q in queries {
        let id = q
            .get("Id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| validation("Id is required."))?;
        let label = q.get("Label").and_then(Value::as_str).map(str::to_owned);
        let query = match (q.get("MetricStat"), q.get("Expression").and_then(Value::as_str)) {
            (Some(ms), None) => {
                let metric =
                    ms.get("Metric").ok_or_else(|| validation(format!("MetricStat of '{id}' needs a Metric.")))?;
                let p = ms
                    .get("Period")
                    .and_then(Value::as_u64)
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| validation(format!("MetricStat of '{id}' needs a Period.")))?
                    as u32;
                period = Some(period.map_or(p, |q| q.min(p)));
                let stat = ms
                    .get("Stat")
                    .and_then(Value::as_str)
                    .ok_or_else(|| validation(format!("Stat of '{id}' is required.")))?;
                let key = key_of(metric)?;
                let default_label = key.name.clone();
                (Query::Stat { key, stat: stat.to_owned() }, label.unwrap_or(default_label))
            }
            (None, Some(e)) => {
                if let Some(p) = q.get("Period").and_then(Value::as_u64) {
                    period = Some(period.map_or(p as u32, |q| q.min(p as u32)));
                }
                (Query::Math(Expr::parse(e)?), label.unwrap_or_else(|| id.to_owned()))
            }
            _ => return Err(validation(format!("Query '{id}' needs exactly one of MetricStat and Expression."))),
        };
        if q.get("ReturnData").and_then(Value::as_bool).unwrap_or(true) {
            returned.push((id.to_owned(), query.1.clone()));
        }
        parsed.insert(id.to_owned(), query.0);
    }
    let period = period.ok_or_else(|| validation("At least one query needs a Period."))?;
    let len = period_len(ctx, period);
    let first = (start / len).floor() as i64;
    let last = ((end / len).ceil() as i64 - 1).max(first);
    if last - first > 100_800 {
        return Err(validation("Too many datapoints requested."));
    }
    let columns: BTreeMap<&String, Vec<Option<f64>>> = parsed
        .iter()
        .filter_map(|(id, q)| match q {
            Query::Stat { key, stat } => {
                Some((id, store.buckets(key, len, first, last).iter().map(|b| b.statistic(stat)).collect()))
            }
            Query::Math(_) => None,
        })
        .collect();
    let value = |id: &str, i: usize| -> Option<f64> { resolve(id, i, &parsed, &columns, 0) };

    let periods = (last - first + 1) as usize;
    let results: Vec<Value> = returned
        .iter()
        .map(|(id, label)| {
            // Newest first, as GetMetricData's default ScanBy TimestampDescending.
            let (timestamps, values): (Vec<f64>, Vec<f64>) =
                (0..periods).rev().filter_map(|i| value(id, i).map(|v| ((first + i as i64) as f64 * len, v))).unzip();
            json!({"Id": id, "Label": label, "Timestamps": timestamps, "Values": values, "StatusCode": "Complete"})
        })
        .collect();
    Ok(json!({"MetricDataResults": results, "Messages": []}))
}

fn resolve(
    id: &str,
    i: usize,
    parsed: &BTreeMap<String, Query>,
    columns: &BTreeMap<&String, Vec<Option<f64>>>,
    depth: usize,
) -> Option<f64> {
    match parsed.get(id)? {
        Query::Stat { .. } => columns.get(&id.to_owned())?.get(i).copied().flatten(),
        // Depth-limited: expressions may read each other, and a cycle must not recurse forever.
        Query::Math(e) if depth < 10 => e.eval(&|var| resolve(var, i, parsed, columns, depth + 1)),
        Query::Math(_) => None,
    }
}
