//! Alarm evaluation, run from the world's tick: once per period, each alarm looks at its last
//! `EvaluationPeriods` complete periods and applies "M out of N" and `TreatMissingData` as AWS documents
//! (AlarmThatSendsEmail.html, "Configuring how CloudWatch alarms treat missing data").

use serde_json::{Value, json};

use super::alarms::{Alarm, Source, Spec};
use super::metrics::{MetricStore, period_len};
use crate::Ctx;

/// One evaluated period: its start (wall-clock epoch seconds) and value, `None` when there was no datapoint.
type Point = (f64, Option<f64>);

/// Evaluates `alarm` if a new period has begun since its last evaluation.
pub fn evaluate(alarm: &mut Alarm, store: &MetricStore, ctx: &Ctx, now: f64) {
    let len = period_len(ctx, alarm.spec.period);
    let current = (now / len).floor() as i64;
    if alarm.last_evaluated == Some(current) {
        return;
    }
    alarm.last_evaluated = Some(current);
    let n = i64::from(alarm.spec.evaluation_periods);
    let (first, last) = (current - n, current - 1);
    let points = series(&alarm.spec, store, len, first, last);
    let Some((state, reason, data)) = decide(&alarm.spec, &alarm.state, &points, has_any_data(&alarm.spec, store), now)
    else {
        return;
    };
    // Re-entering the same state changes nothing, so StateUpdatedTimestamp tracks real transitions.
    if state != alarm.state {
        alarm.set_state(state, reason, Some(data));
    }
}

fn has_any_data(spec: &Spec, store: &MetricStore) -> bool {
    let has = |key| store.series.get(key).is_some_and(|s: &Vec<_>| !s.is_empty());
    match &spec.source {
        Source::Metric(q) => has(&q.key),
        Source::Math { queries, .. } => queries.values().any(|q| has(&q.key)),
    }
}

/// The alarm's value for each period `first..=last`, oldest first.
fn series(spec: &Spec, store: &MetricStore, len: f64, first: i64, last: i64) -> Vec<Point> {
    let start = |i: usize| (first + i as i64) as f64 * len;
    match &spec.source {
        Source::Metric(q) => store
            .buckets(&q.key, len, first, last)
            .iter()
            .enumerate()
            .map(|(i, b)| (start(i), b.statistic(&q.stat)))
            .collect(),
        Source::Math { queries, expressions, result } => {
            // Every query is aggregated over the alarm's period, so the series line up.
            let columns: Vec<(&String, Vec<Option<f64>>)> = queries
                .iter()
                .map(|(id, q)| {
                    (id, store.buckets(&q.key, len, first, last).iter().map(|b| b.statistic(&q.stat)).collect())
                })
                .collect();
            (0..(last - first + 1).max(0) as usize)
                .map(|i| {
                    let value = resolve(result, i, &columns, expressions, 0);
                    (start(i), value)
                })
                .collect()
        }
    }
}

/// The value of query `id` in period `i`; expressions may read other expressions (depth-limited against cycles).
fn resolve(
    id: &str,
    i: usize,
    columns: &[(&String, Vec<Option<f64>>)],
    expressions: &std::collections::BTreeMap<String, super::expr::Expr>,
    depth: usize,
) -> Option<f64> {
    if let Some((_, col)) = columns.iter().find(|(c, _)| c.as_str() == id) {
        return col.get(i).copied().flatten();
    }
    if depth > 10 {
        return None;
    }
    expressions.get(id)?.eval(&|var| resolve(var, i, columns, expressions, depth + 1))
}

/// The new state, reason and reason data, or `None` to leave the alarm as it is.
fn decide(
    spec: &Spec,
    current: &str,
    points: &[Point],
    any_data: bool,
    now: f64,
) -> Option<(&'static str, String, String)> {
    let present: Vec<(f64, f64)> = points.iter().filter_map(|(t, v)| v.map(|v| (*t, v))).collect();
    let missing = points.len() - present.len();
    let treat = spec.treat_missing.as_str();
    let missing_counted = matches!(treat, "breaching" | "notBreaching");
    if present.is_empty() && !missing_counted {
        // No datapoints in the window. An alarm whose metric never received data keeps its state (so a state
        // forced with SetAlarmState sticks); one whose data stopped goes to INSUFFICIENT_DATA unless `ignore`.
        if !any_data || treat == "ignore" {
            return None;
        }
        let reason = format!(
            "Insufficient Data: {missing} datapoint{} {} unknown.",
            plural(missing),
            if missing == 1 { "was" } else { "were" }
        );
        return Some(("INSUFFICIENT_DATA", reason, reason_data(spec, points, now)));
    }
    let breaching_present = present.iter().filter(|(_, v)| spec.breaches(*v)).count();
    let breaching = breaching_present + if treat == "breaching" { missing } else { 0 };
    let evaluated = present.len() + if missing_counted { missing } else { 0 };
    let m = spec.datapoints_to_alarm as usize;
    let to_alarm = breaching >= m;
    let state = if to_alarm { "ALARM" } else { "OK" };

    let reason = if present.is_empty() {
        format!(
            "Threshold Crossed: no datapoints were received for {missing} period{} and {missing} missing datapoint{} {} treated as [{}].",
            plural(missing),
            plural(missing),
            if missing == 1 { "was" } else { "were" },
            if treat == "breaching" { "Breaching" } else { "NonBreaching" }
        )
    } else {
        // AWS lists the datapoints newest first, with their period start.
        let listed: Vec<String> = present.iter().rev().map(|(t, v)| format!("{v:?} ({})", short_date(*t))).collect();
        let counted = if to_alarm { breaching } else { evaluated - breaching };
        let from = if current == "INSUFFICIENT_DATA" {
            "INSUFFICIENT_DATA"
        } else if to_alarm {
            "OK"
        } else {
            "ALARM"
        };
        let needed = if to_alarm { m } else { evaluated.saturating_sub(m) + 1 };
        let mut text = format!(
            "Threshold Crossed: {counted} out of the last {evaluated} datapoint{} [{}] {} {}{} the threshold ({:?}) (minimum {needed} datapoint{} for {from} -> {state} transition).",
            plural(evaluated),
            listed.join(", "),
            if counted == 1 { "was" } else { "were" },
            if to_alarm { "" } else { "not " },
            spec.comparison_words(),
            spec.threshold,
            plural(needed),
        );
        if missing_counted && missing > 0 {
            text.push_str(&format!(
                " {missing} missing datapoint{} {} treated as [{}].",
                plural(missing),
                if missing == 1 { "was" } else { "were" },
                if treat == "breaching" { "Breaching" } else { "NonBreaching" }
            ));
        }
        text
    };
    Some((state, reason, reason_data(spec, points, now)))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The JSON document AWS puts in `StateReasonData`.
fn reason_data(spec: &Spec, points: &[Point], now: f64) -> String {
    let recent: Vec<f64> = points.iter().rev().filter_map(|(_, v)| *v).collect();
    let evaluated: Vec<Value> = points
        .iter()
        .rev()
        .map(|(t, v)| match v {
            Some(v) => json!({"timestamp": iso_date(*t), "value": v}),
            None => json!({"timestamp": iso_date(*t)}),
        })
        .collect();
    let mut data = json!({
        "version": "1.0",
        "queryDate": iso_date(now),
        "startDate": iso_date(points.first().map_or(now, |p| p.0)),
        "period": spec.period,
        "recentDatapoints": recent,
        "threshold": spec.threshold,
        "evaluatedDatapoints": evaluated,
    });
    if let Source::Metric(q) = &spec.source {
        data["statistic"] = json!(q.stat);
        data["unit"] = json!("None");
    }
    data.to_string()
}

/// Calendar fields of an epoch time (UTC), via the days-from-civil inverse (H. Hinnant's algorithm).
fn civil(t: f64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let ms_total = (t * 1000.0).floor() as i64;
    let (days, ms_of_day) = (ms_total.div_euclid(86_400_000), ms_total.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = (ms_of_day / 1000) as u32;
    (year, month, day, secs / 3600, secs / 60 % 60, secs % 60, (ms_of_day % 1000) as u32)
}

/// `2026-11-22T14:35:00.000+0000`, the format of StateReasonData dates.
pub fn iso_date(t: f64) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+0000")
}

/// `22/11/26 14:35:00`, the format of datapoint dates in StateReason.
fn short_date(t: f64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(t);
    format!("{d:02}/{mo:02}/{:02} {h:02}:{mi:02}:{s:02}", y.rem_euclid(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cloudwatch::alarms::MetricQuery;
    use crate::cloudwatch::metrics::MetricKey;

    fn spec(treat: &str) -> Spec {
        Spec {
            source: Source::Metric(MetricQuery {
                key: MetricKey { namespace: "N".into(), name: "M".into(), dimensions: Default::default() },
                stat: "Sum".into(),
                period: 60,
            }),
            period: 60,
            evaluation_periods: 3,
            datapoints_to_alarm: 2,
            threshold: 5.0,
            comparison: "GreaterThanThreshold".into(),
            treat_missing: treat.into(),
        }
    }

    fn state(treat: &str, values: &[Option<f64>], any_data: bool) -> Option<&'static str> {
        let points: Vec<Point> = values.iter().enumerate().map(|(i, v)| (i as f64 * 60.0, *v)).collect();
        decide(&spec(treat), "OK", &points, any_data, 200.0).map(|(s, _, _)| s)
    }

    #[test]
    fn m_out_of_n_and_missing_data_treatments() {
        assert_eq!(state("missing", &[Some(6.0), Some(1.0), Some(7.0)], true), Some("ALARM"));
        assert_eq!(state("missing", &[Some(6.0), Some(1.0), Some(1.0)], true), Some("OK"));
        assert_eq!(state("missing", &[Some(6.0), None, None], true), Some("OK"));
        assert_eq!(state("breaching", &[Some(6.0), None, Some(1.0)], true), Some("ALARM"));
        assert_eq!(state("notBreaching", &[Some(6.0), None, None], true), Some("OK"));
        // A window without datapoints.
        assert_eq!(state("notBreaching", &[None, None, None], false), Some("OK"));
        assert_eq!(state("breaching", &[None, None, None], false), Some("ALARM"));
        assert_eq!(state("missing", &[None, None, None], false), None);
        assert_eq!(state("missing", &[None, None, None], true), Some("INSUFFICIENT_DATA"));
        assert_eq!(state("ignore", &[None, None, None], true), None);
    }

    #[test]
    fn dates_format_like_aws() {
        assert_eq!(iso_date(1_700_000_000.25), "2023-11-14T22:13:20.250+0000");
        assert_eq!(short_date(0.0), "01/01/70 00:00:00");
    }
}
