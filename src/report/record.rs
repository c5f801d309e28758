//! What a run did so far, folded from its events: the timeline and the outcome. The job summary,
//! the Slack card and the check summary are pure renderings of this value.

use std::time::Duration;

use super::{Event, Outcome, Stage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Running,
    Done,
    Failed,
}

/// One stage of the timeline. A stage started twice (one per tag) shows as one step per start.
#[derive(Debug, Clone)]
pub struct Step {
    pub stage: Stage,
    pub detail: String,
    pub state: StepState,
    /// Time since the run started.
    pub started: Duration,
    pub duration: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub command: String,
    pub steps: Vec<Step>,
    /// Last progress line, shown as "now: ..." while running.
    pub last_progress: Option<String>,
    pub traffic_percent: Option<f64>,
    /// The `verify:` checks that ended, in order.
    pub checks: Vec<super::CheckReport>,
    pub diagnostics: Vec<String>,
    pub rollback_reason: Option<String>,
    pub released: Option<(String, String)>,
    /// Appended to the job summary as given.
    pub extra_markdown: Vec<String>,
    pub warnings: Vec<String>,
    pub outcome: Option<Outcome>,
    pub elapsed: Duration,
}

impl RunRecord {
    /// Folds one event in; `at` is the time since the run started (injected so renderings are
    /// reproducible in tests).
    pub fn apply(&mut self, event: &Event, at: Duration) {
        self.elapsed = at;
        match event {
            Event::RunStarted { command } => self.command = command.clone(),
            Event::StageStarted { stage, detail } => {
                self.close_running(at, StepState::Done);
                self.steps.push(Step {
                    stage: *stage,
                    detail: detail.clone(),
                    state: StepState::Running,
                    started: at,
                    duration: None,
                });
            }
            Event::Progress { message, .. } => self.last_progress = Some(message.clone()),
            Event::Traffic { percent } => self.traffic_percent = Some(*percent),
            Event::Check { report } => self.checks.push(report.clone()),
            Event::StageFinished { stage, detail } => match self.running_mut(*stage) {
                Some(step) => {
                    step.state = StepState::Done;
                    step.duration = Some(at.saturating_sub(step.started));
                    if !detail.is_empty() {
                        step.detail = detail.clone();
                    }
                }
                // Finished without a start (e.g. the version, resolved instantly): an instant step.
                None => self.steps.push(Step {
                    stage: *stage,
                    detail: detail.clone(),
                    state: StepState::Done,
                    started: at,
                    duration: Some(Duration::ZERO),
                }),
            },
            Event::Failed { stage, diagnostics } => {
                match self.running_mut(*stage) {
                    Some(step) => {
                        step.state = StepState::Failed;
                        step.duration = Some(at.saturating_sub(step.started));
                    }
                    None => self.steps.push(Step {
                        stage: *stage,
                        detail: String::new(),
                        state: StepState::Failed,
                        started: at,
                        duration: Some(Duration::ZERO),
                    }),
                }
                self.diagnostics.extend(diagnostics.iter().cloned());
            }
            Event::Released { environment, task_definition_arn } => {
                self.released = Some((environment.clone(), task_definition_arn.clone()))
            }
            Event::RolledBack { reason } => self.rollback_reason = Some(reason.clone()),
            Event::Summary { markdown } => self.extra_markdown.push(markdown.clone()),
            Event::Warning { message } => self.warnings.push(message.clone()),
            Event::RunFinished { outcome } => {
                let failed = outcome.error.is_some();
                self.close_running(at, if failed { StepState::Failed } else { StepState::Done });
                self.outcome = Some(outcome.clone());
            }
        }
    }

    /// The stage running now, if any.
    pub fn current(&self) -> Option<&Step> {
        self.steps.iter().rev().find(|s| s.state == StepState::Running)
    }

    pub fn finished(&self) -> bool {
        self.outcome.is_some()
    }

    fn running_mut(&mut self, stage: Stage) -> Option<&mut Step> {
        self.steps.iter_mut().rev().find(|s| s.stage == stage && s.state == StepState::Running)
    }

    /// Closes steps left running: a new stage started (stages are sequential), or the run ended.
    fn close_running(&mut self, at: Duration, state: StepState) {
        for step in self.steps.iter_mut().filter(|s| s.state == StepState::Running) {
            step.state = state;
            step.duration = Some(at.saturating_sub(step.started));
        }
    }
}

/// "850ms", "12.3s", "4m05s": short, for timelines.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_closes_steps_and_records_failures() {
        let mut r = RunRecord::default();
        let s = Duration::from_secs;
        r.apply(&Event::RunStarted { command: "release".into() }, s(0));
        r.apply(&Event::StageFinished { stage: Stage::Version, detail: "v1.2.0".into() }, s(0));
        r.apply(&Event::StageStarted { stage: Stage::Build, detail: "building".into() }, s(1));
        r.apply(&Event::StageStarted { stage: Stage::Deploy, detail: "deploying".into() }, s(5));
        r.apply(&Event::Failed { stage: Stage::Deploy, diagnostics: vec!["task exited 1".into()] }, s(9));
        assert_eq!(r.steps.len(), 3);
        assert_eq!(r.steps[1].state, StepState::Done);
        assert_eq!(r.steps[1].duration, Some(s(4)));
        assert_eq!(r.steps[2].state, StepState::Failed);
        assert_eq!(r.diagnostics, vec!["task exited 1"]);
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(format_duration(s(245)), "4m05s");
    }
}
