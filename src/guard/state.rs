//! Reading guard alarms: refuse to start while one fires, and notice the moment one does.

use std::collections::BTreeMap;

pub use aws_sdk_cloudwatch::types::StateValue as AlarmState;

use crate::Error;

/// Alarm name -> (state, reason), as DescribeAlarms reports them.
pub type AlarmStates = BTreeMap<String, (AlarmState, String)>;

pub async fn states(cw: &aws_sdk_cloudwatch::Client, names: &[String]) -> Result<AlarmStates, Error> {
    if names.is_empty() {
        return Ok(AlarmStates::new());
    }
    let out = cw
        .describe_alarms()
        .set_alarm_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| Error::aws("DescribeAlarms", names.join(", "), e))?;
    Ok(out
        .metric_alarms()
        .iter()
        .filter_map(|a| {
            let name = a.alarm_name()?.to_owned();
            let state = a.state_value().cloned().unwrap_or(AlarmState::InsufficientData);
            Some((name, (state, a.state_reason().unwrap_or_default().to_owned())))
        })
        .collect())
}

/// The first transition into ALARM of one of `names` since `since`, from the alarms' history
/// (DescribeAlarmHistory, StateUpdate items, REFERENCE A2): an alarm that went ALARM and back to OK
/// between two polls of its state is still caught.
pub async fn fired_since(
    cw: &aws_sdk_cloudwatch::Client,
    names: &[String],
    since: std::time::SystemTime,
) -> Result<Option<(String, String)>, Error> {
    use aws_sdk_cloudwatch::types::{HistoryItemType, ScanBy};
    if names.is_empty() {
        return Ok(None);
    }
    let mut token = None;
    // A few pages at most: a watch window holds few transitions of a handful of alarms.
    for _ in 0..5 {
        let out = cw
            .describe_alarm_history()
            .history_item_type(HistoryItemType::StateUpdate)
            .start_date(aws_smithy_types::DateTime::from(since))
            .scan_by(ScanBy::TimestampAscending)
            .max_records(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::aws("DescribeAlarmHistory", names.join(", "), e))?;
        let start = aws_smithy_types::DateTime::from(since);
        for item in out.alarm_history_items() {
            // StartDate bounds the answer; the timestamp is checked here too, so an ALARM from before
            // this deployment (an earlier release's) can never stop this one.
            if item.timestamp().is_some_and(|t| t.as_secs_f64() < start.as_secs_f64()) {
                continue;
            }
            let Some(name) = item.alarm_name().filter(|n| names.iter().any(|x| x == n)) else { continue };
            if let Some(reason) = item.history_data().and_then(entered_alarm) {
                return Ok(Some((name.to_owned(), reason)));
            }
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(None)
}

/// HistoryData of a StateUpdate: `{"oldState": {...}, "newState": {"stateValue": "ALARM", "stateReason": ...}}`.
/// Its layout is not in the API reference (REFERENCE A2), so anything else counts as no transition.
fn entered_alarm(data: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    let new = v.get("newState")?;
    (new.get("stateValue")?.as_str()? == "ALARM")
        .then(|| new.get("stateReason").and_then(|r| r.as_str()).unwrap_or("entered ALARM").to_owned())
}

/// The first alarm in ALARM, with its reason.
pub fn fired(states: &AlarmStates) -> Option<(String, String)> {
    states
        .iter()
        .find(|(_, (state, _))| *state == AlarmState::Alarm)
        .map(|(name, (_, reason))| (name.clone(), reason.clone()))
}

/// Before a deployment: every guard alarm must exist, and none may be in ALARM.
pub fn precheck(names: &[String], states: &AlarmStates) -> Result<(), String> {
    if let Some(missing) = names.iter().find(|n| !states.contains_key(*n)) {
        return Err(format!("guard alarm `{missing}` does not exist"));
    }
    match fired(states) {
        Some((name, reason)) => Err(format!("guard alarm `{name}` is already in ALARM ({reason})")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(list: &[(&str, &str)]) -> AlarmStates {
        list.iter().map(|(n, s)| (n.to_string(), (AlarmState::from(*s), format!("{n} is {s}")))).collect()
    }

    #[test]
    fn a_firing_alarm_blocks_the_start_and_is_reported_by_name() {
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(precheck(&names, &states(&[("a", "OK"), ("b", "INSUFFICIENT_DATA")])), Ok(()));
        let err = precheck(&names, &states(&[("a", "OK"), ("b", "ALARM")])).unwrap_err();
        assert!(err.contains("`b`") && err.contains("ALARM"), "{err}");
        let err = precheck(&names, &states(&[("a", "OK")])).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn a_state_update_into_alarm_is_read_from_history_data() {
        let data =
            r#"{"version":"1.0","oldState":{"stateValue":"OK"},"newState":{"stateValue":"ALARM","stateReason":"5xx"}}"#;
        assert_eq!(entered_alarm(data).as_deref(), Some("5xx"));
        assert_eq!(entered_alarm(r#"{"oldState":{"stateValue":"ALARM"},"newState":{"stateValue":"OK"}}"#), None);
        assert_eq!(entered_alarm("not json"), None);
    }

    #[test]
    fn fired_names_the_alarm() {
        assert_eq!(fired(&states(&[("a", "OK")])), None);
        assert_eq!(fired(&states(&[("a", "ALARM")])).map(|f| f.0), Some("a".into()));
    }
}
