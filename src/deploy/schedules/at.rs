//! `run-task --at TIME`: an instant with an explicit offset (`2026-12-01T03:00Z`, `2026-12-01T04:00:00+01:00`),
//! turned into a one-time `at(yyyy-mm-ddThh:mm:ss)` expression in UTC (REFERENCE A1).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset, macros::format_description};

/// The expression, or what is wrong with the time (a past time too: it would never run).
pub fn one_time_expression(text: &str, now: OffsetDateTime) -> Result<String, String> {
    let text = text.trim();
    // RFC 3339 wants seconds; `03:00Z` is how people write it.
    let with_seconds = match text.find('T') {
        Some(t) if text[t + 1..].find(['Z', 'z', '+', '-']).is_some_and(|end| end == 5) => {
            let split = t + 6;
            format!("{}:00{}", &text[..split], &text[split..])
        }
        _ => text.to_owned(),
    };
    let at = OffsetDateTime::parse(&with_seconds, &Rfc3339).map_err(|_| {
        format!("`{text}` is not a time with an offset, e.g. 2026-12-01T03:00Z or 2026-12-01T04:00+01:00")
    })?;
    if at <= now {
        return Err(format!("{text} is in the past"));
    }
    let utc = at.to_offset(UtcOffset::UTC);
    let formatted =
        utc.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]")).map_err(|e| e.to_string())?;
    Ok(format!("at({formatted})"))
}

/// The one-time schedule's name: `once-<task>-<yyyymmddThhmm>-<4 hex>`, within 64 characters of `[0-9a-zA-Z-_.]`.
pub fn one_time_name(task: &str, expression: &str) -> String {
    let stamp: String = expression.chars().filter(char::is_ascii_digit).take(12).collect();
    let task: String =
        task.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let suffix = format!("-{stamp}-{:04x}", rand::random::<u16>());
    let room = 64 - crate::config::schedule::ONE_TIME_PREFIX.len() - suffix.len();
    format!("{}{}{suffix}", crate::config::schedule::ONE_TIME_PREFIX, &task[..task.len().min(room)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-11-30T12:00:00Z", &Rfc3339).unwrap()
    }

    #[test]
    fn times_with_an_offset_become_utc_at_expressions() {
        assert_eq!(one_time_expression("2026-12-01T03:00Z", now()).unwrap(), "at(2026-12-01T03:00:00)");
        assert_eq!(one_time_expression("2026-12-01T04:00:30+01:00", now()).unwrap(), "at(2026-12-01T03:00:30)");
        assert!(one_time_expression("2026-12-01T03:00", now()).unwrap_err().contains("offset"));
        assert!(one_time_expression("2026-11-01T03:00Z", now()).unwrap_err().contains("past"));
        assert!(one_time_expression("tomorrow", now()).is_err());
    }

    #[test]
    fn names_are_owned_and_bounded() {
        let name = one_time_name(&"x".repeat(80), "at(2026-12-01T03:00:00)");
        assert!(name.starts_with("once-xxx") && name.len() <= 64, "{name}");
        assert!(name.contains("-202612010300-"), "{name}");
    }
}
