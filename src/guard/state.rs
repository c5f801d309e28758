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
    fn fired_names_the_alarm() {
        assert_eq!(fired(&states(&[("a", "OK")])), None);
        assert_eq!(fired(&states(&[("a", "ALARM")])).map(|f| f.0), Some("a".into()));
    }
}
