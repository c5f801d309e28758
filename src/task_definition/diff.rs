//! What registering would change, path by path, for `plan` and the release log. Containers, volumes, env vars and
//! secrets are addressed by name (`containerDefinitions[web].environment.FEATURE_X`), never by index, so a
//! reordered file reads as no change.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::normalize::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference. Secrets show their `valueFrom` (an ARN or parameter name), never a secret value: the task
/// definition holds none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// The differences between two task definitions after [`normalize`]; empty exactly when the normalised forms are
/// equal. Serialises as `{"changes": [...]}` for `plan --output json`; `Display` is the human form.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskDefinitionDiff {
    pub changes: Vec<Change>,
}

impl TaskDefinitionDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Compares two task definitions (raw or already normalised: both are normalised here).
pub fn diff(old: &Value, new: &Value) -> TaskDefinitionDiff {
    let mut changes = Vec::new();
    walk("", Some(&normalize(old)), Some(&normalize(new)), &mut changes);
    TaskDefinitionDiff { changes }
}

fn walk<'a>(path: &str, old: Option<&'a Value>, new: Option<&'a Value>, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let key = path.rsplit(['.', ']']).next().unwrap_or_default();
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))).collect();
            keys.sort();
            for k in keys {
                walk(&join(path, k), a.get(k), b.get(k), out);
            }
        }
        // Env and secrets read as NAME -> value, also when one side has none at all.
        _ if matches!(key, "environment" | "secrets") && by_name(old).is_some() && by_name(new).is_some() => {
            let value_key = if key == "secrets" { "valueFrom" } else { "value" };
            let (a, b) = (by_name(old).unwrap_or_default(), by_name(new).unwrap_or_default());
            for name in merged_names(&a, &b) {
                // An entry with more than name and value (none today) is shown whole rather than lose the rest.
                let value = |v: &'a Value| match v.as_object() {
                    Some(o) if o.len() == 2 => v.get(value_key).unwrap_or(v),
                    _ => v,
                };
                walk_leaf(&format!("{path}.{name}"), pick(&a, name).map(value), pick(&b, name).map(value), out);
            }
        }
        (Some(Value::Array(_)), Some(Value::Array(_)))
            if matches!(key, "containerDefinitions" | "volumes")
                && by_name(old).is_some()
                && by_name(new).is_some() =>
        {
            let (a, b) = (by_name(old).unwrap_or_default(), by_name(new).unwrap_or_default());
            for name in merged_names(&a, &b) {
                walk(&format!("{path}[{name}]"), pick(&a, name), pick(&b, name), out);
            }
        }
        _ => walk_leaf(path, old, new, out),
    }
}

fn walk_leaf(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<Change>) {
    let kind = match (old, new) {
        _ if old == new => return,
        (None, Some(_)) => ChangeKind::Added,
        (Some(_), None) => ChangeKind::Removed,
        _ => ChangeKind::Changed,
    };
    out.push(Change { path: path.to_owned(), kind, old: old.cloned(), new: new.cloned() });
}

/// `[(name, item)]` of a list whose items all have a distinct string `name`; an absent list is an empty one.
/// None when a name is missing or repeated: then the list is compared as a whole.
fn by_name(list: Option<&Value>) -> Option<Vec<(&str, &Value)>> {
    let items = match list {
        None => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return None,
    };
    let mut named = Vec::with_capacity(items.len());
    for item in items {
        let name = item.get("name").and_then(Value::as_str)?;
        if named.iter().any(|(n, _)| *n == name) {
            return None;
        }
        named.push((name, item));
    }
    Some(named)
}

fn pick<'a>(side: &[(&str, &'a Value)], name: &str) -> Option<&'a Value> {
    side.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Names of `a` in order, then names only in `b`.
fn merged_names<'a>(a: &[(&'a str, &Value)], b: &[(&'a str, &Value)]) -> Vec<&'a str> {
    let mut names: Vec<&str> = a.iter().map(|(n, _)| *n).collect();
    names.extend(b.iter().map(|(n, _)| *n).filter(|n| !a.iter().any(|(m, _)| m == n)));
    names
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

impl fmt::Display for TaskDefinitionDiff {
    /// One block per path: `~`/`+`/`-` and the path, then `- old` and `+ new` as compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "task definition unchanged");
        }
        for change in &self.changes {
            let sign = match change.kind {
                ChangeKind::Added => '+',
                ChangeKind::Removed => '-',
                ChangeKind::Changed => '~',
            };
            writeln!(f, "{sign} {}", change.path)?;
            if let Some(old) = &change.old {
                writeln!(f, "    - {old}")?;
            }
            if let Some(new) = &change.new {
                writeln!(f, "    + {new}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{described_json, file_json, rendered_doc};
    use super::*;

    fn changed_release() -> Value {
        let mut new = rendered_doc().to_register_json();
        let web = &mut new["containerDefinitions"][0];
        web["image"] = json!("111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:aaaa");
        web["environment"] = json!([
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "RELEASE", "value": "1.4.0"},
            {"name": "NEW_FLAG", "value": "1"}
        ]);
        web["secrets"][0]["valueFrom"] = json!("arn:aws:ssm:eu-west-1:111122223333:parameter/web/db-password-v2");
        new["memory"] = json!("1024");
        new["containerDefinitions"].as_array_mut().unwrap().remove(1);
        new
    }

    #[test]
    fn the_registered_revision_is_no_diff() {
        let d = diff(&described_json(), &rendered_doc().to_register_json());
        assert!(d.is_empty(), "{d}");
        assert_eq!(d.to_string(), "task definition unchanged\n");
    }

    #[test]
    fn an_env_order_change_is_no_diff() {
        let old = file_json();
        let mut new = file_json();
        new["containerDefinitions"][0]["environment"] =
            json!([{"name": "FEATURE_X", "value": "off"}, {"name": "LOG_LEVEL", "value": "info"}]);
        let containers = new["containerDefinitions"].as_array_mut().unwrap();
        containers.reverse();
        assert!(diff(&old, &new).is_empty());
    }

    #[test]
    fn diff_addresses_containers_and_env_by_name() {
        let d = diff(&described_json(), &changed_release());
        let paths: Vec<(&str, ChangeKind)> = d.changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            paths,
            vec![
                ("containerDefinitions[otel]", ChangeKind::Removed),
                ("containerDefinitions[web].environment.FEATURE_X", ChangeKind::Removed),
                ("containerDefinitions[web].environment.LOG_LEVEL", ChangeKind::Changed),
                ("containerDefinitions[web].environment.NEW_FLAG", ChangeKind::Added),
                ("containerDefinitions[web].image", ChangeKind::Changed),
                ("containerDefinitions[web].secrets.DB_PASSWORD", ChangeKind::Changed),
                ("memory", ChangeKind::Changed),
            ]
        );
        let log_level = &d.changes[2];
        assert_eq!((log_level.old.clone(), log_level.new.clone()), (Some(json!("info")), Some(json!("debug"))));
    }

    #[test]
    fn a_whole_list_appearing_is_reported_per_name() {
        let old = file_json();
        let mut new = file_json();
        new["containerDefinitions"][1]["environment"] = json!([{"name": "A", "value": "1"}]);
        let d = diff(&old, &new);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].path, "containerDefinitions[otel].environment.A");
        assert_eq!(d.changes[0].kind, ChangeKind::Added);
    }

    #[test]
    fn human_diff_snapshot() {
        insta::assert_snapshot!("human_diff", diff(&described_json(), &changed_release()).to_string());
    }

    #[test]
    fn json_diff_snapshot() {
        insta::assert_json_snapshot!("json_diff", diff(&described_json(), &changed_release()));
    }
}
