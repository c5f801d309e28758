//! `environments.<name>.verify`: checks run on test traffic before production traffic moves, and the
//! CodeDeploy AppSpec `hooks:` (both are what a release runs before users see it).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::{self, DurationSchema};

/// One check on the new release while only test traffic reaches it; every check must pass before production
/// traffic moves, and a failed one rolls back before any user request reaches the new release.
/// In YAML a one-key mapping, `{http: {...}}` or `{run-task: NAME}` (serde_norway would want a `!tag` for an enum).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", try_from = "CheckEntry")]
pub enum VerifyCheck {
    /// HTTP requests to the test listener (or `url`): each must answer `expect` (and contain `body`).
    Http(HttpCheck),
    /// Run the task of this name (from `tasks:`) inside the VPC; exit code 0 passes.
    RunTask(String),
}

/// One check: `http: {...}` or `run-task: NAME`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
struct CheckEntry {
    /// HTTP requests to the test listener (or `url`): each must answer `expect` (and contain `body`).
    #[serde(default)]
    http: Option<HttpCheck>,
    /// Run the task of this name (from `tasks:`) inside the VPC; exit code 0 passes.
    #[serde(default)]
    run_task: Option<String>,
}

impl TryFrom<CheckEntry> for VerifyCheck {
    type Error = String;

    fn try_from(entry: CheckEntry) -> Result<Self, String> {
        match (entry.http, entry.run_task) {
            (Some(h), None) => Ok(VerifyCheck::Http(h)),
            (None, Some(t)) => Ok(VerifyCheck::RunTask(t)),
            _ => Err("a check is one of `http: {...}` or `run-task: NAME`, one per list item".into()),
        }
    }
}

/// An HTTP probe of the new release on the test listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpCheck {
    /// The path requested, e.g. `/health`.
    pub path: String,
    /// The status every request must answer.
    #[serde(default = "default_expect")]
    #[schemars(extend("default" = 200), range(min = 100, max = 599))]
    pub expect: u16,
    /// Text the response body must contain.
    #[serde(default)]
    pub body: Option<String>,
    /// How many requests to send (unless `duration` is given).
    #[serde(default = "default_requests")]
    #[schemars(extend("default" = 10), range(min = 1, max = 100000))]
    pub requests: u32,
    /// Keep probing this long instead of a fixed number of requests.
    #[serde(default, deserialize_with = "duration::deserialize_option")]
    #[schemars(with = "Option<DurationSchema>")]
    pub duration: Option<Duration>,
    /// The pause between two requests.
    #[serde(default = "default_interval", deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "100ms"))]
    pub interval: Duration,
    /// The longest one request may take; a request without an answer by then is a failure.
    #[serde(default = "default_request_timeout", deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "5s"))]
    pub timeout: Duration,
    /// The share of failed requests (0 to 1) the check tolerates.
    #[serde(default)]
    #[schemars(extend("default" = 0.0), range(min = 0.0, max = 1.0))]
    pub max_error_rate: f64,
    /// The base URL to probe instead of the test listener's (`http://<load balancer DNS name>:<port>`), e.g. when
    /// the runner reaches the test listener through another name.
    #[serde(default)]
    pub url: Option<String>,
}

fn default_expect() -> u16 {
    200
}

fn default_requests() -> u32 {
    10
}

fn default_interval() -> Duration {
    Duration::from_millis(100)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(5)
}

/// The lifecycle hooks of a CodeDeploy ECS AppSpec (REFERENCE 3.2): Lambda functions CodeDeploy invokes at these
/// events. Only these five events take hooks for ECS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AppSpecHooks {
    /// Before the replacement task set is created.
    #[serde(default)]
    pub before_install: Option<String>,
    /// After the replacement task set is created and one target group is attached to it.
    #[serde(default)]
    pub after_install: Option<String>,
    /// After the test listener serves traffic to the replacement task set (ignored without a test listener).
    #[serde(default)]
    pub after_allow_test_traffic: Option<String>,
    /// Before production traffic moves to the replacement task set.
    #[serde(default)]
    pub before_allow_traffic: Option<String>,
    /// After production traffic moved to the replacement task set.
    #[serde(default)]
    pub after_allow_traffic: Option<String>,
}

impl AppSpecHooks {
    /// (event, function) in the order CodeDeploy runs them.
    pub fn pairs(&self) -> Vec<(String, String)> {
        [
            ("BeforeInstall", &self.before_install),
            ("AfterInstall", &self.after_install),
            ("AfterAllowTestTraffic", &self.after_allow_test_traffic),
            ("BeforeAllowTraffic", &self.before_allow_traffic),
            ("AfterAllowTraffic", &self.after_allow_traffic),
        ]
        .into_iter()
        .filter_map(|(event, f)| f.as_ref().map(|f| (event.to_owned(), f.clone())))
        .collect()
    }
}

/// What is wrong with one check, if anything (the key it is about, the message and the fix).
pub(crate) fn problem(check: &VerifyCheck, tasks: &[String]) -> Option<(&'static str, String, String)> {
    match check {
        VerifyCheck::RunTask(name) if !tasks.contains(name) => Some((
            "run-task",
            format!("`run-task: {name}` names no task under `tasks:`"),
            match super::diagnose::closest(name, tasks) {
                Some(s) => format!("did you mean `{s}`?"),
                None if tasks.is_empty() => "define it under `tasks:`".to_owned(),
                None => format!("the tasks defined under `tasks:` are: {}", tasks.join(", ")),
            },
        )),
        VerifyCheck::RunTask(_) => None,
        VerifyCheck::Http(h) => http_problem(h),
    }
}

fn http_problem(h: &HttpCheck) -> Option<(&'static str, String, String)> {
    if !h.path.starts_with('/') {
        return Some(("path", format!("`{}` does not start with `/`", h.path), "give a path such as `/health`".into()));
    }
    if !(100..=599).contains(&h.expect) {
        return Some(("expect", format!("{} is not an HTTP status", h.expect), "give a status such as 200".into()));
    }
    if h.requests == 0 {
        return Some(("requests", "zero requests check nothing".into(), "send at least 1".into()));
    }
    if h.duration.is_some_and(|d| d.is_zero()) {
        return Some(("duration", "the duration is zero".into(), "give a duration such as `10s`".into()));
    }
    if h.timeout.is_zero() {
        return Some(("timeout", "the request timeout is zero".into(), "give a timeout such as `5s`".into()));
    }
    if !(0.0..=1.0).contains(&h.max_error_rate) {
        return Some((
            "max-error-rate",
            format!("{} is not a share between 0 and 1", h.max_error_rate),
            "e.g. `max-error-rate: 0.01` tolerates 1 failed request in 100".into(),
        ));
    }
    if let Some(url) = &h.url {
        let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Some((
                "url",
                format!("`{url}` is not an http(s) URL"),
                "give a base URL such as `http://test.example.com:8080`".into(),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_parse_with_defaults_and_hooks_in_order() {
        let checks: Vec<VerifyCheck> =
            serde_norway::from_str("- http: { path: /smoke }\n- run-task: smoke\n").expect("parses");
        let VerifyCheck::Http(h) = &checks[0] else { panic!("{checks:?}") };
        assert_eq!((h.expect, h.requests, h.max_error_rate), (200, 10, 0.0));
        assert_eq!(checks[1], VerifyCheck::RunTask("smoke".into()));
        let hooks: AppSpecHooks =
            serde_norway::from_str("AfterAllowTraffic: fnB\nBeforeInstall: fnA\n").expect("parses");
        assert_eq!(
            hooks.pairs(),
            vec![("BeforeInstall".into(), "fnA".into()), ("AfterAllowTraffic".into(), "fnB".into())]
        );
        let bad = serde_norway::from_str::<AppSpecHooks>("BeforeAllowTrafic: fn\n").unwrap_err().to_string();
        assert!(bad.contains("BeforeAllowTraffic"), "{bad}");
    }

    #[test]
    fn problems_name_the_key() {
        let http = |yaml: &str| match serde_norway::from_str::<VerifyCheck>(yaml).expect("parses") {
            c @ VerifyCheck::Http(_) => problem(&c, &[]).map(|p| p.0),
            _ => unreachable!(),
        };
        assert_eq!(http("http: { path: health }"), Some("path"));
        assert_eq!(http("http: { path: /h, max-error-rate: 2 }"), Some("max-error-rate"));
        assert_eq!(http("http: { path: /h, url: 'ftp://x' }"), Some("url"));
        assert_eq!(http("http: { path: /h, requests: 0 }"), Some("requests"));
        assert_eq!(http("http: { path: /h, url: 'http://x:8080' }"), None);
        let p = problem(&VerifyCheck::RunTask("smok".into()), &["smoke".into()]).expect("a problem");
        assert_eq!(p.0, "run-task");
        assert!(p.2.contains("smoke"), "{}", p.2);
    }
}
