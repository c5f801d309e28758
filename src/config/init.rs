//! The starter `.pipeline.yml` written by `pipeline init`: from what was found (a Dockerfile, a task definition
//! file, the live service), commented, and always loadable (tested), so `pipeline plan` works on it as written.

use std::fmt::Write as _;

/// A commented starter config with placeholders, for a directory where nothing was found.
pub const INIT_TEMPLATE: &str = include_str!("init_template.yml");

/// What `init` found; `None` where nothing was, written as a `TODO` placeholder.
#[derive(Debug, Clone, Default)]
pub struct Starter {
    /// Where the facts came from, for the header comment.
    pub found: Vec<String>,
    pub repository: String,
    /// Relative to the config file; `.` by default.
    pub context: String,
    /// Relative to the context; `Dockerfile` by default.
    pub dockerfile: String,
    pub environment: String,
    pub region: Option<String>,
    pub cluster: Option<String>,
    pub service: Option<String>,
    /// Relative to the config file.
    pub task_definition: String,
    pub container: Option<String>,
    /// `rolling`, `codedeploy` or `ecs-blue-green`.
    pub strategy: String,
    /// CodeDeploy application and deployment group, for `codedeploy`.
    pub codedeploy: Option<(String, String)>,
    pub alarms: Vec<String>,
}

impl Starter {
    /// The config text.
    pub fn render(&self) -> String {
        let mut y = String::new();
        y.push_str("# .pipeline.yml: how `pipeline` builds, tags, pushes and releases this service.\n");
        if !self.found.is_empty() {
            let _ = writeln!(y, "# Written by `pipeline init` from {}.", self.found.join(", "));
        }
        y.push_str(
            "# Every key is described by `pipeline schema` (JSON Schema; point your editor's YAML plugin at it).\n",
        );
        y.push_str("version: 1\n\nimage:\n");
        kv(&mut y, "  repository", &scalar(&self.repository), "ECR repository; created with IMMUTABLE tags if missing");
        kv(&mut y, "  context", &scalar(&self.context), "build context, relative to this file");
        kv(&mut y, "  dockerfile", &scalar(&self.dockerfile), "relative to the context");
        y.push_str("  # target: runtime                 # multi-stage build target\n");
        y.push_str("  # build-args: { RUST_LOG: info }\n");
        y.push_str("\n# Immutable tags: v<semver> and sha-<12 hex of the commit>. Add `latest` only if you really want a moving tag.\n");
        y.push_str("tags: [semver, sha]\n\nenvironments:\n");
        let _ = writeln!(y, "  {}:", scalar(&self.environment));
        match &self.region {
            Some(region) => kv(&mut y, "    region", &scalar(region), ""),
            None => y.push_str("    # region: eu-west-1             # default: AWS_REGION or the AWS profile's\n"),
        }
        kv(
            &mut y,
            "    cluster",
            &or_todo(self.cluster.as_deref()),
            todo_note(self.cluster.as_deref(), "the ECS cluster"),
        );
        kv(
            &mut y,
            "    service",
            &or_todo(self.service.as_deref()),
            todo_note(self.service.as_deref(), "the ECS service"),
        );
        kv(
            &mut y,
            "    task-definition",
            &scalar(&self.task_definition),
            "or `from-service` to start from the live one",
        );
        let container = todo_note(self.container.as_deref(), "the container to release");
        let container = if container.is_empty() { "the container whose image is replaced" } else { container };
        kv(&mut y, "    container", &or_todo(self.container.as_deref()), container);
        y.push_str("    # env: { FEATURE_X: \"on\" }\n");
        y.push_str("    # secrets: { DB_URL: arn:aws:ssm:eu-west-1:111122223333:parameter/my-service/db }\n");
        kv(
            &mut y,
            "    strategy",
            &self.strategy,
            "rolling | codedeploy | ecs-blue-green (as the service's controller)",
        );
        if let Some((application, group)) = &self.codedeploy {
            y.push_str("    codedeploy:\n");
            kv(&mut y, "      application", &scalar(application), "");
            kv(&mut y, "      deployment-group", &scalar(group), "");
            y.push_str("      # config: CodeDeployDefault.ECSCanary10Percent5Minutes   # default: the group's own\n");
        } else if self.strategy == "codedeploy" {
            y.push_str("    codedeploy:\n");
            kv(&mut y, "      application", &or_todo(None), "the CodeDeploy application: not found; set it");
            kv(
                &mut y,
                "      deployment-group",
                &or_todo(None),
                "the deployment group of this service: not found; set it",
            );
        }
        y.push_str("    guard:\n");
        if self.alarms.is_empty() {
            kv(
                &mut y,
                "      five-xx",
                "{ threshold: 5, period: 60s, evaluation-periods: 2 }",
                "or alarms: [my-existing-alarm]",
            );
        } else {
            let list: Vec<String> = self.alarms.iter().map(|a| scalar(a)).collect();
            kv(
                &mut y,
                "      alarms",
                &format!("[{}]", list.join(", ")),
                "the alarms the service already deploys with",
            );
            y.push_str("      # five-xx: { threshold: 5, period: 60s, evaluation-periods: 2 }   # a load-balancer 5xx alarm too\n");
        }
        y.push_str("      # bake: 5m                      # keep watching after all traffic moved\n");
        y.push_str("    # before-deploy: [ { run-task: migrate } ]\n");
        kv(&mut y, "    timeout", "30m", "");
        kv(&mut y, "    on-cancel", "rollback", "rollback | leave");
        y.push_str("\n# tasks:\n#   migrate:\n#     command: [./migrate, up]\n");
        y.push_str("\n# notify:\n#   slack: { channel: C0123456, token-env: SLACK_BOT_TOKEN }   # or webhook-env: SLACK_WEBHOOK_URL\n");
        y.push_str("#   github: { deployments: true, checks: true }\n");
        y
    }
}

/// `key: value`, with the comment lined up in one column.
fn kv(y: &mut String, key: &str, value: &str, comment: &str) {
    let line = format!("{key}: {value}");
    if comment.is_empty() {
        let _ = writeln!(y, "{line}");
    } else {
        let _ = writeln!(y, "{line:<35} # {comment}");
    }
}

fn todo_note(value: Option<&str>, what: &'static str) -> &'static str {
    match value {
        Some(_) => "",
        None => what,
    }
}

/// A plain YAML scalar, or a double-quoted one (JSON's quoting is valid YAML) when it needs quoting.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '.')
        && !matches!(s, "true" | "false" | "yes" | "no" | "null" | "on" | "off" | "y" | "n");
    if plain { s.to_owned() } else { serde_json::Value::String(s.to_owned()).to_string() }
}

/// A value found, or a placeholder the first `pipeline plan` points at.
fn or_todo(value: Option<&str>) -> String {
    value.map_or_else(|| "TODO".to_owned(), scalar)
}

#[cfg(test)]
mod tests {
    use super::{INIT_TEMPLATE, Starter};
    use crate::config::{Strategy, from_text};
    use std::path::Path;

    #[test]
    fn init_template_loads() {
        let config = from_text(Path::new("/repo/.pipeline.yml"), INIT_TEMPLATE.to_string(), &[])
            .unwrap_or_else(|e| panic!("INIT_TEMPLATE does not load: {e}"));
        let (name, env) = config.environment(None).expect("one environment");
        assert_eq!(name, "staging");
        assert_eq!(env.strategy, Strategy::Rolling);
        assert_eq!(config.image.dockerfile, Path::new("/repo/Dockerfile"));
    }

    fn starter() -> Starter {
        Starter {
            found: vec!["Dockerfile".into(), "task-definition.json".into()],
            repository: "web".into(),
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            environment: "production".into(),
            region: Some("us-east-1".into()),
            cluster: Some("prod".into()),
            service: Some("web".into()),
            task_definition: "task-definition.json".into(),
            container: Some("web".into()),
            strategy: "rolling".into(),
            codedeploy: None,
            alarms: Vec::new(),
        }
    }

    #[test]
    fn what_init_found_loads_as_written() {
        let config = from_text(Path::new("/repo/.pipeline.yml"), starter().render(), &[]).unwrap();
        let (name, env) = config.environment(None).unwrap();
        assert_eq!((name, env.cluster.as_str(), env.service.as_str()), ("production", "prod", "web"));
        let codedeploy = Starter {
            strategy: "codedeploy".into(),
            codedeploy: Some(("hello".into(), "hello demo".into())),
            alarms: vec!["a:b".into(), "yes".into()],
            ..starter()
        };
        let config = from_text(Path::new("/repo/.pipeline.yml"), codedeploy.render(), &[]).unwrap();
        let env = &config.environments["production"];
        assert_eq!(env.strategy, Strategy::Codedeploy);
        assert_eq!(env.codedeploy.as_ref().unwrap().deployment_group, "hello demo");
        assert_eq!(env.guard.alarms, vec!["a:b".to_string(), "yes".to_string()]);
    }

    #[test]
    fn what_init_did_not_find_is_a_placeholder_that_still_loads() {
        let unknown = Starter {
            region: None,
            cluster: None,
            service: None,
            container: None,
            strategy: "codedeploy".into(),
            ..starter()
        };
        let text = unknown.render();
        assert!(text.contains("cluster: TODO"), "{text}");
        let config = from_text(Path::new("/repo/.pipeline.yml"), text, &[]).unwrap();
        assert_eq!(config.environments["production"].cluster, "TODO");
    }
}
