//! Reading `.pipeline.yml`: file -> YAML tree -> `--set` overrides -> typed `Config` -> normalised `Config`.

use std::path::Path;

use serde_norway::Value;

use super::diagnose::{from_yaml_error, relocate};
use super::error::ConfigError;
use super::model::{Config, Source};
use super::normalize::normalize;
use super::overrides::{self, Override};

/// Loads, overrides, checks and normalises the config at `path`.
///
/// `overrides` are `--set` arguments (`image.target=runtime`, `environments.staging.cluster=blue`), applied to the
/// YAML tree before it is checked, so an override is held to the same rules as the file.
pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound { path: path.to_path_buf() },
        _ => ConfigError::Read { path: path.to_path_buf(), source },
    })?;
    from_text(path, text, overrides)
}

/// As `load`, from text already read; `path` is where it came from (for errors and relative paths).
///
/// Besides plain keys the file may use YAML merge keys (`<<: *staging`) and top-level `x-*` keys to hold anchors,
/// as in Docker Compose files, so environments can share their common settings.
///
/// Every problem of the file is reported at once (up to [`super::error::MAX_PROBLEMS`]): after the first, the
/// offending key is taken out of the tree (or a missing one stood in for) and the rest is checked again.
pub fn from_text(path: &Path, text: String, overrides: &[String]) -> Result<Config, ConfigError> {
    let overrides = overrides.iter().map(|arg| overrides::parse(arg)).collect::<Result<Vec<_>, _>>()?;

    // Parsing the tree first separates malformed YAML from a well-formed file with wrong content.
    let mut tree: Value = serde_norway::from_str(&text).map_err(|e| from_yaml_error(&e, path, &text))?;
    let extended = uses_extensions(&tree);
    if let Value::Mapping(top) = &mut tree {
        top.retain(|key, _| !is_extension_key(key));
    }
    tree.apply_merge().map_err(|e| from_yaml_error(&e, path, &text))?;
    for over in &overrides {
        overrides::apply(&mut tree, over)?;
    }

    // The first problem as reported, and how to get past it to look for more.
    let first: Result<Config, (ConfigError, Option<Fix>)> = if overrides.is_empty() && !extended {
        // Straight from the text, so every error carries the file's own line and column.
        serde_norway::from_str(&text).map_err(|e| {
            let err = from_yaml_error(&e, path, &text);
            let fix = fix_for(&err);
            (err, fix)
        })
    } else {
        // Written back out and read again: the one deserialiser that reports key paths is the text one.
        let expanded = serde_norway::to_string(&tree).map_err(|e| from_yaml_error(&e, path, &text))?;
        match serde_norway::from_str(&expanded) {
            Ok(config) => Ok(config),
            Err(expanded_err) => {
                let err = from_yaml_error(&expanded_err, path, &expanded);
                let fix = fix_for(&err);
                // An error the file has on its own is reported at its exact place in the file...
                if !extended && let Err(file_err) = serde_norway::from_str::<Config>(&text) {
                    Err((from_yaml_error(&file_err, path, &text), fix))
                } else {
                    // ...one on a key an override set names the override; others are placed by their key path.
                    Err((blame_override(relocate(err, path, &text), &overrides), fix))
                }
            }
        }
    };

    let mut problems = Vec::new();
    let mut stand_ins = Vec::new();
    let config = match first {
        Ok(config) => Some(config),
        Err((reported, fix)) => {
            problems.push(reported);
            fix.and_then(|fix| more_problems(fix, tree, path, &text, &overrides, &mut problems, &mut stand_ins))
        }
    };
    if let Some(mut config) = config {
        config.source = Source { path: path.to_path_buf(), text };
        for err in normalize(&mut config) {
            // A key stood in for a missing one has no value of the user's to complain about.
            let stood_in = super::diagnose::key_path(&err).is_some_and(|k| stand_ins.iter().any(|s| k.starts_with(s)));
            // A key required by the one-service form is checked here (`services.rs`): `servce:` is still one mistake.
            let misspelt = matches!(&err, ConfigError::MissingKey { section, key, .. }
                if problems.iter().any(|p| suggests(p, section, key)));
            if !stood_in && !misspelt {
                problems.push(blame_override(err, &overrides));
            }
        }
        if problems.is_empty() {
            return Ok(config);
        }
    }
    Err(ConfigError::from_problems(path, problems).unwrap_or(ConfigError::NotFound { path: path.to_path_buf() }))
}

/// How to get past a problem to look for the next one: take the key out, or stand in for a missing one.
enum Fix {
    Remove { section: String, key: String },
    StandIn { section: String, key: String },
}

fn fix_for(err: &ConfigError) -> Option<Fix> {
    match err {
        ConfigError::UnknownKey { section, key, .. } => {
            Some(Fix::Remove { section: section.clone(), key: key.clone() })
        }
        ConfigError::InvalidValue { field, .. } => {
            let (section, key) = field.rsplit_once('.').unwrap_or(("", field));
            Some(Fix::Remove { section: section.to_owned(), key: key.to_owned() })
        }
        ConfigError::MissingKey { section, key, .. } => {
            Some(Fix::StandIn { section: section.clone(), key: key.clone() })
        }
        _ => None,
    }
}

/// After the first problem: repair the tree past it and deserialise again, collecting each new problem, until the
/// config deserialises (returned, for the checks after deserialising) or no further progress can be made.
fn more_problems(
    mut fix: Fix,
    mut tree: Value,
    path: &Path,
    text: &str,
    overrides: &[Override],
    problems: &mut Vec<ConfigError>,
    stand_ins: &mut Vec<String>,
) -> Option<Config> {
    let mut seen: Vec<String> = Vec::new();
    while problems.len() < super::error::MAX_PROBLEMS {
        let (Fix::Remove { section, key } | Fix::StandIn { section, key }) = &fix;
        seen.push(if section.is_empty() { key.clone() } else { format!("{section}.{key}") });
        if !repair(&mut tree, &fix, stand_ins) {
            return None;
        }
        let expanded = serde_norway::to_string(&tree).ok()?;
        let err = match serde_norway::from_str::<Config>(&expanded) {
            Ok(config) => return Some(config),
            Err(e) => from_yaml_error(&e, path, &expanded),
        };
        let next = fix_for(&err)?;
        let (Fix::Remove { section, key } | Fix::StandIn { section, key }) = &next;
        let full = if section.is_empty() { key.clone() } else { format!("{section}.{key}") };
        // The same key again (a stand-in of the wrong type, a removed required key): no progress.
        if seen.contains(&full) {
            return None;
        }
        // `servce: web` is one mistake: the unknown key's did-you-mean already names the missing `service`.
        let misspelt = matches!(&err, ConfigError::MissingKey { section, key, .. }
            if problems.iter().any(|p| suggests(p, section, key)));
        if !misspelt {
            problems.push(blame_override(relocate(err, path, text), overrides));
        }
        fix = next;
    }
    None
}

/// Whether `problem` is an unknown key in `section` whose suggestion is `key`.
fn suggests(problem: &ConfigError, section: &str, key: &str) -> bool {
    matches!(problem, ConfigError::UnknownKey { section: s, suggestion: Some(k), .. } if s == section && k == key)
}

fn repair(tree: &mut Value, fix: &Fix, stand_ins: &mut Vec<String>) -> bool {
    match fix {
        Fix::Remove { section, key } => match split_index(key) {
            // `tags[1]`: the item goes, the list stays.
            (name, Some(index)) => {
                let list = mapping_at(tree, section).and_then(|m| m.get_mut(name)).and_then(Value::as_sequence_mut);
                match list {
                    Some(l) if index < l.len() => {
                        l.remove(index);
                        true
                    }
                    _ => false,
                }
            }
            (name, None) => mapping_at(tree, section).is_some_and(|m| m.remove(name).is_some()),
        },
        Fix::StandIn { section, key } => {
            let Some(map) = mapping_at(tree, section) else { return false };
            map.insert(Value::String(key.clone()), Value::String("stand-in".into()));
            stand_ins.push(if section.is_empty() { key.clone() } else { format!("{section}.{key}") });
            true
        }
    }
}

/// The mapping at a dotted key path (`environments.staging`, `environments.s.before-deploy[0]`); the top for "".
fn mapping_at<'t>(tree: &'t mut Value, section: &str) -> Option<&'t mut serde_norway::Mapping> {
    let mut here = tree;
    for segment in section.split('.').filter(|s| !s.is_empty()) {
        let (name, index) = split_index(segment);
        here = here.as_mapping_mut()?.get_mut(name)?;
        if let Some(i) = index {
            here = here.as_sequence_mut()?.get_mut(i)?;
        }
    }
    here.as_mapping_mut()
}

/// `before-deploy[0]` -> (`before-deploy`, Some(0)).
fn split_index(segment: &str) -> (&str, Option<usize>) {
    match segment.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
        None => (segment, None),
    }
}

/// Merge keys anywhere, or `x-*` keys at the top level.
fn uses_extensions(tree: &Value) -> bool {
    fn has_merge(value: &Value) -> bool {
        match value {
            Value::Mapping(map) => map.iter().any(|(k, v)| k.as_str() == Some("<<") || has_merge(v)),
            Value::Sequence(items) => items.iter().any(has_merge),
            Value::Tagged(tagged) => has_merge(&tagged.value),
            _ => false,
        }
    }
    let top_extension = tree.as_mapping().is_some_and(|top| top.keys().any(is_extension_key));
    top_extension || has_merge(tree)
}

fn is_extension_key(key: &Value) -> bool {
    key.as_str().is_some_and(|k| k.starts_with("x-"))
}

/// An error on a key an override set is the override's fault: the file's line for that key would mislead.
fn blame_override(err: ConfigError, overrides: &[Override]) -> ConfigError {
    let Some(field) = super::diagnose::key_path(&err) else { return err };
    let culprit = overrides.iter().rev().find(|o| {
        let key = o.path.join(".");
        field.starts_with(&key) || key.starts_with(field.as_str())
    });
    match culprit {
        Some(o) => ConfigError::BadOverride { arg: o.arg.clone(), message: super::diagnose::without_place(&err) },
        None => err,
    }
}
