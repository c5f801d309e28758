//! The terminal sink, on stderr (machine output stays on stdout): spinners and a traffic bar on a
//! TTY; otherwise exactly one plain line per event, as CI logs want.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Console, Event, Redactor, Sink, Stage, Status};

pub struct TerminalSink {
    color: bool,
    verbose: bool,
    console: Console,
    redactor: Redactor,
    /// Present only on a TTY.
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    /// The spinner of each running stage.
    running: Vec<(Stage, ProgressBar)>,
    traffic: Option<ProgressBar>,
}

impl TerminalSink {
    /// Colour only on a terminal and never with `NO_COLOR` set (https://no-color.org).
    pub fn new(verbose: bool, no_color: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        Self::with_console(verbose, tty && !no_color, tty, Console::stderr())
    }

    /// `tty` selects progress bars (drawn on stderr) over plain lines written to `console`.
    pub fn with_console(verbose: bool, color: bool, tty: bool, console: Console) -> Self {
        let bars = tty.then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            running: Vec::new(),
            traffic: None,
        });
        Self { color, verbose, console, redactor: Redactor::default(), bars }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    /// The one plain line for an event; `None` when the event shows nothing.
    fn plain_line(&self, event: &Event) -> Option<String> {
        Some(match event {
            Event::RunStarted { command } => format!("{} {command}", self.paint("1", "pipeline")),
            Event::StageStarted { stage, detail } => {
                format!("{} {detail}", self.paint("36", &format!("[{}]", stage.name())))
            }
            Event::Progress { stage, message } => {
                if !self.verbose && *stage == Stage::Build {
                    return None;
                }
                format!("  {} {message}", self.paint("2", &format!("{}:", stage.name())))
            }
            Event::Traffic { percent } => {
                format!("  {} {percent:.0}% on the new release", self.paint("2", "traffic:"))
            }
            Event::StageFinished { stage, detail } => {
                format!("{} {detail}", self.paint("32", &format!("[{}] done", stage.name())))
            }
            Event::Check { report } => {
                let mark = if report.passed { self.paint("32", "pass") } else { self.paint("31", "FAIL") };
                format!("  {} {mark} {}", self.paint("2", "verify:"), report.line())
            }
            Event::Failed { stage, diagnostics } => {
                let head = self.paint("31", &format!("[{}] failed", stage.name()));
                // Diagnostics are read by people after a failure: one per line, indented.
                let lines: Vec<String> = diagnostics.iter().map(|d| format!("\n    {d}")).collect();
                format!("{head}{}", lines.concat())
            }
            Event::Released { environment, task_definition_arn } => {
                format!("{} {environment} runs {task_definition_arn}", self.paint("32;1", "released"))
            }
            Event::RolledBack { reason } => format!("{} {reason}", self.paint("33;1", "rolled back:")),
            Event::Warning { message } => format!("{} {message}", self.paint("33", "warning:")),
            Event::Summary { .. } => return None,
            Event::RunFinished { outcome } => {
                // A release of several services: one line each, on every path (the error follows from main).
                let services: String =
                    outcome.services.iter().map(|s| format!("  service {}\n", s.describe())).collect();
                let end = match (&outcome.error, outcome.status) {
                    (Some(_), _) if services.is_empty() => return None, // the error itself is rendered once, by main
                    (Some(_), _) => return Some(services.trim_end().to_owned()),
                    (None, Some(Status::Changes)) => self.paint("33", "plan: changes pending"),
                    (None, _) => self.paint("32;1", "done"),
                };
                format!("{services}{end}")
            }
        })
    }

    fn emit_bars(&mut self, event: &Event) {
        let line = self.plain_line(event).map(|l| self.redactor.redact(&l));
        let Some(bars) = &mut self.bars else { return };
        let spinner = ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        match event {
            Event::StageStarted { stage, .. } => {
                let bar = bars.multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner);
                bar.set_message(line.unwrap_or_default());
                bar.enable_steady_tick(Duration::from_millis(100));
                bars.running.push((*stage, bar));
            }
            Event::Progress { stage, message } => match bars.running.iter().rev().find(|(s, _)| s == stage) {
                Some((_, bar)) if !self.verbose => {
                    bar.set_message(format!("[{}] {}", stage.name(), self.redactor.redact(message)))
                }
                _ => {
                    if let Some(line) = line {
                        let _ = bars.multi.println(line);
                    }
                }
            },
            Event::Traffic { percent } => {
                let bar = bars.traffic.get_or_insert_with(|| {
                    let bar = bars.multi.add(ProgressBar::new(100));
                    bar.set_style(
                        ProgressStyle::with_template("  traffic [{bar:30.green/dim}] {pos}% on the new release")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar
                });
                bar.set_position(percent.clamp(0.0, 100.0).round() as u64);
            }
            Event::StageFinished { stage, .. } | Event::Failed { stage, .. } => {
                if let Some(i) = bars.running.iter().rposition(|(s, _)| s == stage) {
                    let (_, bar) = bars.running.remove(i);
                    bar.finish_and_clear();
                }
                if *stage == Stage::Traffic
                    && let Some(bar) = bars.traffic.take()
                {
                    bar.finish();
                }
                if let Some(line) = line {
                    let _ = bars.multi.println(line);
                }
            }
            Event::RunFinished { .. } => {
                for (_, bar) in bars.running.drain(..) {
                    bar.finish_and_clear();
                }
                if let Some(bar) = bars.traffic.take() {
                    bar.finish();
                }
                if let Some(line) = line {
                    let _ = bars.multi.println(line);
                }
            }
            _ => {
                if let Some(line) = line {
                    let _ = bars.multi.println(line);
                }
            }
        }
    }
}

impl Sink for TerminalSink {
    fn emit(&mut self, event: &Event) {
        if self.bars.is_some() {
            return self.emit_bars(event);
        }
        if let Some(line) = self.plain_line(event) {
            self.console.line(&self.redactor.redact(&line));
        }
    }

    fn mask(&mut self, secret: &str) {
        self.redactor.add(secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    #[test]
    fn plain_output_is_a_line_per_event_and_a_line_per_diagnostic_without_colour() {
        let (console, captured) = Console::capture();
        let mut sink = TerminalSink::with_console(false, false, false, console);
        sink.mask("s3cr3t-value");
        let events = [
            Event::RunStarted { command: "release".into() },
            Event::StageStarted { stage: Stage::Deploy, detail: "deploying web:42".into() },
            Event::Traffic { percent: 40.0 },
            Event::Failed { stage: Stage::Deploy, diagnostics: vec!["alarm fired".into(), "s3cr3t-value".into()] },
            Event::RolledBack { reason: "5xx alarm".into() },
            Event::RunFinished { outcome: Outcome::default() },
        ];
        for e in &events {
            sink.emit(e);
        }
        let text = captured.text();
        assert_eq!(
            text,
            "pipeline release\n[deploy] deploying web:42\n  traffic: 40% on the new release\n\
             [deploy] failed\n    alarm fired\n    ***\nrolled back: 5xx alarm\ndone\n"
        );
        assert!(!text.contains('\x1b'));
    }
}
