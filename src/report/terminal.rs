//! The terminal sink: one plain line per event on stderr (machine output stays on stdout).

use std::io::{IsTerminal, Write};

use super::{Event, Sink, Status};

pub struct TerminalSink {
    color: bool,
    verbose: bool,
}

impl TerminalSink {
    /// Colour only on a terminal and never with `NO_COLOR` set (https://no-color.org).
    pub fn new(verbose: bool, no_color: bool) -> Self {
        Self { color: !no_color && std::io::stderr().is_terminal(), verbose }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

impl Sink for TerminalSink {
    fn emit(&mut self, event: &Event) {
        let line = match event {
            Event::RunStarted { command } => format!("{} {command}", self.paint("1", "pipeline")),
            Event::StageStarted { stage, detail } => format!("{} {detail}", self.paint("36", &format!("[{}]", stage.name()))),
            Event::Progress { stage, message } => {
                if !self.verbose && *stage == super::Stage::Build {
                    return;
                }
                format!("  {} {message}", self.paint("2", &format!("{}:", stage.name())))
            }
            Event::StageFinished { stage, detail } => {
                format!("{} {detail}", self.paint("32", &format!("[{}] done", stage.name())))
            }
            Event::RunFinished { outcome } => match (&outcome.error, outcome.status) {
                (Some(_), _) => return, // the error itself is rendered once, by main
                (None, Some(Status::Changes)) => self.paint("33", "plan: changes pending"),
                (None, _) => self.paint("32;1", "done"),
            },
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}
