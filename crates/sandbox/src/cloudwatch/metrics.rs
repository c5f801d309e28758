//! Stored metric datapoints: PutMetricData, GetMetricStatistics, ListMetrics, and the per-period statistics
//! alarms are evaluated on.
//!
//! Time: datapoints carry wall-clock timestamps, and a period of `Period` simulated seconds lasts
//! `ctx.real(Period)` of wall time, so periods are wall-clock buckets of that length (aligned to the epoch).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx};

/// A metric's identity. Dimensions are a set: a query matches only the series with exactly the same set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricKey {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

impl MetricKey {
    pub fn dimensions_json(&self) -> Value {
        Value::Array(self.dimensions.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect())
    }
}

/// One PutMetricData entry, already reduced to a statistic set (plus raw values for percentiles).
#[derive(Debug, Clone)]
pub struct Sample {
    pub t: f64,
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub values: Vec<f64>,
    pub unit: Option<String>,
}

/// A series keeps at most this many samples; older ones are dropped so a long-running sandbox stays small.
const MAX_SAMPLES: usize = 100_000;

#[derive(Debug, Default)]
pub struct MetricStore {
    pub series: BTreeMap<MetricKey, Vec<Sample>>,
}

/// Aggregate of the samples in one period.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub values: Vec<f64>,
}

impl Bucket {
    fn add(&mut self, s: &Sample) {
        if self.count == 0.0 {
            self.min = s.min;
            self.max = s.max;
        } else {
            self.min = self.min.min(s.min);
            self.max = self.max.max(s.max);
        }
        self.count += s.count;
        self.sum += s.sum;
        self.values.extend_from_slice(&s.values);
    }

    /// `Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount` or a percentile `pNN`.
    pub fn statistic(&self, stat: &str) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        match stat {
            "Sum" => Some(self.sum),
            "Average" => Some(self.sum / self.count),
            "Minimum" => Some(self.min),
            "Maximum" => Some(self.max),
            "SampleCount" => Some(self.count),
            p => {
                let pct: f64 = p.strip_prefix('p')?.parse().ok()?;
                if self.values.is_empty() {
                    // Only statistic sets were sent: the maximum is the best bound available.
                    return Some(self.max);
                }
                let mut sorted = self.values.clone();
                sorted.sort_by(f64::total_cmp);
                let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
                sorted.get(rank.saturating_sub(1).min(sorted.len() - 1)).copied()
            }
        }
    }
}

/// Wall-clock length of a period of `period` simulated seconds.
pub fn period_len(ctx: &Ctx, period: u32) -> f64 {
    ctx.real(Duration::from_secs(u64::from(period.max(1)))).as_secs_f64().max(0.001)
}

impl MetricStore {
    pub fn put(&mut self, key: MetricKey, sample: Sample) {
        let series = self.series.entry(key).or_default();
        series.push(sample);
        if series.len() > MAX_SAMPLES {
            series.drain(..series.len() - MAX_SAMPLES);
        }
    }

    /// Aggregates of the periods `[first, last]` (bucket indices of length `len`), oldest first.
    pub fn buckets(&self, key: &MetricKey, len: f64, first: i64, last: i64) -> Vec<Bucket> {
        let n = (last - first + 1).max(0) as usize;
        let mut out = vec![Bucket::default(); n];
        if let Some(series) = self.series.get(key) {
            for s in series {
                let index = (s.t / len).floor() as i64;
                if (first..=last).contains(&index) {
                    out[(index - first) as usize].add(s);
                }
            }
        }
        out
    }
}

fn dimensions_of(value: Option<&Value>) -> AwsResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for d in value.and_then(Value::as_array).into_iter().flatten() {
        let name = d.get("Name").and_then(Value::as_str);
        let val = d.get("Value").and_then(Value::as_str);
        match (name, val) {
            (Some(n), Some(v)) if !n.is_empty() => {
                out.insert(n.to_owned(), v.to_owned());
            }
            _ => return Err(AwsError::client("MissingParameter", "A dimension needs a Name and a Value.")),
        }
    }
    if out.len() > 30 {
        return Err(AwsError::client("InvalidParameterValue", "At most 30 dimensions are allowed."));
    }
    Ok(out)
}

/// Reads `{Namespace, MetricName, Dimensions}` (a `Metric` structure or the flat alarm fields).
pub fn key_of(v: &Value) -> AwsResult<MetricKey> {
    let text = |f: &str| v.get(f).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(MetricKey {
        namespace: text("Namespace")
            .ok_or_else(|| AwsError::client("MissingParameter", "The parameter Namespace is required."))?,
        name: text("MetricName")
            .ok_or_else(|| AwsError::client("MissingParameter", "The parameter MetricName is required."))?,
        dimensions: dimensions_of(v.get("Dimensions"))?,
    })
}

fn number(v: &Value, field: &str) -> Option<f64> {
    v.get(field).and_then(Value::as_f64)
}

/// Turns one `MetricDatum` into a sample; `Value`, `Values`/`Counts` and `StatisticValues` are exclusive.
fn sample_of(d: &Value, now: f64) -> AwsResult<Sample> {
    let t = number(d, "Timestamp").unwrap_or(now);
    let unit = d.get("Unit").and_then(Value::as_str).map(str::to_owned);
    let given =
        ["Value", "Values", "StatisticValues"].iter().filter(|f| d.get(**f).is_some_and(|v| !v.is_null())).count();
    if given > 1 {
        return Err(AwsError::client(
            "InvalidParameterCombination",
            "The parameters MetricData.member.N.Value, MetricData.member.N.Values and MetricData.member.N.StatisticValues are mutually exclusive.",
        ));
    }
    if let Some(value) = number(d, "Value") {
        return Ok(Sample { t, count: 1.0, sum: value, min: value, max: value, values: vec![value], unit });
    }
    if let Some(values) = d.get("Values").and_then(Value::as_array) {
        let values: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
        let counts: Vec<f64> = d
            .get("Counts")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_else(|| vec![1.0; values.len()]);
        if values.is_empty() || counts.len() != values.len() {
            return Err(AwsError::client(
                "InvalidParameterValue",
                "Values must be non-empty and Counts, when given, as long as Values.",
            ));
        }
        let mut s = Sample { t, count: 0.0, sum: 0.0, min: f64::MAX, max: f64::MIN, values: Vec::new(), unit };
        for (v, c) in values.iter().zip(&counts) {
            s.count += c;
            s.sum += v * c;
            s.min = s.min.min(*v);
            s.max = s.max.max(*v);
            // Percentiles weight each value by its count; large counts are capped to keep memory bounded.
            s.values.extend(std::iter::repeat_n(*v, (*c as usize).clamp(1, 1000)));
        }
        return Ok(s);
    }
    if let Some(set) = d.get("StatisticValues") {
        let field = |f: &str| {
            number(set, f).ok_or_else(|| {
                AwsError::client("MissingParameter", format!("The parameter StatisticValues.{f} is required."))
            })
        };
        return Ok(Sample {
            t,
            count: field("SampleCount")?,
            sum: field("Sum")?,
            min: field("Minimum")?,
            max: field("Maximum")?,
            values: Vec::new(),
            unit,
        });
    }
    Err(AwsError::client("MissingParameter", "A metric datum needs Value, Values or StatisticValues."))
}

/// PutMetricData: all data or nothing, as AWS validates the whole request first.
pub fn put_metric_data(store: &mut MetricStore, input: &Value) -> AwsResult<Value> {
    let namespace = input
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AwsError::client("MissingParameter", "The parameter Namespace is required."))?;
    let data = input.get("MetricData").and_then(Value::as_array).cloned().unwrap_or_default();
    if data.is_empty() {
        return Err(AwsError::client("MissingParameter", "The parameter MetricData is required."));
    }
    let now = now_epoch();
    let mut parsed = Vec::with_capacity(data.len());
    for d in &data {
        let mut with_ns = d.clone();
        if let Some(obj) = with_ns.as_object_mut() {
            obj.insert("Namespace".into(), Value::from(namespace));
        }
        parsed.push((key_of(&with_ns)?, sample_of(d, now)?));
    }
    for (key, sample) in parsed {
        store.put(key, sample);
    }
    Ok(json!({}))
}

/// GetMetricStatistics over wall-clock periods of `ctx.real(Period)`.
pub fn get_metric_statistics(store: &MetricStore, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let key = key_of(input)?;
    let period = input.get("Period").and_then(Value::as_u64).unwrap_or(60).clamp(1, u64::from(u32::MAX)) as u32;
    let start = number(input, "StartTime")
        .ok_or_else(|| AwsError::client("MissingParameter", "The parameter StartTime is required."))?;
    let end = number(input, "EndTime")
        .ok_or_else(|| AwsError::client("MissingParameter", "The parameter EndTime is required."))?;
    let stats: Vec<String> = input
        .get("Statistics")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let extended: Vec<String> = input
        .get("ExtendedStatistics")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if stats.is_empty() && extended.is_empty() {
        return Err(AwsError::client("MissingParameter", "Must specify either Statistics or ExtendedStatistics."));
    }
    let len = period_len(ctx, period);
    let first = (start / len).floor() as i64;
    let last = ((end / len).ceil() as i64 - 1).max(first);
    // A pathological range would allocate a bucket per period; AWS caps a response at 1,440 datapoints.
    if last - first > 100_800 {
        return Err(AwsError::client("InvalidParameterCombination", "Too many datapoints requested."));
    }
    let mut datapoints = Vec::new();
    for (i, b) in store.buckets(&key, len, first, last).iter().enumerate() {
        if b.count <= 0.0 {
            continue;
        }
        let mut dp = serde_json::Map::new();
        dp.insert("Timestamp".into(), json!((first + i as i64) as f64 * len));
        for s in &stats {
            if let Some(v) = b.statistic(s) {
                dp.insert(s.clone(), json!(v));
            }
        }
        if !extended.is_empty() {
            let map: serde_json::Map<String, Value> =
                extended.iter().filter_map(|p| b.statistic(p).map(|v| (p.clone(), json!(v)))).collect();
            dp.insert("ExtendedStatistics".into(), Value::Object(map));
        }
        dp.insert("Unit".into(), json!(input.get("Unit").and_then(Value::as_str).unwrap_or("None")));
        datapoints.push(Value::Object(dp));
    }
    Ok(json!({"Label": key.name, "Datapoints": datapoints}))
}

/// ListMetrics: filters by namespace, name and dimensions (a filter without a value matches any value).
pub fn list_metrics(store: &MetricStore, input: &Value) -> AwsResult<Value> {
    let namespace = input.get("Namespace").and_then(Value::as_str);
    let name = input.get("MetricName").and_then(Value::as_str);
    let filters: Vec<(String, Option<String>)> = input
        .get("Dimensions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| {
                    let n = d.get("Name")?.as_str()?.to_owned();
                    Some((n, d.get("Value").and_then(Value::as_str).map(str::to_owned)))
                })
                .collect()
        })
        .unwrap_or_default();
    let metrics: Vec<Value> = store
        .series
        .keys()
        .filter(|k| namespace.is_none_or(|n| n == k.namespace) && name.is_none_or(|n| n == k.name))
        .filter(|k| {
            filters.iter().all(|(n, v)| k.dimensions.get(n).is_some_and(|have| v.as_ref().is_none_or(|v| v == have)))
        })
        .map(|k| json!({"Namespace": k.namespace, "MetricName": k.name, "Dimensions": k.dimensions_json()}))
        .collect();
    Ok(json!({"Metrics": metrics}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_counts_aggregate_and_percentiles_use_them() {
        let s = sample_of(&json!({"Values": [1.0, 10.0], "Counts": [3.0, 1.0]}), 5.0).expect("valid");
        let mut b = Bucket::default();
        b.add(&s);
        assert_eq!(b.statistic("Sum"), Some(13.0));
        assert_eq!(b.statistic("SampleCount"), Some(4.0));
        assert_eq!(b.statistic("p50"), Some(1.0));
        assert_eq!(b.statistic("p99"), Some(10.0));
        assert!(sample_of(&json!({"Value": 1.0, "Values": [1.0]}), 0.0).is_err());
    }
}
