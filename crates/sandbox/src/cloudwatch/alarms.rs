//! Metric alarms: PutMetricAlarm (static threshold or metric math), DescribeAlarms, SetAlarmState, DeleteAlarms
//! (REFERENCE 4.2-4.4). Evaluation lives in `evaluate.rs`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::expr::Expr;
use super::metrics::{MetricKey, key_of};
use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx};

/// One metric an alarm reads, with the statistic taken per period.
#[derive(Debug, Clone)]
pub struct MetricQuery {
    pub key: MetricKey,
    pub stat: String,
    pub period: u32,
}

#[derive(Debug, Clone)]
pub enum Source {
    Metric(MetricQuery),
    /// `Metrics[]`: the metric queries by id and the one expression (or metric) with `ReturnData: true`.
    Math {
        queries: BTreeMap<String, MetricQuery>,
        expressions: BTreeMap<String, Expr>,
        result: String,
    },
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub source: Source,
    pub period: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing: String,
}

impl Spec {
    pub fn breaches(&self, v: f64) -> bool {
        match self.comparison.as_str() {
            "GreaterThanOrEqualToThreshold" => v >= self.threshold,
            "GreaterThanThreshold" => v > self.threshold,
            "LessThanThreshold" => v < self.threshold,
            _ => v <= self.threshold,
        }
    }

    /// `greater than`, as the StateReason text words it.
    pub fn comparison_words(&self) -> &'static str {
        match self.comparison.as_str() {
            "GreaterThanOrEqualToThreshold" => "greater than or equal to",
            "GreaterThanThreshold" => "greater than",
            "LessThanThreshold" => "less than",
            _ => "less than or equal to",
        }
    }

    /// The statistic named in StateReasonData (`Sum`), or the math expression's id.
    pub fn statistic_label(&self) -> String {
        match &self.source {
            Source::Metric(q) => q.stat.clone(),
            Source::Math { result, .. } => result.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Alarm {
    pub name: String,
    pub arn: String,
    /// The configuration as the client sent it (minus `Tags`), returned by DescribeAlarms.
    pub config: Map<String, Value>,
    pub spec: Spec,
    pub state: String,
    pub reason: String,
    pub reason_data: Option<String>,
    pub state_updated: f64,
    pub state_transitioned: f64,
    pub config_updated: f64,
    /// The last period index evaluated: alarms are evaluated once per period, like AWS, so a state forced
    /// by SetAlarmState holds until the next evaluation.
    pub last_evaluated: Option<i64>,
}

impl Alarm {
    pub fn set_state(&mut self, state: &str, reason: String, reason_data: Option<String>) {
        let now = now_epoch();
        if self.state != state {
            self.state_transitioned = now;
        }
        self.state = state.to_owned();
        self.reason = reason;
        self.reason_data = reason_data;
        self.state_updated = now;
    }

    pub fn to_json(&self) -> Value {
        let mut out = self.config.clone();
        out.insert("AlarmArn".into(), json!(self.arn));
        out.insert("StateValue".into(), json!(self.state));
        out.insert("StateReason".into(), json!(self.reason));
        if let Some(data) = &self.reason_data {
            out.insert("StateReasonData".into(), json!(data));
        }
        out.insert("StateUpdatedTimestamp".into(), json!(self.state_updated));
        out.insert("StateTransitionedTimestamp".into(), json!(self.state_transitioned));
        out.insert("AlarmConfigurationUpdatedTimestamp".into(), json!(self.config_updated));
        out.entry("ActionsEnabled").or_insert(json!(true));
        for list in ["OKActions", "AlarmActions", "InsufficientDataActions"] {
            out.entry(list).or_insert(json!([]));
        }
        out.entry("Dimensions").or_insert(json!([]));
        Value::Object(out)
    }
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationError", message)
}

fn positive_int(input: &Value, field: &str) -> AwsResult<Option<u32>> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= 1 && *n <= u64::from(u32::MAX))
            .map(|n| Some(n as u32))
            .ok_or_else(|| validation(format!("The parameter {field} must be a positive integer."))),
    }
}

/// AWS accepts periods of 10, 20, 30 seconds or a multiple of 60.
fn check_period(period: u32) -> AwsResult<()> {
    if matches!(period, 10 | 20 | 30) || period.is_multiple_of(60) {
        Ok(())
    } else {
        Err(validation(format!("Period ({period}) must be 10, 20, 30 or a multiple of 60 seconds.")))
    }
}

fn stat_of(input: &Value, stat_field: &str, extended_field: &str) -> AwsResult<String> {
    let stat = input.get(stat_field).and_then(Value::as_str);
    let extended = input.get(extended_field).and_then(Value::as_str);
    match (stat, extended) {
        (Some(s), None) if ["SampleCount", "Average", "Sum", "Minimum", "Maximum"].contains(&s) => Ok(s.to_owned()),
        (Some(s), None) if stat_field == "Stat" && s.starts_with('p') => Ok(s.to_owned()),
        (None, Some(p)) if p.starts_with('p') && p[1..].parse::<f64>().is_ok() => Ok(p.to_owned()),
        (Some(_), Some(_)) => Err(AwsError::client(
            "InvalidParameterCombination",
            format!("Exactly one of {stat_field} and {extended_field} may be given."),
        )),
        (Some(s), None) => Err(validation(format!("Statistic {s} is not supported."))),
        _ => Err(validation(format!("One of {stat_field} or {extended_field} is required."))),
    }
}

fn spec_of(input: &Value) -> AwsResult<Spec> {
    let evaluation_periods = positive_int(input, "EvaluationPeriods")?
        .ok_or_else(|| validation("The parameter EvaluationPeriods is required."))?;
    let datapoints_to_alarm = positive_int(input, "DatapointsToAlarm")?.unwrap_or(evaluation_periods);
    if datapoints_to_alarm > evaluation_periods {
        return Err(validation("DatapointsToAlarm must be less than or equal to EvaluationPeriods."));
    }
    let comparison = input
        .get("ComparisonOperator")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("The parameter ComparisonOperator is required."))?
        .to_owned();
    if !["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"]
        .contains(&comparison.as_str())
    {
        return Err(validation(format!(
            "ComparisonOperator {comparison} is not supported by pipeline-sandbox (anomaly-detection bands are not emulated)."
        )));
    }
    let threshold = input
        .get("Threshold")
        .and_then(Value::as_f64)
        .ok_or_else(|| validation("The parameter Threshold is required."))?;
    let treat_missing = input.get("TreatMissingData").and_then(Value::as_str).unwrap_or("missing").to_owned();
    if !["breaching", "notBreaching", "ignore", "missing"].contains(&treat_missing.as_str()) {
        return Err(validation(format!(
            "TreatMissingData {treat_missing} is not one of breaching, notBreaching, ignore, missing."
        )));
    }

    let metrics = input.get("Metrics").and_then(Value::as_array).filter(|m| !m.is_empty());
    let (source, period) = match metrics {
        None => {
            let period =
                positive_int(input, "Period")?.ok_or_else(|| validation("The parameter Period is required."))?;
            check_period(period)?;
            let stat = stat_of(input, "Statistic", "ExtendedStatistic")?;
            (Source::Metric(MetricQuery { key: key_of(input)?, stat, period }), period)
        }
        Some(metrics) => {
            for flat in ["Namespace", "MetricName", "Dimensions", "Period", "Unit", "Statistic", "ExtendedStatistic"] {
                if input.get(flat).is_some_and(|v| !v.is_null() && v != &json!([])) {
                    return Err(validation(format!("{flat} must not be specified together with Metrics.")));
                }
            }
            math_source(metrics)?
        }
    };
    if u64::from(period) * u64::from(evaluation_periods) > 7 * 24 * 3600 {
        return Err(validation("Period * EvaluationPeriods must not exceed 7 days."));
    }
    Ok(Spec { source, period, evaluation_periods, datapoints_to_alarm, threshold, comparison, treat_missing })
}

fn math_source(metrics: &[Value]) -> AwsResult<(Source, u32)> {
    if metrics.len() > 20 {
        return Err(validation("An alarm can have at most 20 metric queries."));
    }
    let mut queries = BTreeMap::new();
    let mut expressions = BTreeMap::new();
    let mut returned = Vec::new();
    let mut period = None;
    for m in metrics {
        let id = m.get("Id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let valid_id = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_id {
            return Err(validation(format!(
                "Invalid metric query Id '{id}': it must start with a lowercase letter and contain only letters, digits and _."
            )));
        }
        if queries.contains_key(&id) || expressions.contains_key(&id) {
            return Err(validation(format!("Duplicate metric query Id '{id}'.")));
        }
        // ReturnData defaults to true in the API, so an unmarked query counts as returned.
        if m.get("ReturnData").and_then(Value::as_bool).unwrap_or(true) {
            returned.push(id.clone());
        }
        match (m.get("MetricStat"), m.get("Expression").and_then(Value::as_str)) {
            (Some(stat), None) => {
                let metric =
                    stat.get("Metric").ok_or_else(|| validation(format!("MetricStat of '{id}' needs a Metric.")))?;
                let p = positive_int(stat, "Period")?
                    .ok_or_else(|| validation(format!("MetricStat of '{id}' needs a Period.")))?;
                check_period(p)?;
                period = Some(period.map_or(p, |q: u32| q.min(p)));
                let stat_name = stat_of(stat, "Stat", "ExtendedStat")?;
                queries.insert(id, MetricQuery { key: key_of(metric)?, stat: stat_name, period: p });
            }
            (None, Some(expression)) => {
                if let Some(p) = positive_int(m, "Period")? {
                    period = Some(period.map_or(p, |q: u32| q.min(p)));
                }
                expressions.insert(id, Expr::parse(expression)?);
            }
            _ => {
                return Err(validation(format!("Metric query '{id}' needs exactly one of MetricStat and Expression.")));
            }
        }
    }
    if returned.len() != 1 {
        return Err(validation(format!(
            "Exactly one element of the Metrics list must have ReturnData set to true ({} do).",
            returned.len()
        )));
    }
    for (id, e) in &expressions {
        for var in e.vars() {
            if var == *id || !(queries.contains_key(&var) || expressions.contains_key(&var)) {
                return Err(validation(format!("Expression of '{id}' refers to unknown or itself: '{var}'.")));
            }
        }
    }
    let period = period.ok_or_else(|| validation("Metrics must include at least one MetricStat with a Period."))?;
    Ok((Source::Math { queries, expressions, result: returned.remove(0) }, period))
}

pub fn put_metric_alarm(alarms: &mut BTreeMap<String, Alarm>, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = input
        .get("AlarmName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| validation("The parameter AlarmName is required (1-255 characters)."))?
        .to_owned();
    let spec = spec_of(input)?;
    for list in ["OKActions", "AlarmActions", "InsufficientDataActions"] {
        if input.get(list).and_then(Value::as_array).is_some_and(|a| a.len() > 5) {
            return Err(validation(format!("{list} can hold at most 5 actions.")));
        }
    }
    let mut config = input.as_object().cloned().unwrap_or_default();
    config.remove("Tags");
    let now = now_epoch();
    match alarms.get_mut(&name) {
        // An update overwrites the whole configuration but keeps the state (REFERENCE 4.2).
        Some(alarm) => {
            alarm.config = config;
            alarm.spec = spec;
            alarm.config_updated = now;
            alarm.last_evaluated = None;
        }
        None => {
            let alarm = Alarm {
                arn: ctx.arn("cloudwatch", &format!("alarm:{name}")),
                name: name.clone(),
                config,
                spec,
                state: "INSUFFICIENT_DATA".into(),
                reason: "Unchecked: Initial alarm creation".into(),
                reason_data: None,
                state_updated: now,
                state_transitioned: now,
                config_updated: now,
                last_evaluated: None,
            };
            alarms.insert(name, alarm);
        }
    }
    Ok(json!({}))
}

fn strings(input: &Value, field: &str) -> Vec<String> {
    input
        .get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

pub fn describe_alarms(alarms: &BTreeMap<String, Alarm>, input: &Value) -> AwsResult<Value> {
    let names = strings(input, "AlarmNames");
    let prefix = input.get("AlarmNamePrefix").and_then(Value::as_str);
    let state = input.get("StateValue").and_then(Value::as_str);
    let action_prefix = input.get("ActionPrefix").and_then(Value::as_str);
    let types = strings(input, "AlarmTypes");
    if !names.is_empty() && prefix.is_some() {
        return Err(AwsError::client("InvalidParameterCombination", "AlarmNames and AlarmNamePrefix are exclusive."));
    }
    let max = input.get("MaxRecords").and_then(Value::as_u64).unwrap_or(50).clamp(1, 100) as usize;
    let after = input.get("NextToken").and_then(Value::as_str);
    if let Some(token) = after
        && !alarms.contains_key(token)
    {
        return Err(AwsError::client("InvalidNextToken", "The service returned an invalid NextToken."));
    }
    let metric_alarms_wanted = types.is_empty() || types.iter().any(|t| t == "MetricAlarm");
    let matching: Vec<&Alarm> = alarms
        .values()
        .filter(|_| metric_alarms_wanted)
        .filter(|a| names.is_empty() || names.contains(&a.name))
        .filter(|a| prefix.is_none_or(|p| a.name.starts_with(p)))
        .filter(|a| state.is_none_or(|s| a.state == s))
        .filter(|a| {
            action_prefix.is_none_or(|p| {
                ["OKActions", "AlarmActions", "InsufficientDataActions"].iter().any(|list| {
                    a.config
                        .get(*list)
                        .and_then(Value::as_array)
                        .is_some_and(|l| l.iter().filter_map(Value::as_str).any(|x| x.starts_with(p)))
                })
            })
        })
        // The token is the first name of the next page.
        .filter(|a| after.is_none_or(|t| a.name.as_str() >= t))
        .collect();
    let page: Vec<Value> = matching.iter().take(max).map(|a| a.to_json()).collect();
    let mut out = json!({"MetricAlarms": page, "CompositeAlarms": []});
    if let Some(next) = matching.get(max) {
        out["NextToken"] = json!(next.name);
    }
    Ok(out)
}

pub fn set_alarm_state(alarms: &mut BTreeMap<String, Alarm>, input: &Value) -> AwsResult<Value> {
    let name = input.get("AlarmName").and_then(Value::as_str).unwrap_or_default();
    let state = input.get("StateValue").and_then(Value::as_str).unwrap_or_default();
    if !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&state) {
        return Err(validation(format!("StateValue '{state}' is not one of OK, ALARM, INSUFFICIENT_DATA.")));
    }
    let reason = input
        .get("StateReason")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("The parameter StateReason is required."))?;
    let reason_data = input.get("StateReasonData").and_then(Value::as_str).map(str::to_owned);
    if let Some(data) = &reason_data
        && serde_json::from_str::<Value>(data).is_err()
    {
        return Err(AwsError::client("InvalidFormat", "StateReasonData is not valid JSON."));
    }
    // The model gives ResourceNotFound HTTP 404 (its awsQueryError trait).
    let alarm = alarms
        .get_mut(name)
        .ok_or_else(|| AwsError::new(404, "ResourceNotFound", format!("Alarm {name} not found")))?;
    alarm.set_state(state, reason.to_owned(), reason_data);
    Ok(json!({}))
}

/// DeleteAlarms: unknown names are skipped and the others still deleted (current API reference wording).
pub fn delete_alarms(alarms: &mut BTreeMap<String, Alarm>, input: &Value) -> AwsResult<Value> {
    let names = strings(input, "AlarmNames");
    if names.len() > 100 {
        return Err(validation("At most 100 alarms can be deleted in one call."));
    }
    for n in names {
        alarms.remove(&n);
    }
    Ok(json!({}))
}
