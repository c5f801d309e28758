//! `--set key.path=value`: edits of the YAML tree, applied before it is deserialised so that an override is checked
//! exactly like the same text in the file.

use serde_norway::{Mapping, Value};

use super::error::ConfigError;

/// One parsed `--set` argument.
#[derive(Debug, Clone)]
pub(crate) struct Override {
    pub arg: String,
    pub path: Vec<String>,
    pub value: Value,
}

pub(crate) fn parse(arg: &str) -> Result<Override, ConfigError> {
    let bad = |message: &str| ConfigError::BadOverride { arg: arg.to_string(), message: message.to_string() };
    let (key, value) = arg.split_once('=').ok_or_else(|| bad("expected `key.path=value`"))?;
    let path: Vec<String> = key.trim().split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(bad("the key path has an empty segment"));
    }
    // A YAML scalar (or flow collection) so that `true`, `3` and `[semver, sha]` mean what they mean in the file;
    // an empty value is the empty string, not null.
    let value = if value.trim().is_empty() {
        Value::String(String::new())
    } else {
        let parsed: Value =
            serde_norway::from_str(value).map_err(|e| bad(&format!("the value is not valid YAML: {e}")))?;
        keep_number_text(parsed, value.trim())
    };
    Ok(Override { arg: arg.to_string(), path, value })
}

/// The tree is written back to YAML before it is checked, and a number is written in its canonical form: `1.10`
/// would come back as `1.1`. A number that would change keeps its text as a string (`VERSION=1.10` stays "1.10").
fn keep_number_text(value: Value, text: &str) -> Value {
    if let Value::Number(_) = &value {
        let canonical = serde_norway::to_string(&value).unwrap_or_default();
        if canonical.trim() != text {
            return Value::String(text.to_string());
        }
    }
    value
}

/// Sets `value` at `path`, creating missing mappings on the way. A numeric segment indexes a sequence.
pub(crate) fn apply(root: &mut Value, over: &Override) -> Result<(), ConfigError> {
    let mut node = root;
    for (depth, segment) in over.path.iter().enumerate() {
        let last = depth + 1 == over.path.len();
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        node = match node {
            Value::Mapping(map) => {
                let key = Value::String(segment.clone());
                if last {
                    map.insert(key, over.value.clone());
                    return Ok(());
                }
                map.entry(key).or_insert(Value::Null)
            }
            Value::Sequence(items) => {
                let len = items.len();
                let index =
                    segment.parse::<usize>().ok().filter(|i| *i < len).ok_or_else(|| ConfigError::BadOverride {
                        arg: over.arg.clone(),
                        message: format!(
                            "`{}` is a list of {len}; `{segment}` is not an index in it",
                            over.path[..depth].join(".")
                        ),
                    })?;
                if last {
                    items[index] = over.value.clone();
                    return Ok(());
                }
                &mut items[index]
            }
            _ => {
                return Err(ConfigError::BadOverride {
                    arg: over.arg.clone(),
                    message: format!("`{}` is a single value, not a mapping", over.path[..depth].join(".")),
                });
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(doc: &str, arg: &str) -> Result<Value, ConfigError> {
        let mut value: Value = serde_norway::from_str(doc).expect("test YAML");
        apply(&mut value, &parse(arg)?)?;
        Ok(value)
    }

    #[test]
    fn sets_nested_keys_and_creates_missing_mappings() {
        let v = set("image: {repository: web}", "image.target=runtime").unwrap();
        assert_eq!(v["image"]["target"], Value::String("runtime".into()));
        let v = set("image: {repository: web}", "environments.staging.cluster=blue").unwrap();
        assert_eq!(v["environments"]["staging"]["cluster"], Value::String("blue".into()));
    }

    #[test]
    fn values_are_yaml_scalars() {
        let v = set("image: {}", "image.create-repository=false").unwrap();
        assert_eq!(v["image"]["create-repository"], Value::Bool(false));
        let v = set("tags: [sha]", "tags=[semver, sha]").unwrap();
        assert_eq!(v["tags"].as_sequence().map(Vec::len), Some(2));
        let v = set("image: {}", "image.build-args.VERSION=1.10").unwrap();
        assert_eq!(v["image"]["build-args"]["VERSION"], Value::String("1.10".into()));
        let v = set("image: {}", "guard.five-xx.threshold=7").unwrap();
        assert_eq!(v["guard"]["five-xx"]["threshold"], Value::Number(7.into()));
        let v = set("tags: [sha, latest]", "tags.1=semver").unwrap();
        assert_eq!(v["tags"][1], Value::String("semver".into()));
    }

    #[test]
    fn malformed_overrides_are_refused() {
        let err = set("image: {}", "image.target").unwrap_err();
        assert!(err.to_string().contains("expected `key.path=value`"), "{err}");
        let err = set("image: web", "image.target=x").unwrap_err();
        assert!(err.to_string().contains("`image` is a single value"), "{err}");
        let err = set("tags: [sha]", "tags.5=semver").unwrap_err();
        assert!(err.to_string().contains("not an index"), "{err}");
        let err = set("image: {}", "image..target=x").unwrap_err();
        assert!(err.to_string().contains("empty segment"), "{err}");
    }
}
