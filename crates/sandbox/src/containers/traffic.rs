//! What the load balancer's listeners carried, kept for tests and the demo (`GET /_sandbox/traffic`): per listener,
//! target group and task definition, how many requests and how they were answered. Both the load-balancer
//! stand-in's production trickle and requests sent through a listener (`alb.rs`) are counted, so a test can say
//! "no production request reached the new revision" and "the production listener never answered 5xx".

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// Where a request went: the listener ARN, the target group ARN (empty: no target group had a running target, the
/// load balancer answered itself) and the task definition of the task that answered (empty likewise).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub listener: String,
    pub target_group: String,
    pub task_definition: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub status_2xx: u64,
    pub status_4xx: u64,
    /// 5xx from the target, or from the load balancer itself (502/503/504).
    pub status_5xx: u64,
}

#[derive(Debug, Default)]
pub struct TrafficLog {
    counts: Mutex<BTreeMap<Key, Counts>>,
}

impl TrafficLog {
    /// One request and its status; `None`: no HTTP answer from the target (the ALB answers 502/504 then).
    pub fn record(&self, key: Key, status: Option<u16>) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let c = counts.entry(key).or_default();
        c.requests += 1;
        match status {
            Some(s) if (200..300).contains(&s) => c.status_2xx += 1,
            Some(s) if (400..500).contains(&s) => c.status_4xx += 1,
            Some(s) if s >= 500 => c.status_5xx += 1,
            Some(_) => {}
            None => c.status_5xx += 1,
        }
    }

    pub fn clear(&self) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The records as `/_sandbox/traffic` lists them.
    pub fn json(&self) -> serde_json::Value {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let entries: Vec<serde_json::Value> = counts
            .iter()
            .map(|(k, c)| {
                let mut v = serde_json::json!({
                    "listener": k.listener,
                    "target_group": k.target_group,
                    "task_definition": k.task_definition,
                });
                if let (Some(map), Ok(serde_json::Value::Object(counts))) = (v.as_object_mut(), serde_json::to_value(c))
                {
                    map.extend(counts);
                }
                v
            })
            .collect();
        serde_json::json!({ "traffic": entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_counted_by_class() {
        let log = TrafficLog::default();
        let key = || Key { listener: "l".into(), target_group: "tg".into(), task_definition: "td".into() };
        for s in [Some(200), Some(500), None, Some(404)] {
            log.record(key(), s);
        }
        let v = log.json();
        let e = &v["traffic"][0];
        assert_eq!(
            (e["requests"].as_u64(), e["status_2xx"].as_u64(), e["status_5xx"].as_u64()),
            (Some(4), Some(1), Some(2))
        );
        assert_eq!(e["status_4xx"], 1);
        log.clear();
        assert_eq!(log.json()["traffic"].as_array().map(Vec::len), Some(0));
    }
}
