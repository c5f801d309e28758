//! Keeps the plan's lines as they are reported, for `pipeline check` to post them.

use std::sync::{Arc, Mutex};

use super::{Event, Sink, Stage};

/// A sink that records `Progress` lines of the plan stage; clone the handle to read them.
#[derive(Clone, Default)]
pub struct PlanRecorder {
    lines: Arc<Mutex<Vec<String>>>,
}

impl PlanRecorder {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Sink for PlanRecorder {
    fn emit(&mut self, event: &Event) {
        if let Event::Progress { stage: Stage::Plan, message } = event
            && let Ok(mut lines) = self.lines.lock()
        {
            lines.push(message.clone());
        }
    }
}
