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
pub fn from_text(path: &Path, text: String, overrides: &[String]) -> Result<Config, ConfigError> {
    let overrides = overrides.iter().map(|arg| overrides::parse(arg)).collect::<Result<Vec<_>, _>>()?;

    // Parsing the tree first separates malformed YAML from a well-formed file with wrong content.
    let mut tree: Value = serde_norway::from_str(&text).map_err(|e| from_yaml_error(&e, path, &text))?;
    let extended = uses_extensions(&tree);

    let mut config: Config = if overrides.is_empty() && !extended {
        // Straight from the text, so every error carries the file's own line and column.
        serde_norway::from_str(&text).map_err(|e| from_yaml_error(&e, path, &text))?
    } else {
        if let Value::Mapping(top) = &mut tree {
            top.retain(|key, _| !is_extension_key(key));
        }
        tree.apply_merge().map_err(|e| from_yaml_error(&e, path, &text))?;
        for over in &overrides {
            overrides::apply(&mut tree, over)?;
        }
        // Written back out and read again: the one deserialiser that reports key paths is the text one.
        let expanded = serde_norway::to_string(&tree).map_err(|e| from_yaml_error(&e, path, &text))?;
        match serde_norway::from_str(&expanded) {
            Ok(config) => config,
            Err(expanded_err) => {
                // An error the file has on its own is reported at its exact place in the file...
                if !extended && let Err(file_err) = serde_norway::from_str::<Config>(&text) {
                    return Err(from_yaml_error(&file_err, path, &text));
                }
                // ...one on a key an override set names the override; others are placed by their key path.
                let err = from_yaml_error(&expanded_err, path, &expanded);
                return Err(blame_override(relocate(err, path, &text), &overrides));
            }
        }
    };
    config.source = Source { path: path.to_path_buf(), text };
    normalize(&mut config).map_err(|err| blame_override(err, &overrides))?;
    Ok(config)
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
