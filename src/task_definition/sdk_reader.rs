//! Reading a JSON object field by field while remembering which fields were read, so that whatever the SDK mapping
//! does not carry is reported ("not sent") instead of silently dropped.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::error::TaskDefinitionError;

pub(super) struct Reader<'a> {
    path: String,
    map: &'a Map<String, Value>,
    read: BTreeSet<&'static str>,
}

type Result<T> = std::result::Result<T, TaskDefinitionError>;

impl<'a> Reader<'a> {
    pub(super) fn new(path: impl Into<String>, value: &'a Value) -> Result<Self> {
        let path = path.into();
        match value.as_object() {
            Some(map) => Ok(Reader { path, map, read: BTreeSet::new() }),
            None => Err(invalid(&path, "expected an object")),
        }
    }

    pub(super) fn path(&self) -> &str {
        &self.path
    }

    fn take(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.insert(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    pub(super) fn string(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // YAML users write `cpu: 256`; AWS wants the task-level sizes as strings.
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(invalid(&self.at(key), "expected a string")),
        }
    }

    pub(super) fn int(&mut self, key: &'static str) -> Result<Option<i32>> {
        let parsed = match self.take(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            Some(Value::String(s)) => s.trim().parse::<i32>().ok(),
            Some(_) => None,
        };
        parsed.map(Some).ok_or_else(|| invalid(&self.at(key), "expected an integer"))
    }

    pub(super) fn bool(&mut self, key: &'static str) -> Result<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(&self.at(key), "expected true or false")),
        }
    }

    pub(super) fn strings(&mut self, key: &'static str) -> Result<Option<Vec<String>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), "expected a list of strings")),
            Some(_) => Err(invalid(&self.at(key), "expected a list of strings")),
        }
    }

    pub(super) fn ints(&mut self, key: &'static str) -> Result<Option<Vec<i32>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_i64().and_then(|n| i32::try_from(n).ok()))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), "expected a list of integers")),
            Some(_) => Err(invalid(&self.at(key), "expected a list of integers")),
        }
    }

    pub(super) fn string_map(&mut self, key: &'static str) -> Result<Option<HashMap<String, String>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect::<Option<HashMap<_, _>>>()
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), "expected string values")),
            Some(_) => Err(invalid(&self.at(key), "expected an object of strings")),
        }
    }

    pub(super) fn object(&mut self, key: &'static str) -> Result<Option<Reader<'a>>> {
        let path = self.at(key);
        self.take(key).map(|v| Reader::new(path, v)).transpose()
    }

    /// The items of a list of objects, each with its own path (`key[i]`).
    pub(super) fn objects(&mut self, key: &'static str) -> Result<Option<Vec<Reader<'a>>>> {
        let path = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| Reader::new(format!("{path}[{i}]"), v))
                .collect::<Result<_>>()
                .map(Some),
            Some(_) => Err(invalid(&path, "expected a list")),
        }
    }

    /// Reports every field that was present but not read: this version of pipeline does not send it.
    pub(super) fn finish(self, warnings: &mut Vec<String>) {
        for (key, value) in self.map {
            if !value.is_null() && !self.read.contains(key.as_str()) {
                warnings.push(format!("field `{}` is not sent by this version of pipeline", self.at(key)));
            }
        }
    }
}

pub(super) fn invalid(path: &str, message: &str) -> TaskDefinitionError {
    TaskDefinitionError::InvalidField { path: path.to_owned(), message: message.to_owned() }
}

/// A required member the SDK builder refused.
pub(super) fn built<T>(
    path: &str,
    result: std::result::Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T> {
    result.map_err(|e| invalid(path, &e.to_string()))
}
