//! Alarm history (DescribeAlarmHistory, REFERENCE A2): every state transition is a `StateUpdate` item whose
//! `HistoryData` is a JSON string with `oldState` and `newState`, and every create or update of the
//! configuration a `ConfigurationUpdate` item. History outlives the alarm (it is kept after DeleteAlarms).

use serde_json::{Value, json};

use crate::world::now_epoch;
use crate::{AwsError, AwsResult};

#[derive(Debug, Clone)]
pub struct HistoryItem {
    pub alarm_name: String,
    pub timestamp: f64,
    pub item_type: &'static str,
    pub summary: String,
    /// A JSON document, sent as a string (at most 4095 characters in AWS).
    pub data: String,
}

impl HistoryItem {
    pub fn state_update(alarm: &str, old: (&str, &str), new: (&str, &str, Option<&str>)) -> Self {
        let mut new_state = json!({"stateValue": new.0, "stateReason": new.1});
        if let Some(data) = new.2.and_then(|d| serde_json::from_str::<Value>(d).ok()) {
            new_state["stateReasonData"] = data;
        }
        let data = json!({
            "version": "1.0",
            "oldState": {"stateValue": old.0, "stateReason": old.1},
            "newState": new_state,
        });
        Self {
            alarm_name: alarm.to_owned(),
            timestamp: now_epoch(),
            item_type: "StateUpdate",
            summary: format!("Alarm updated from {} to {}", old.0, new.0),
            data: data.to_string(),
        }
    }

    pub fn configuration_update(alarm: &str, created: bool, config: &serde_json::Map<String, Value>) -> Self {
        let (kind, key, summary) =
            if created { ("Create", "createdAlarm", "created") } else { ("Update", "updatedAlarm", "updated") };
        let data = json!({"type": kind, "version": "1.0", key: config});
        Self {
            alarm_name: alarm.to_owned(),
            timestamp: now_epoch(),
            item_type: "ConfigurationUpdate",
            summary: format!("Alarm \"{alarm}\" {summary}"),
            data: data.to_string(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "AlarmName": self.alarm_name,
            "AlarmType": "MetricAlarm",
            "Timestamp": self.timestamp,
            "HistoryItemType": self.item_type,
            "HistorySummary": self.summary,
            "HistoryData": self.data,
        })
    }
}

/// DescribeAlarmHistory over the items given (every alarm's, deleted ones included).
pub fn describe<'a>(items: impl Iterator<Item = &'a HistoryItem>, input: &Value) -> AwsResult<Value> {
    let name = input.get("AlarmName").and_then(Value::as_str);
    let kind = input.get("HistoryItemType").and_then(Value::as_str);
    if let Some(k) = kind
        && !["ConfigurationUpdate", "StateUpdate", "Action"].contains(&k)
    {
        return Err(AwsError::client("ValidationError", format!("HistoryItemType {k} is not valid.")));
    }
    // Without AlarmTypes only metric alarms are returned, and every alarm here is one.
    let types: Vec<&str> = input
        .get("AlarmTypes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let metric_wanted = types.is_empty() || types.contains(&"MetricAlarm");
    let start = input.get("StartDate").and_then(Value::as_f64);
    let end = input.get("EndDate").and_then(Value::as_f64);
    let max = input.get("MaxRecords").and_then(Value::as_u64).unwrap_or(100);
    if !(1..=100).contains(&max) {
        return Err(AwsError::client("ValidationError", "MaxRecords must be between 1 and 100."));
    }
    let ascending = match input.get("ScanBy").and_then(Value::as_str) {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => return Err(AwsError::client("ValidationError", format!("ScanBy {other} is not valid."))),
    };
    let mut matching: Vec<&HistoryItem> = items
        .filter(|_| metric_wanted)
        .filter(|i| name.is_none_or(|n| i.alarm_name == n))
        .filter(|i| kind.is_none_or(|k| i.item_type == k))
        .filter(|i| start.is_none_or(|s| i.timestamp >= s) && end.is_none_or(|e| i.timestamp <= e))
        .collect();
    matching.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp));
    if !ascending {
        matching.reverse();
    }
    let offset = match input.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|o| *o <= matching.len())
            .ok_or_else(|| AwsError::client("InvalidNextToken", "The service returned an invalid NextToken."))?,
    };
    let page: Vec<Value> = matching.iter().skip(offset).take(max as usize).map(|i| i.to_json()).collect();
    let mut out = json!({ "AlarmHistoryItems": page });
    if offset + (max as usize) < matching.len() {
        out["NextToken"] = json!((offset + max as usize).to_string());
    }
    Ok(out)
}
