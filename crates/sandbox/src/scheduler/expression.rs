//! Schedule expressions (REFERENCE A1): `at(yyyy-mm-ddThh:mm:ss)` once, `rate(value unit)` and six-field
//! `cron(minutes hours day-of-month month day-of-week year)`, evaluated in the schedule's time zone.

use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

#[derive(Debug, Clone)]
pub enum Expression {
    /// One invocation at this wall-clock time of the schedule's time zone.
    At(DateTime),
    /// Every this long, from the schedule's start.
    Rate(Duration),
    Cron(Box<Cron>),
}

impl Expression {
    /// Parses an expression; the error is the message of AWS's `ValidationException`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("Invalid Schedule Expression {text}.");
        let inner = |prefix: &str| text.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
        if let Some(at) = inner("at(") {
            // Exactly `yyyy-mm-ddThh:mm:ss`, no offset: the time zone is a member of its own.
            let shaped = at.len() == 19 && at.as_bytes()[10] == b'T';
            return at.parse::<DateTime>().ok().filter(|_| shaped).map(Expression::At).ok_or_else(invalid);
        }
        if let Some(rate) = inner("rate(") {
            let mut parts = rate.split_whitespace();
            let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(invalid());
            };
            let value: u64 = value.parse().ok().filter(|v| *v > 0).ok_or_else(invalid)?;
            let secs = match unit {
                "minute" | "minutes" => 60,
                "hour" | "hours" => 3600,
                "day" | "days" => 86_400,
                _ => return Err(invalid()),
            };
            return Ok(Expression::Rate(Duration::from_secs(value.checked_mul(secs).ok_or_else(invalid)?)));
        }
        if let Some(cron) = inner("cron(") {
            let fields: Vec<&str> = cron.split_whitespace().collect();
            // Six fields, and one of day-of-month and day-of-week must be `?` (the other decides).
            if fields.len() != 6 || (fields[2] != "?") == (fields[4] != "?") {
                return Err(invalid());
            }
            // AWS's fields are Quartz's without the seconds: 1-7 = SUN-SAT, L, W and # as in Quartz, and
            // `0/15` for "from 0, every 15" (AWS's own example for every 15 minutes).
            let parser = CronParser::builder()
                .seconds(Seconds::Required)
                .year(Year::Required)
                .alternative_weekdays(true)
                .sloppy_ranges(true)
                .build();
            return parser
                .parse(&format!("0 {}", fields.join(" ")))
                .map(|c| Expression::Cron(Box::new(c)))
                .map_err(|_| invalid());
        }
        Err(invalid())
    }

    pub fn is_one_time(&self) -> bool {
        matches!(self, Expression::At(_))
    }

    /// The first invocation strictly after `after`, not before `start` (the schedule's StartDate or creation)
    /// and not after `end`; `None` when there is none.
    pub fn next(&self, tz: &TimeZone, start: Timestamp, after: Timestamp, end: Option<Timestamp>) -> Option<Timestamp> {
        let next = match self {
            // StartDate and EndDate are ignored for one-time schedules.
            Expression::At(at) => {
                let t = at.to_zoned(tz.clone()).ok()?.timestamp();
                return (t > after).then_some(t);
            }
            Expression::Rate(every) => {
                let every = i64::try_from(every.as_secs()).ok()?.max(1);
                let elapsed = after.as_second() - start.as_second();
                let n = if elapsed < 0 { 1 } else { elapsed / every + 1 };
                Timestamp::from_second(start.as_second().checked_add(n.checked_mul(every)?)?).ok()?
            }
            Expression::Cron(cron) => {
                let from = Zoned::new(after.max(start), tz.clone());
                cron.find_next_occurrence(&from, false).ok()?.timestamp()
            }
        };
        end.is_none_or(|end| next <= end).then_some(next)
    }
}

/// The IANA time zone a schedule names (UTC when none), or AWS's validation message.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|_| format!("Invalid ScheduleExpressionTimezone {name}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn expressions_parse_as_aws_documents_them() {
        assert!(Expression::parse("at(2026-12-01T03:00:00)").unwrap().is_one_time());
        assert!(Expression::parse("rate(5 minutes)").is_ok());
        assert!(Expression::parse("rate(1 day)").is_ok());
        assert!(Expression::parse("cron(0 3 * * ? *)").is_ok());
        assert!(Expression::parse("cron(15 10 ? * 6L 2026-2030)").is_ok());
        assert!(Expression::parse("cron(0/15 * * * ? *)").is_ok());
        for bad in [
            "at(2026-12-01 03:00:00)",
            "at(2026-12-01T03:00:00Z)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "cron(0 3 * * *)",
            "cron(0 3 * * MON *)",
            "cron(0 3 ? * ? *)",
            "every day",
        ] {
            assert!(Expression::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn at_is_evaluated_in_the_schedules_time_zone() {
        let at = Expression::parse("at(2026-12-01T03:00:00)").unwrap();
        let oslo = time_zone(Some("Europe/Oslo")).unwrap();
        let start = ts("2026-11-30T00:00:00Z");
        assert_eq!(at.next(&oslo, start, start, None), Some(ts("2026-12-01T02:00:00Z")));
        assert_eq!(at.next(&TimeZone::UTC, start, ts("2026-12-01T03:00:00Z"), None), None, "only once");
        assert!(time_zone(Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn rate_counts_from_the_start_and_cron_follows_its_fields() {
        let rate = Expression::parse("rate(5 minutes)").unwrap();
        let start = ts("2026-12-01T00:00:00Z");
        assert_eq!(rate.next(&TimeZone::UTC, start, start, None), Some(ts("2026-12-01T00:05:00Z")));
        assert_eq!(
            rate.next(&TimeZone::UTC, start, ts("2026-12-01T00:07:00Z"), None),
            Some(ts("2026-12-01T00:10:00Z"))
        );
        assert_eq!(rate.next(&TimeZone::UTC, start, start, Some(ts("2026-12-01T00:04:00Z"))), None, "past EndDate");

        // 03:00 on weekdays (2-6 = MON-FRI in AWS's numbering); 2026-12-05 is a Saturday.
        let cron = Expression::parse("cron(0 3 ? * 2-6 *)").unwrap();
        let after = ts("2026-12-04T04:00:00Z");
        assert_eq!(cron.next(&TimeZone::UTC, start, after, None), Some(ts("2026-12-07T03:00:00Z")));
        let oslo = time_zone(Some("Europe/Oslo")).unwrap();
        assert_eq!(cron.next(&oslo, start, after, None), Some(ts("2026-12-07T02:00:00Z")));
    }
}
