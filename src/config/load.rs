//! Reading `.pipeline.yml`: file -> YAML tree -> `--set` overrides -> typed `Config` -> normalised `Config`.

use std::path::Path;

use serde_norway::Value;

use super::diagnose::from_yaml_error;
use super::error::ConfigError;
use super::model::{Config, Source};
use super::normalize::normalize;
use super::overrides;

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
pub fn from_text(path: &Path, text: String, overrides: &[String]) -> Result<Config, ConfigError> {
    let overrides = overrides.iter().map(|arg| overrides::parse(arg)).collect::<Result<Vec<_>, _>>()?;

    // Parsing the tree first separates malformed YAML from a well-formed file with wrong content.
    let mut tree: Value = serde_norway::from_str(&text).map_err(|e| from_yaml_error(&e, path, &text))?;

    let mut config: Config = if overrides.is_empty() {
        // Straight from the text, so every error carries the file's own line and column.
        serde_norway::from_str(&text).map_err(|e| from_yaml_error(&e, path, &text))?
    } else {
        for over in &overrides {
            overrides::apply(&mut tree, over)?;
        }
        let merged = serde_norway::to_string(&tree).map_err(|e| ConfigError::BadOverride {
            arg: overrides.iter().map(|o| o.arg.as_str()).collect::<Vec<_>>().join(" "),
            message: e.to_string(),
        })?;
        match serde_norway::from_str(&merged) {
            Ok(config) => config,
            Err(merged_err) => {
                // An error the file has on its own is reported at its place in the file...
                if let Err(file_err) = serde_norway::from_str::<Config>(&text) {
                    return Err(from_yaml_error(&file_err, path, &text));
                }
                // ...otherwise an override caused it: name the override, since it has no line in the file.
                return Err(blame_override(&merged_err, &overrides));
            }
        }
    };
    config.source = Source { path: path.to_path_buf(), text };
    normalize(&mut config).map_err(|err| blame_override_for_check(err, &overrides))?;
    Ok(config)
}

/// A check that fails on a key an override set is the override's fault: the file's line for that key would mislead.
fn blame_override_for_check(err: ConfigError, overrides: &[overrides::Override]) -> ConfigError {
    let ConfigError::InvalidValue { field, message, .. } = &err else { return err };
    let culprit = overrides.iter().rev().find(|o| {
        let key = o.path.join(".");
        field.starts_with(&key) || key.starts_with(field.as_str())
    });
    match culprit {
        Some(o) => ConfigError::BadOverride { arg: o.arg.clone(), message: format!("`{field}`: {message}") },
        None => err,
    }
}

fn blame_override(err: &serde_norway::Error, overrides: &[overrides::Override]) -> ConfigError {
    let message = match err.location() {
        Some(l) => err.to_string().replacen(&format!(" at line {} column {}", l.line(), l.column()), "", 1),
        None => err.to_string(),
    };
    // serde_norway prefixes the failing key path ("environments.staging.timeout: ..."); the override whose path
    // shares the longest prefix with it is the culprit. Several overrides, none matching: name them all.
    let error_path = message.split(": ").next().unwrap_or_default();
    let culprit = overrides
        .iter()
        .filter(|o| {
            let key = o.path.join(".");
            error_path.starts_with(&key) || key.starts_with(error_path)
        })
        .max_by_key(|o| o.path.len());
    let arg = match culprit {
        Some(o) => o.arg.clone(),
        None => overrides.iter().map(|o| o.arg.as_str()).collect::<Vec<_>>().join(" "),
    };
    ConfigError::BadOverride { arg, message }
}
