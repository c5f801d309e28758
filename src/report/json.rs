//! `--output json`: one JSON document on stdout at the end of the run, errors included. The
//! reporter has already masked secrets in the outcome.

use std::io::Write;

use super::{Event, Sink};

#[derive(Default)]
pub struct JsonSink;

impl Sink for JsonSink {
    fn emit(&mut self, event: &Event) {
        if let Event::RunFinished { outcome } = event {
            let text = serde_json::to_string_pretty(outcome).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            let _ = writeln!(std::io::stdout(), "{text}");
        }
    }
}
