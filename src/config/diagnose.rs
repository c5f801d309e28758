//! Turns serde_norway's errors into `ConfigError`s that name the key, the place and the fix, and finds the place of
//! a key for errors found after deserialising.
//!
//! serde reports unknown keys, missing keys and bad values as message text in a fixed format (serde's own `de::Error`
//! defaults); serde_norway prefixes the key path and gives the line and column. We read those back apart.

use std::path::Path;

use super::error::{At, ConfigError};

/// The message forms of `serde::de::Error`'s provided methods, which our types and serde's derives use.
const SERDE_FORMS: &[&str] = &[
    "unknown field `",
    "unknown variant `",
    "missing field `",
    "duplicate field `",
    "invalid type: ",
    "invalid value: ",
    "invalid length ",
];

pub(crate) fn from_yaml_error(err: &serde_norway::Error, file: &Path, text: &str) -> ConfigError {
    let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
    let at = Box::new(at_line_column(file, text, line, column));
    let full = err.to_string();
    let message = full.replacen(&format!(" at line {line} column {column}"), "", 1);

    let Some((path, body)) = split_path(&message) else {
        return ConfigError::Syntax { at, message };
    };
    let field = if path.is_empty() { "(the document)".to_string() } else { path.clone() };

    if let Some(rest) = body.strip_prefix("unknown field `") {
        let key = until_backtick(rest);
        let expected = backticked(after_expected(rest));
        return ConfigError::UnknownKey { at, suggestion: closest(&key, &expected), key, section: path, expected };
    }
    if let Some(rest) = body.strip_prefix("missing field `") {
        return ConfigError::MissingKey { at, key: until_backtick(rest), section: path };
    }
    if let Some(rest) = body.strip_prefix("unknown variant `") {
        let value = until_backtick(rest);
        let allowed = backticked(after_expected(rest));
        let help = match closest(&value, &allowed) {
            Some(s) => format!("did you mean `{s}`? allowed values: {}", allowed.join(", ")),
            None => format!("use one of: {}", allowed.join(", ")),
        };
        return ConfigError::InvalidValue {
            at,
            field,
            message: format!("`{value}` is not one of: {}", allowed.join(", ")),
            help,
        };
    }
    if let Some(rest) = body.strip_prefix("duplicate field `") {
        return ConfigError::InvalidValue {
            at,
            field,
            message: format!("`{}` is given twice", until_backtick(rest)),
            help: "remove one of the two".to_string(),
        };
    }
    // "invalid type: string \"x\", expected a boolean" -> "expected a boolean, found string \"x\""
    let (found, expected) = body
        .split_once(": ")
        .and_then(|(_, rest)| rest.rsplit_once(", expected "))
        .map_or((body.clone(), String::new()), |(f, e)| (plain_found(f), plain_expected(e)));
    let help = if path == "version" {
        "set `version: 1`; this build of pipeline reads config version 1 only".to_string()
    } else if expected.is_empty() {
        "see `pipeline schema` for what this key accepts".to_string()
    } else {
        format!("write {expected} here")
    };
    let message = if expected.is_empty() { body } else { format!("expected {expected}, found {found}") };
    ConfigError::InvalidValue { at, field, message, help }
}

/// The dotted key path an error is about (`image.context`, `environments.staging`), when it is about one.
pub(crate) fn key_path(err: &ConfigError) -> Option<String> {
    match err {
        ConfigError::UnknownKey { section, key, .. } if section.is_empty() => Some(key.clone()),
        ConfigError::UnknownKey { section, key, .. } => Some(format!("{section}.{key}")),
        ConfigError::MissingKey { section, .. } => Some(section.clone()),
        ConfigError::InvalidValue { field, .. } => Some(field.clone()),
        _ => None,
    }
}

/// The message without its `file:line:column: ` prefix.
pub(crate) fn without_place(err: &ConfigError) -> String {
    let text = err.to_string();
    match err.location() {
        Some((file, line, column)) => {
            let prefix = format!("{}:{line}:{column}: ", file.display());
            text.strip_prefix(&prefix).map(str::to_string).unwrap_or(text)
        }
        None => text,
    }
}

/// An error found in the expanded text (merge keys applied, overrides set) placed back in the file by its key path.
pub(crate) fn relocate(err: ConfigError, file: &Path, text: &str) -> ConfigError {
    let Some(path) = key_path(&err) else {
        return match err {
            ConfigError::Syntax { message, .. } => {
                ConfigError::Syntax { at: Box::new(locate(file, text, &[])), message }
            }
            other => other,
        };
    };
    // `tags[1]` -> `tags`: list items have no key to find.
    let segments: Vec<&str> = path.split('.').map(|s| s.split('[').next().unwrap_or(s)).collect();
    let at = Box::new(locate(file, text, &segments));
    match err {
        ConfigError::UnknownKey { key, section, suggestion, expected, .. } => {
            ConfigError::UnknownKey { at, key, section, suggestion, expected }
        }
        ConfigError::MissingKey { key, section, .. } => ConfigError::MissingKey { at, key, section },
        ConfigError::InvalidValue { field, message, help, .. } => {
            ConfigError::InvalidValue { at, field, message, help }
        }
        other => other,
    }
}

/// serde speaks Rust ("struct Image", "unit value"); the user wrote YAML.
fn plain_expected(expected: &str) -> String {
    if expected.starts_with("struct ") || expected == "a map" {
        "a mapping (`key: value` lines)".to_string()
    } else {
        expected.to_string()
    }
}

fn plain_found(found: &str) -> String {
    match found {
        "unit value" => "an empty value".to_string(),
        "map" => "a mapping".to_string(),
        "sequence" => "a list".to_string(),
        other => other.to_string(),
    }
}

/// Splits "environments.staging: unknown field ..." into ("environments.staging", "unknown field ...").
/// The path is empty at the top level. None when the message is not one of serde's forms (a YAML syntax error).
fn split_path(message: &str) -> Option<(String, String)> {
    if SERDE_FORMS.iter().any(|form| message.starts_with(form)) {
        return Some((String::new(), message.to_string()));
    }
    SERDE_FORMS
        .iter()
        .filter_map(|form| message.find(&format!(": {form}")))
        .min()
        .map(|i| (message[..i].to_string(), message[i + 2..].to_string()))
}

fn until_backtick(text: &str) -> String {
    text.split('`').next().unwrap_or_default().to_string()
}

fn after_expected(text: &str) -> &str {
    text.split_once("expected ").map_or("", |(_, rest)| rest)
}

/// All `quoted` words of serde's "one of `a`, `b`" / "`a` or `b`" lists.
fn backticked(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The most similar candidate, if it is similar enough to be a likely typo.
pub(crate) fn closest(word: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

pub(crate) fn at_line_column(file: &Path, text: &str, line: usize, column: usize) -> At {
    let line_start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let in_line = text[line_start.min(text.len())..].char_indices().nth(column.saturating_sub(1)).map_or(0, |(i, _)| i);
    At::new(file, text, line, column, line_start + in_line)
}

/// Best-effort place of a key path (`["environments", "staging", "strategy"]`) in the file, for errors found after
/// deserialising. Follows the segments in order through the text, skipping comments; falls back to the deepest
/// segment found, then to the start of the file. Overrides have no place in the file, so their keys fall back too.
pub(crate) fn locate(file: &Path, text: &str, path: &[&str]) -> At {
    let mut from = 0;
    let mut found = None;
    for segment in path {
        match find_key(text, segment, from) {
            Some(offset) => {
                from = offset + segment.len();
                found = Some(offset);
            }
            None => break,
        }
    }
    let offset = found.unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    At::new(file, text, line, column, offset)
}

/// The byte offset of `key` used as a mapping key (`key:`, `"key":`) at or after `from`, outside comments.
fn find_key(text: &str, key: &str, from: usize) -> Option<usize> {
    let mut search = from;
    while let Some(i) = text.get(search..)?.find(key) {
        let start = search + i;
        let end = start + key.len();
        search = end;
        let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
        let in_comment = text[line_start..start].contains('#');
        let before = text[..start].chars().next_back();
        let quoted = matches!(before, Some('"' | '\''));
        let key_start = if quoted { start - 1 } else { start };
        let boundary_before =
            text[..key_start].chars().next_back().is_none_or(|c| c.is_whitespace() || c == '{' || c == ',');
        let after = text[end..].trim_start_matches(['"', '\'']);
        if !in_comment && boundary_before && after.starts_with(':') {
            return Some(key_start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_serde_paths() {
        assert_eq!(
            split_path("image: unknown field `contxt`, expected `context`"),
            Some(("image".into(), "unknown field `contxt`, expected `context`".into()))
        );
        assert_eq!(split_path("missing field `version`"), Some((String::new(), "missing field `version`".into())));
        assert_eq!(split_path("mapping values are not allowed in this context"), None);
    }

    #[test]
    fn reads_serde_expected_lists() {
        assert_eq!(backticked("one of `a`, `b`, `c`"), vec!["a", "b", "c"]);
        assert_eq!(backticked("`a` or `b`"), vec!["a", "b"]);
        assert!(backticked("there are no fields").is_empty());
    }

    #[test]
    fn suggests_only_close_words() {
        let keys = vec!["context".to_string(), "dockerfile".to_string(), "target".to_string()];
        assert_eq!(closest("contxt", &keys).as_deref(), Some("context"));
        assert_eq!(closest("zzz", &keys), None);
    }

    #[test]
    fn locates_keys_in_block_and_flow_style() {
        let text =
            "# staging: not this\nenvironments:\n  staging:\n    strategy: codedeploy\n  prod: {strategy: rolling}\n";
        let at = locate(Path::new("p.yml"), text, &["environments", "staging", "strategy"]);
        assert_eq!((at.line, at.column), (4, 5));
        let at = locate(Path::new("p.yml"), text, &["environments", "prod", "strategy"]);
        assert_eq!((at.line, at.column), (5, 10));
        let at = locate(Path::new("p.yml"), text, &["environments", "qa"]);
        assert_eq!((at.line, at.column), (2, 1));
    }
}
