//! Secret values every sink must keep out of what it renders or sends.

use serde_json::Value;

use super::{Event, Outcome};

const MASK: &str = "***";

/// The secrets known so far. Values shorter than 4 characters are ignored: masking "a" or "1"
/// would shred every line while protecting nothing.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn add(&mut self, secret: &str) -> bool {
        let secret = secret.trim();
        if secret.len() < 4 || self.secrets.iter().any(|s| s == secret) {
            return false;
        }
        self.secrets.push(secret.to_owned());
        // Longest first, so a secret containing another is masked whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        true
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Redacts every string of a JSON document before it is serialised, so escaping cannot hide
    /// a secret from the comparison.
    pub fn redact_json(&self, value: &mut Value) {
        match value {
            Value::String(s) if self.secrets.iter().any(|secret| s.contains(secret.as_str())) => {
                *s = self.redact(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }
}

impl Redactor {
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The event with every masked value replaced, so no sink can render one by mistake.
    pub fn redact_event(&self, event: &Event) -> Event {
        let mut event = event.clone();
        if self.secrets.is_empty() {
            return event;
        }
        let r = |s: &mut String| *s = self.redact(s);
        match &mut event {
            Event::RunStarted { command } => r(command),
            Event::StageStarted { detail, .. } | Event::StageFinished { detail, .. } => r(detail),
            Event::Progress { message, .. } => r(message),
            Event::Traffic { .. } => {}
            Event::Check { report } => {
                r(&mut report.name);
                r(&mut report.detail);
            }
            Event::Failed { diagnostics, .. } => diagnostics.iter_mut().for_each(r),
            Event::Released { environment, task_definition_arn } => {
                r(environment);
                r(task_definition_arn);
            }
            Event::RolledBack { reason } => r(reason),
            Event::Summary { markdown } | Event::Warning { message: markdown } => r(markdown),
            Event::RunFinished { outcome } => self.redact_outcome(outcome),
        }
        event
    }

    fn redact_outcome(&self, o: &mut Outcome) {
        let r = |s: &mut String| *s = self.redact(s);
        r(&mut o.command);
        for field in [
            &mut o.environment,
            &mut o.version,
            &mut o.image_uri,
            &mut o.image_digest,
            &mut o.task_definition_arn,
            &mut o.task_definition_diff,
            &mut o.deployment_id,
            &mut o.running_now,
        ] {
            field.iter_mut().for_each(r);
        }
        o.tags.iter_mut().chain(o.tags_added.iter_mut()).for_each(r);
        if let Some(plan) = &mut o.plan {
            // Redacted as text: a masked value can sit anywhere in the document.
            *plan = serde_json::from_str(&self.redact(&plan.to_string())).unwrap_or(serde_json::Value::Null);
        }
        for check in &mut o.verify {
            r(&mut check.name);
            r(&mut check.detail);
        }
        if let Some(e) = &mut o.error {
            r(&mut e.message);
            e.help.iter_mut().for_each(r);
            e.code.iter_mut().for_each(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_longest_first_and_inside_json() {
        let mut r = Redactor::default();
        assert!(r.add("abcd"));
        assert!(r.add("abcdefgh"));
        assert!(!r.add("abcd"));
        assert!(!r.add("ab"));
        assert_eq!(r.redact("x abcdefgh y abcd"), "x *** y ***");
        let mut v = serde_json::json!({"a": ["token abcdefgh", 3], "b": {"c": "abcd\""}});
        r.redact_json(&mut v);
        assert_eq!(v, serde_json::json!({"a": ["token ***", 3], "b": {"c": "***\""}}));
    }
}
