//! Turns the engine's build progress into readable lines, and remembers what a failure report needs.
//!
//! BuildKit sends binary status updates (vertices, their logs, their errors); they are rendered the way
//! `docker build --progress=plain` does (`#3 [2/3] COPY app /app`, `#3 DONE 0.1s`). The classic builder sends
//! text (`Step 2/3 : COPY app /app`), whose steps are renamed `[2/3] COPY app /app` so both builders name a
//! failing step the same way.

use std::collections::{HashMap, VecDeque};

use bollard::moby::buildkit::v1::StatusResponse;

/// How many lines a failure report keeps.
pub const TAIL_LINES: usize = 20;

#[derive(Debug, Default)]
pub struct BuildLog {
    /// Vertex digest -> its number in the log, in order of first appearance.
    numbers: HashMap<String, usize>,
    names: HashMap<String, String>,
    finished: HashMap<String, bool>,
    tail: VecDeque<String>,
    /// The step that failed (BuildKit: the vertex with an error) or, for the classic builder, the last one started.
    current_step: Option<String>,
    failed_step: Option<String>,
    /// Partial line of classic `stream` output, which does not always end at a newline.
    pending: String,
}

impl BuildLog {
    /// Renders one BuildKit status update into lines (already recorded in the tail).
    pub fn buildkit(&mut self, status: &StatusResponse) -> Vec<String> {
        let mut lines = Vec::new();
        for vertex in &status.vertexes {
            let n = self.number(&vertex.digest);
            if vertex.started.is_some() && !self.names.contains_key(&vertex.digest) {
                self.names.insert(vertex.digest.clone(), vertex.name.clone());
                lines.push(format!("#{n} {}", vertex.name));
            }
            if self.finished.get(&vertex.digest).copied().unwrap_or(false) {
                continue;
            }
            if !vertex.error.is_empty() {
                self.finished.insert(vertex.digest.clone(), true);
                self.failed_step = Some(vertex.name.clone());
                lines.push(format!("#{n} ERROR: {}", vertex.error));
            } else if vertex.cached {
                self.finished.insert(vertex.digest.clone(), true);
                lines.push(format!("#{n} CACHED"));
            } else if let (Some(start), Some(end)) = (&vertex.started, &vertex.completed) {
                self.finished.insert(vertex.digest.clone(), true);
                let secs = (end.seconds - start.seconds) as f64 + f64::from(end.nanos - start.nanos) / 1e9;
                lines.push(format!("#{n} DONE {secs:.1}s"));
            }
        }
        for log in &status.logs {
            let n = self.number(&log.vertex);
            let text = String::from_utf8_lossy(&log.msg);
            lines.extend(text.lines().filter(|l| !l.trim().is_empty()).map(|l| format!("#{n} {l}")));
        }
        for warning in &status.warnings {
            lines.push(format!("WARNING: {}", String::from_utf8_lossy(&warning.short)));
        }
        self.record(&lines);
        lines
    }

    /// Renders classic builder `stream` text into complete lines (already recorded in the tail).
    pub fn classic(&mut self, text: &str) -> Vec<String> {
        self.pending.push_str(text);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            let line = line.trim_end().to_string();
            if line.is_empty() {
                continue;
            }
            if let Some(step) = classic_step(&line) {
                self.current_step = Some(step);
            }
            lines.push(line);
        }
        self.record(&lines);
        lines
    }

    /// Records a line that did not come from the progress stream (the engine's final error message).
    pub fn note(&mut self, line: &str) {
        self.record(&[line.to_string()]);
    }

    /// The failing step: BuildKit names it; for the classic builder it is the last step that started.
    pub fn failed_step(&self) -> Option<String> {
        self.failed_step.clone().or_else(|| self.current_step.clone())
    }

    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    fn number(&mut self, digest: &str) -> usize {
        let next = self.numbers.len() + 1;
        *self.numbers.entry(digest.to_string()).or_insert(next)
    }

    fn record(&mut self, lines: &[String]) {
        for line in lines {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(line.clone());
        }
    }
}

/// `Step 2/3 : COPY app /app` -> `[2/3] COPY app /app`.
fn classic_step(line: &str) -> Option<String> {
    let rest = line.strip_prefix("Step ")?;
    let (counter, instruction) = rest.split_once(" : ")?;
    Some(format!("[{counter}] {instruction}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::moby::buildkit::v1::{Vertex, VertexLog};

    fn vertex(digest: &str, name: &str) -> Vertex {
        Vertex { digest: digest.into(), name: name.into(), ..Default::default() }
    }

    #[test]
    fn classic_steps_and_tail() {
        let mut log = BuildLog::default();
        let lines = log.classic("Step 1/2 : FROM scratch\n ---> \nStep 2/2 : COPY missing /\n");
        assert_eq!(lines, ["Step 1/2 : FROM scratch", " --->", "Step 2/2 : COPY missing /"]);
        assert_eq!(log.classic("partial"), Vec::<String>::new());
        assert_eq!(log.classic(" line\n"), ["partial line"]);
        assert_eq!(log.failed_step().as_deref(), Some("[2/2] COPY missing /"));
        for i in 0..30 {
            log.classic(&format!("line {i}\n"));
        }
        assert_eq!(log.tail().len(), TAIL_LINES);
        assert_eq!(log.tail().last().unwrap(), "line 29");
    }

    #[test]
    fn buildkit_vertices_logs_and_errors() {
        let mut log = BuildLog::default();
        let mut copy = vertex("sha256:b", "[2/2] COPY missing /");
        let mut first = vertex("sha256:a", "[internal] load build definition from Dockerfile");
        first.started = Some(Default::default());
        let lines = log.buildkit(&StatusResponse { vertexes: vec![first.clone()], ..Default::default() });
        assert_eq!(lines, ["#1 [internal] load build definition from Dockerfile"]);
        first.cached = true;
        assert_eq!(log.buildkit(&StatusResponse { vertexes: vec![first], ..Default::default() }), ["#1 CACHED"]);
        copy.started = Some(Default::default());
        copy.error = "failed to compute cache key: \"/missing\" not found".into();
        let logs =
            vec![VertexLog { vertex: "sha256:b".into(), msg: b"some output\n\n".to_vec(), ..Default::default() }];
        let lines = log.buildkit(&StatusResponse { vertexes: vec![copy], logs, ..Default::default() });
        assert_eq!(
            lines,
            [
                "#2 [2/2] COPY missing /",
                "#2 ERROR: failed to compute cache key: \"/missing\" not found",
                "#2 some output"
            ]
        );
        assert_eq!(log.failed_step().as_deref(), Some("[2/2] COPY missing /"));
    }
}
