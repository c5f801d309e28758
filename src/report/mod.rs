//! One place reports: the pipeline emits typed events, sinks render them (terminal, JSON document;
//! GitHub and Slack sinks subscribe the same way).

mod event;
mod json;
mod terminal;

pub use event::{ErrorReport, ErrorReportExt, Event, Outcome, Stage, Status};
pub use json::JsonSink;
pub use terminal::TerminalSink;

/// A destination for events. A sink that fails must warn and carry on: reporting never fails a release.
pub trait Sink: Send {
    fn emit(&mut self, event: &Event);
}

/// Fans every event out to every sink, in order.
#[derive(Default)]
pub struct Reporter {
    sinks: Vec<Box<dyn Sink>>,
}

impl Reporter {
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        Self { sinks }
    }

    pub fn emit(&mut self, event: Event) {
        for sink in &mut self.sinks {
            sink.emit(&event);
        }
    }

    pub fn started(&mut self, stage: Stage, detail: impl Into<String>) {
        self.emit(Event::StageStarted { stage, detail: detail.into() });
    }

    pub fn progress(&mut self, stage: Stage, message: impl Into<String>) {
        self.emit(Event::Progress { stage, message: message.into() });
    }

    pub fn finished(&mut self, stage: Stage, detail: impl Into<String>) {
        self.emit(Event::StageFinished { stage, detail: detail.into() });
    }
}
