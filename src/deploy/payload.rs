//! A job's payload: environment values from `--env-file` files (and schedules' `env-file`), in the format Docker's
//! `--env-file` and ECS's `environmentFiles` read: one `KEY=VALUE` a line, `#` comments and blank lines skipped,
//! and the value taken literally up to the end of the line. No quotes are removed and nothing is expanded, which
//! is why this is not a dotenv crate: those strip quotes and expand `$VAR`, and a payload must arrive unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;

/// Reads one env file; a malformed line is an error naming the file and line (its value is never shown).
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    parse(&text)
        .map_err(|line| Error::Payload { message: format!("{}:{line} is not a `KEY=VALUE` line", path.display()) })
}

/// Parses env-file text; the error is the 1-based number of the first bad line.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, usize> {
    let mut values = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(i + 1)?;
        let key = key.trim();
        if !is_name(key) {
            return Err(i + 1);
        }
        values.insert(key.to_owned(), value.to_owned());
    }
    Ok(values)
}

/// An environment variable name ECS and Docker accept: letters, digits and `_`, not starting with a digit.
pub fn is_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_taken_literally() {
        let text = "# a comment\n\nDUMP_URL=s3://bucket/dump.sql?x=1\nNOTE= a \"quoted\" value; rm -rf / $(reboot) \r\nEMPTY=\n";
        let values = parse(text).unwrap();
        assert_eq!(values["DUMP_URL"], "s3://bucket/dump.sql?x=1");
        assert_eq!(values["NOTE"], " a \"quoted\" value; rm -rf / $(reboot) ");
        assert_eq!(values["EMPTY"], "");
    }

    #[test]
    fn a_line_without_a_name_is_refused_by_number() {
        assert_eq!(parse("A=1\nnot a pair\n"), Err(2));
        assert_eq!(parse("1A=x"), Err(1));
        assert_eq!(parse("=x"), Err(1));
    }
}
