//! Checks a task definition document against the RegisterTaskDefinition shape ([`super::shape`]) the way ECS does:
//! unknown fields, wrong types, values outside an enum and missing required members are all problems, each with its
//! path, and every problem of the document is found in one pass.

use std::fmt;

use aws_smithy_schema::{Schema, ShapeType};
use serde_json::{Map, Value};

use super::shape::{self, Link, Struct};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Where in the document: `containerDefinitions[0].essential`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_owned()));
        p
    }

    fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What is wrong at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// A field RegisterTaskDefinition does not have (ECS rejects the request).
    UnknownField { suggestion: Option<String> },
    /// A value of the wrong JSON type.
    WrongType { expected: &'static str, found: &'static str },
    /// A value outside the enum's values.
    NotAllowed { value: String, allowed: Vec<String>, suggestion: Option<String> },
    /// A required member is absent (the path is the object that lacks it).
    Missing { field: String },
    /// A list that must not be empty, or a string that must not be blank.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: FieldPath,
    pub kind: ProblemKind,
}

impl Problem {
    /// Whether the place to point at is the key (an unknown field) rather than the value.
    pub fn points_at_key(&self) -> bool {
        matches!(self.kind, ProblemKind::UnknownField { .. })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.kind {
            ProblemKind::UnknownField { suggestion } => {
                let key = match path.0.last() {
                    Some(Segment::Key(k)) => k.as_str(),
                    _ => "",
                };
                let parent = FieldPath(path.0[..path.0.len().saturating_sub(1)].to_vec());
                let place = if parent.0.is_empty() { "the task definition".to_owned() } else { parent.to_string() };
                write!(f, "unknown field `{key}` in {place}")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => write!(f, " (ECS rejects fields it does not know)"),
                }
            }
            ProblemKind::WrongType { expected, found } => write!(f, "`{path}`: expected {expected}, found {found}"),
            ProblemKind::NotAllowed { value, allowed, suggestion } => {
                write!(f, "`{path}`: `{value}` is not one of: {}", allowed.join(", "))?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => Ok(()),
                }
            }
            ProblemKind::Missing { field } if path.0.is_empty() => write!(f, "missing required field `{field}`"),
            ProblemKind::Missing { field } => write!(f, "`{path}`: missing required field `{field}`"),
            ProblemKind::Empty => write!(f, "`{path}` must not be empty"),
        }
    }
}

/// Every problem of `doc` (the bare request: read-only fields and nulls already removed).
pub fn validate(doc: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_struct(shape::request(), doc, &FieldPath::default(), &mut problems);
    problems
}

fn check_struct(s: Struct, value: &Value, path: &FieldPath, out: &mut Vec<Problem>) {
    let Value::Object(map) = value else {
        out.push(wrong(path, "an object", value));
        return;
    };
    let names = shape::member_names(s);
    let mut suggested = Vec::new();
    for (key, value) in map {
        let here = path.key(key);
        match shape::member(s, key) {
            None => {
                let candidates: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
                let suggestion = crate::config::closest(key, &candidates);
                suggested.extend(suggestion.clone());
                out.push(Problem { path: here, kind: ProblemKind::UnknownField { suggestion } });
            }
            Some(member) => check_member(s, member, value, &here, out),
        }
    }
    for field in shape::required(s) {
        // `"familly": "web"` is one mistake: its did-you-mean already names the missing `family`.
        if !present(map, field) && !suggested.iter().any(|s| s == field) {
            out.push(Problem { path: path.clone(), kind: ProblemKind::Missing { field: (*field).to_owned() } });
        }
    }
}

fn present(map: &Map<String, Value>, field: &str) -> bool {
    map.get(field).is_some_and(|v| !v.is_null())
}

fn check_member(
    owner: Struct,
    member: &'static Schema<'static>,
    value: &Value,
    path: &FieldPath,
    out: &mut Vec<Problem>,
) {
    let name = member.member_name().unwrap_or_default();
    let link = shape::link(owner, name);
    match member.shape_type() {
        ShapeType::List => {
            let Value::Array(items) = value else {
                out.push(wrong(path, "a list", value));
                return;
            };
            if name == "containerDefinitions" && items.is_empty() {
                out.push(Problem { path: path.clone(), kind: ProblemKind::Empty });
            }
            let item = shape::item_type(member).unwrap_or(ShapeType::String);
            for (i, v) in items.iter().enumerate() {
                check_scalar(item, link, v, &path.index(i), out);
            }
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else {
                out.push(wrong(path, "an object of strings", value));
                return;
            };
            for (k, v) in entries {
                if !v.is_string() {
                    out.push(wrong(&path.key(k), "a string", v));
                }
            }
        }
        other => check_scalar(other, link, value, path, out),
    }
    if matches!(name, "family" | "name" | "image") && value.as_str().is_some_and(|s| s.trim().is_empty()) {
        out.push(Problem { path: path.clone(), kind: ProblemKind::Empty });
    }
}

fn check_scalar(kind: ShapeType, link: Option<Link>, value: &Value, path: &FieldPath, out: &mut Vec<Problem>) {
    match kind {
        ShapeType::Structure | ShapeType::Union => match link {
            Some(Link::Struct(s)) => check_struct(s, value, path, out),
            // Unlinked (the tests keep this from happening): at least an object.
            _ if !value.is_object() => out.push(wrong(path, "an object", value)),
            _ => {}
        },
        ShapeType::Boolean if !value.is_boolean() => out.push(wrong(path, "true or false", value)),
        ShapeType::Integer | ShapeType::Long if !is_integer(value) => out.push(wrong(path, "an integer", value)),
        ShapeType::Double | ShapeType::Float if !value.is_number() => out.push(wrong(path, "a number", value)),
        ShapeType::String => match (value, link) {
            (Value::String(s), Some(Link::Enum(allowed))) if !allowed.contains(&s.as_str()) => {
                let allowed: Vec<String> = allowed.iter().map(|a| (*a).to_owned()).collect();
                let suggestion = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(s))
                    .cloned()
                    .or_else(|| crate::config::closest(s, &allowed));
                out.push(Problem {
                    path: path.clone(),
                    kind: ProblemKind::NotAllowed { value: s.clone(), allowed, suggestion },
                });
            }
            // YAML users write `cpu: 256`; the SDK mapping sends a number's text (`sdk_reader`).
            (Value::String(_) | Value::Number(_), _) => {}
            _ => out.push(wrong(path, "a string", value)),
        },
        _ => {}
    }
}

/// An integer that fits ECS's 32-bit Integer, or its text (as the SDK mapping reads it).
fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Value::String(s) => s.trim().parse::<i32>().is_ok(),
        _ => false,
    }
}

fn wrong(path: &FieldPath, expected: &'static str, found: &Value) -> Problem {
    let found = match found {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    Problem { path: path.clone(), kind: ProblemKind::WrongType { expected, found } }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(doc: Value) -> Vec<String> {
        validate(&doc).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_valid_document_has_no_problems() {
        let doc = super::super::fixtures::file_json();
        assert_eq!(messages(doc), Vec::<String>::new());
    }

    #[test]
    fn every_problem_of_a_document_is_found_at_once() {
        let doc = json!({
            "familly": "web",
            "networkMode": "AWSVPC",
            "cpu": {"x": 1},
            "containerDefinitions": [
                {"name": "web", "image": "i", "essentail": true, "memory": "lots",
                 "portMappings": [{"containerPort": 80, "protocol": "tcpp"}],
                 "secrets": [{"name": "S"}], "dockerLabels": {"a": 1}},
                "not an object"
            ]
        });
        assert_eq!(
            messages(doc),
            vec![
                "unknown field `familly` in the task definition; did you mean `family`?",
                "`networkMode`: `AWSVPC` is not one of: awsvpc, bridge, host, none; did you mean `awsvpc`?",
                "`cpu`: expected a string, found an object",
                "unknown field `essentail` in containerDefinitions[0]; did you mean `essential`?",
                "`containerDefinitions[0].memory`: expected an integer, found a string",
                "`containerDefinitions[0].portMappings[0].protocol`: `tcpp` is not one of: tcp, udp; did you mean `tcp`?",
                "`containerDefinitions[0].secrets[0]`: missing required field `valueFrom`",
                "`containerDefinitions[0].dockerLabels.a`: expected a string, found a number",
                "`containerDefinitions[1]`: expected an object, found a string",
            ]
        );
    }

    #[test]
    fn the_lenient_forms_the_sdk_mapping_accepts_pass() {
        // `cpu: 256` (YAML) and `"memory": "512"` are read by the mapping; they are not type errors.
        let doc = json!({"family": "f", "cpu": 256, "memory": "512",
            "containerDefinitions": [{"name": "a", "image": "i", "memory": "512", "cpu": 0}]});
        assert_eq!(messages(doc), Vec::<String>::new());
    }

    #[test]
    fn blank_names_and_empty_container_lists_are_problems() {
        assert_eq!(
            messages(json!({"family": " ", "containerDefinitions": []})),
            vec!["`family` must not be empty", "`containerDefinitions` must not be empty"]
        );
    }
}
