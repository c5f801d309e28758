//! Loading real files: the bad-input cases of issue 3 that are the config's, each with its message and place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const MINIMAL: &str = "version: 1\nimage:\n  repository: web\n";

const FULL: &str = r#"version: 1
image:
  repository: web
  context: app
  dockerfile: docker/Dockerfile
  target: runtime
  build-args: { RUST_LOG: info, PORT: 8080 }
  secrets: { npm: NPM_TOKEN }
  lifecycle-policy: ecr/policy.json
tags: [semver, sha, latest]
environments:
  staging:
    region: eu-west-1
    cluster: staging
    service: web
    task-definition: deploy/task-definition.json
    container: web
    env: { FEATURE_X: "on" }
    secrets: { DB_URL: "arn:aws:ssm:eu-west-1:111122223333:parameter/web/db" }
    strategy: codedeploy
    codedeploy: { application: AppECS-staging-web, deployment-group: DgpECS-staging-web,
                  config: CodeDeployDefault.ECSCanary10Percent5Minutes }
    guard:
      five-xx: { threshold: 5, period: 60s, evaluation-periods: 2 }
      bake: 5m
    before-deploy: [ { run-task: migrate } ]
    timeout: 1h30m
    on-cancel: leave
  production:
    cluster: prod
    service: web
    task-definition: from-service
    container: web
    guard: { alarms: [web-5xx] }
tasks:
  migrate:
    command: [./migrate, up]
    task-definition: deploy/migrate.json
notify:
  slack: { channel: C0123456 }
  github: { checks: false }
"#;

/// Writes `text` as `.pipeline.yml` in a fresh directory and loads it.
fn load_text(text: &str, overrides: &[&str]) -> (tempfile::TempDir, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".pipeline.yml");
    std::fs::write(&path, text).expect("write config");
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let result = load(&path, &overrides);
    (dir, result)
}

fn error_of(text: &str) -> ConfigError {
    match load_text(text, &[]).1 {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the message (after the `file:line:col: ` prefix) and the place; of the first problem when the file has
/// several (every problem is reported at once; these fixtures show one each and leave out unrelated keys).
fn assert_error(err: &ConfigError, line: usize, column: usize, message: &str) {
    let err = match err {
        ConfigError::Several { errors, .. } => &errors[0],
        one => one,
    };
    let (file, l, c) = err.location().unwrap_or_else(|| panic!("no location in {err}"));
    assert_eq!(file.file_name().and_then(|f| f.to_str()), Some(".pipeline.yml"));
    assert_eq!((l, c), (line, column), "place of: {err}");
    let text = err.to_string();
    let prefix = format!("{}:{line}:{column}: ", file.display());
    assert_eq!(text.strip_prefix(&prefix), Some(message), "message: {text}");
}

fn help_of(err: &ConfigError) -> String {
    miette::Diagnostic::help(err).map(|h| h.to_string()).unwrap_or_default()
}

#[test]
fn minimal_config_gets_defaults() {
    let (dir, config) = load_text(MINIMAL, &[]);
    let config = config.unwrap();
    assert_eq!(config.dir, dir.path());
    assert_eq!(config.image.context, dir.path());
    assert_eq!(config.image.dockerfile, dir.path().join("Dockerfile"));
    assert!(config.image.create_repository);
    assert_eq!(config.tags, vec![TagKind::Semver, TagKind::Sha]);
    // Build and push need no environment; deploy commands ask for one and get a clear error.
    assert!(config.environments.is_empty());
    let err = config.environment(None).unwrap_err();
    assert!(matches!(err, ConfigError::NoEnvironments { .. }), "{err:?}");
    assert!(config.notify.github.deployments && config.notify.github.checks);
    assert!(config.notify.slack.is_none());
}

#[test]
fn full_config_is_normalised() {
    let (dir, config) = load_text(FULL, &[]);
    let config = config.unwrap();
    let d = dir.path();
    assert_eq!(config.image.context, d.join("app"));
    assert_eq!(config.image.dockerfile, d.join("app/docker/Dockerfile"));
    assert_eq!(config.image.lifecycle_policy.as_deref(), Some(d.join("ecr/policy.json").as_path()));
    assert_eq!(config.image.build_args["PORT"], "8080");
    assert_eq!(config.tags, vec![TagKind::Semver, TagKind::Sha, TagKind::Latest]);

    let (name, staging) = config.environment(Some("staging")).unwrap();
    assert_eq!(name, "staging");
    assert_eq!(staging.region.as_deref(), Some("eu-west-1"));
    assert_eq!(staging.task_definition, TaskDefinitionSource::File(d.join("deploy/task-definition.json")));
    assert_eq!(staging.strategy, Strategy::Codedeploy);
    let codedeploy = staging.codedeploy.as_ref().unwrap();
    assert_eq!(codedeploy.on_busy, OnBusy::Wait);
    assert_eq!(staging.guard.bake, Duration::from_secs(300));
    assert_eq!(staging.guard.poll_interval, Duration::from_secs(1));
    assert_eq!(staging.guard.five_xx, Some(FiveXx::default()));
    assert_eq!(staging.timeout, Duration::from_secs(5400));
    assert_eq!(staging.on_cancel, OnCancel::Leave);
    assert_eq!(staging.env["FEATURE_X"], "on");

    let (_, production) = config.environment(Some("production")).unwrap();
    assert_eq!(production.region, None);
    assert_eq!(production.task_definition, TaskDefinitionSource::FromService);
    assert_eq!(production.timeout, Duration::from_secs(1800));
    assert_eq!(production.on_cancel, OnCancel::Rollback);
    // Named alarms replace the default 5xx alarm.
    assert_eq!(production.guard.five_xx, None);
    assert_eq!(production.guard.alarms, vec!["web-5xx"]);

    let migrate = config.task("migrate").unwrap();
    assert_eq!(migrate.own_file().map(|p| p.as_path()), Some(d.join("deploy/migrate.json").as_path()));
    assert_eq!(migrate.container(staging), "web");
    assert_eq!(config.notify.slack.as_ref().unwrap().auth(), SlackAuth::BotTokenEnv("SLACK_BOT_TOKEN"));
    assert!(!config.notify.github.checks);
    assert_eq!(config.source.text, FULL);
}

#[test]
fn no_config_suggests_init() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&dir.path().join(".pipeline.yml"), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().starts_with("no config file at "), "{err}");
    assert!(help_of(&err).contains("pipeline init"), "{}", help_of(&err));
    assert_eq!(err.location(), None);
}

#[test]
fn unknown_key_suggests_the_closest() {
    let err = error_of("version: 1\nimage:\n  repository: web\n  contxt: .\n");
    assert_error(&err, 4, 3, "unknown key `contxt` in `image`; did you mean `context`?");
    assert_eq!(help_of(&err), "rename `contxt` to `context`");
}

#[test]
fn unknown_key_in_an_environment_and_at_the_top() {
    let text = "version: 1\nimage: {repository: web}\nenvironments:\n  staging: {region: x, regon: y}\n";
    assert_error(&error_of(text), 4, 24, "unknown key `regon` in `environments.staging`; did you mean `region`?");
    let err = error_of("version: 1\nimage: {repository: web}\nzzz: 1\n");
    assert_error(&err, 3, 1, "unknown key `zzz` at the top level");
    assert!(
        help_of(&err).starts_with("remove `zzz`; the keys allowed here are: version, image, tags"),
        "{}",
        help_of(&err)
    );
}

#[test]
fn malformed_yaml_names_the_place() {
    let err = error_of("version: 1\nimage:\n  repository: web\n   bad: indent\n");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert_error(&err, 4, 7, "malformed YAML: mapping values are not allowed in this context");
    let err = error_of("version: 1\nimage: [web\n");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert!(err.location().is_some());
}

#[test]
fn wrong_types_say_what_is_expected() {
    let err = error_of("version: 1\nimage:\n  repository: web\n  create-repository: maybe\n");
    assert_error(&err, 4, 22, "`image.create-repository`: expected a boolean, found string \"maybe\"");
    assert_eq!(help_of(&err), "write a boolean here");
    let err = error_of("version: 1\nimage:\n  repository: [a]\n");
    assert_error(&err, 3, 15, "`image.repository`: expected a string, found a list");
    let err = error_of("version: 1\nimage:\n  repository:\n");
    assert_error(&err, 3, 3, "`image.repository`: the value is empty");
    let err = error_of("version: 1\nimage:\n  repository: My_Repo\n");
    assert_error(
        &err,
        3,
        3,
        "`image.repository`: `My_Repo` is not an ECR repository name (lowercase letters, digits, and . _ - / between them)",
    );
    let err = error_of("version: 1\nimage: [web]\n");
    assert_error(&err, 2, 8, "`image`: expected a mapping (`key: value` lines), found a list");
}

#[test]
fn invalid_enum_value_lists_the_allowed_ones() {
    let text = "version: 1\nimage: {repository: web}\nenvironments:\n  s:\n    region: r\n    cluster: c\n    service: s\n    task-definition: from-service\n    container: c\n    strategy: bluegreen\n";
    let err = error_of(text);
    assert_error(
        &err,
        10,
        15,
        "`environments.s.strategy`: `bluegreen` is not one of: rolling, codedeploy, ecs-blue-green",
    );
    let err = error_of("version: 1\nimage: {repository: web}\ntags: [semver, shaa]\n");
    assert!(help_of(&err).starts_with("did you mean `sha`?"), "{}", help_of(&err));
}

#[test]
fn missing_required_key_is_named() {
    let err = error_of("version: 1\nimage:\n  context: .\n");
    assert_error(&err, 3, 3, "missing required key `repository` in `image`");
    let err = error_of("image: {repository: web}\n");
    assert_error(&err, 1, 1, "missing required key `version` at the top level");
}

#[test]
fn unsupported_version_lists_the_supported_ones() {
    let err = error_of("version: 2\nimage: {repository: web}\n");
    assert_error(&err, 1, 10, "`version`: expected a supported config version (1), found integer `2`");
    assert!(help_of(&err).contains("version: 1"));
}

#[test]
fn bad_duration_points_at_the_value() {
    let text = "version: 1\nimage: {repository: web}\nenvironments:\n  s:\n    region: r\n    cluster: c\n    service: s\n    task-definition: from-service\n    container: c\n    timeout: 5q\n";
    let err = error_of(text);
    let (_, line, column) = err.location().unwrap();
    assert_eq!((line, column), (10, 14));
    assert!(err.to_string().contains("`environments.s.timeout`: expected a duration such as `30s`"), "{err}");
}

#[test]
fn cross_checks_point_at_the_key() {
    let env = "version: 1\nimage: {repository: web}\nenvironments:\n  s:\n    region: r\n    cluster: c\n    service: s\n    task-definition: from-service\n    container: c\n";
    let err = error_of(&format!("{env}    strategy: codedeploy\n"));
    assert_error(&err, 10, 5, "`environments.s.strategy`: strategy `codedeploy` needs a `codedeploy:` section");
    let err =
        error_of(&format!("{env}    before-deploy: [{{run-task: migrat}}]\ntasks:\n  migrate: {{command: [m]}}\n"));
    assert_error(&err, 10, 5, "`environments.s.before-deploy`: `run-task: migrat` names no task under `tasks:`");
    assert_eq!(help_of(&err), "did you mean `migrate`?");
    let err = error_of(&format!("{env}    guard: {{five-xx: {{period: 45s}}}}\n"));
    assert!(err.to_string().contains("`period` must be 10s, 30s or a multiple of 60s"), "{err}");
    let err = error_of(
        "version: 1\nimage: {repository: web}\nnotify:\n  slack: {channel: C1, token-env: A, webhook-env: B}\n",
    );
    assert!(err.to_string().contains("`token-env` and `webhook-env` are both given"), "{err}");
}

#[test]
fn overrides_apply_before_checks() {
    let (_, config) =
        load_text(FULL, &["image.target=debug", "environments.staging.cluster=blue", "image.create-repository=false"]);
    let config = config.unwrap();
    assert_eq!(config.image.target.as_deref(), Some("debug"));
    assert!(!config.image.create_repository);
    assert_eq!(config.environments["staging"].cluster, "blue");
    // Relative paths given by override are resolved like the file's.
    let (dir, config) = load_text(MINIMAL, &["image.context=sub"]);
    assert_eq!(config.unwrap().image.context, dir.path().join("sub"));
}

#[test]
fn bad_overrides_are_blamed_by_name() {
    let (_, result) = load_text(FULL, &["environments.staging.timeout=soon"]);
    let err = result.unwrap_err();
    assert!(matches!(err, ConfigError::BadOverride { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "invalid --set `environments.staging.timeout=soon`: `environments.staging.timeout`: expected a duration"
        ),
        "{err}"
    );
    let (_, result) = load_text(FULL, &["image.contxt=x"]);
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid --set `image.contxt=x`: unknown key `contxt` in `image`; did you mean `context`?"
    );
    // Checks made after deserialising blame the override too, not the file's line.
    let (_, result) = load_text(MINIMAL, &["image.repository=Bad_Name"]);
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid --set `image.repository=Bad_Name`: `image.repository`: `Bad_Name` is not an ECR repository name \
         (lowercase letters, digits, and . _ - / between them)"
    );
    assert_eq!(err.location(), None);
    // An error the file has by itself is still reported at its place in the file.
    let (_, result) = load_text("version: 1\nimage:\n  repository: web\n  contxt: .\n", &["image.target=x"]);
    assert_error(&result.unwrap_err(), 4, 3, "unknown key `contxt` in `image`; did you mean `context`?");
}

#[test]
fn environments_can_share_settings_through_anchors_and_merge_keys() {
    let text = "version: 1
image: {repository: web}
x-defaults: &defaults
  region: eu-west-1
  container: web
  task-definition: deploy/td.json
environments:
  staging:
    <<: *defaults
    cluster: staging
    service: web
  production:
    <<: *defaults
    cluster: prod
    service: web
    region: us-east-1
";
    let (dir, config) = load_text(text, &[]);
    let config = config.unwrap();
    let production = &config.environments["production"];
    assert_eq!(production.region.as_deref(), Some("us-east-1"));
    assert_eq!(production.container, "web");
    assert_eq!(
        config.environments["staging"].task_definition,
        TaskDefinitionSource::File(dir.path().join("deploy/td.json"))
    );
    // Errors in such a file are still placed by their key.
    let bad = text.replace("    service: web\n    region", "    servce: web\n    region");
    let err = load_text(&bad, &[]).1.unwrap_err();
    assert_error(&err, 15, 5, "unknown key `servce` in `environments.production`; did you mean `service`?");
}

#[test]
fn choosing_an_environment() {
    let (_, config) = load_text(FULL, &[]);
    let config = config.unwrap();
    let err = config.environment(None).unwrap_err();
    assert_eq!(err.to_string(), "several environments are defined (production, staging); choose one");
    assert_eq!(help_of(&err), "pass --env with one of: production, staging");
    let err = config.environment(Some("stagin")).unwrap_err();
    assert_eq!(err.to_string(), "unknown environment `stagin`; did you mean `staging`?");
    let err = config.task("migrat").unwrap_err();
    assert_eq!(err.to_string(), "unknown task `migrat`; did you mean `migrate`?");
}

#[test]
fn errors_carry_a_miette_label() {
    let err = error_of("version: 1\nimage:\n  repository: web\n  contxt: .\n");
    let labels: Vec<_> = miette::Diagnostic::labels(&err).unwrap().collect();
    // Line 4, column 3 is byte 38 of the text.
    assert_eq!(labels[0].offset(), 38);
    assert!(miette::Diagnostic::source_code(&err).is_some());
}

#[test]
fn a_bare_file_name_resolves_against_the_current_directory() {
    let config = from_text(Path::new(".pipeline.yml"), MINIMAL.to_string(), &[]).unwrap();
    assert_eq!(config.dir, Path::new("."));
    assert_eq!(config.image.context, Path::new("."));
    assert_eq!(config.image.dockerfile, Path::new("Dockerfile"));
}

#[test]
fn absolute_paths_stay_absolute() {
    let text = "version: 1\nimage: {repository: web, context: /abs/ctx}\n";
    let (_, config) = load_text(text, &[]);
    let config = config.unwrap();
    assert_eq!(config.image.context, PathBuf::from("/abs/ctx"));
    assert_eq!(config.image.dockerfile, Path::new("/abs/ctx/Dockerfile"));
}

use crate::version::TagKind;

#[test]
fn moving_tags_are_latest_and_the_named_ones_and_never_look_like_releases() {
    let load = |extra: &str| from_text(Path::new(".pipeline.yml"), format!("{MINIMAL}{extra}"), &[]);
    let config = load("tags: [semver, sha, latest]\nmoving-tags: [stable, latest]\n").unwrap();
    assert_eq!(config.moving_tags(), ["latest", "stable"]);
    assert!(load("").unwrap().moving_tags().is_empty());
    for (bad, says) in [("v1.2.0", "looks like a version"), ("sha-0123", "looks like a version"), ("a*b", "not a tag")]
    {
        let err = load(&format!("moving-tags: [\"{bad}\"]\n")).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
    let err = load("tags: [semver, latest]\nmoving-tags: [a, b, c, d, e]\n").unwrap_err().to_string();
    assert!(err.contains("more than five"), "{err}");
}

#[test]
fn every_problem_of_the_file_is_reported_at_once() {
    let text = "version: 1\nimage:\n  repository: web\n  contxt: .\n  create-repository: maybe\nenvironments:\n  s:\n    cluster: c\n    service: s\n    task-definition: td.json\n    container: c\n    stratgy: rolling\n    timeout: 0s\n";
    let err = error_of(text);
    let ConfigError::Several { errors, more, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*more, 0);
    let places: Vec<(usize, usize)> = errors.iter().map(|e| e.location().map(|(_, l, c)| (l, c)).unwrap()).collect();
    assert_eq!(places, vec![(4, 3), (5, 3), (12, 5), (13, 5)], "{err}");
    let text = err.to_string();
    assert!(text.contains(".pipeline.yml: 4 problems:"), "{text}");
    assert!(text.contains("unknown key `contxt` in `image`; did you mean `context`?"), "{text}");
    assert!(text.contains("unknown key `stratgy` in `environments.s`; did you mean `strategy`?"), "{text}");
    assert!(text.contains("`environments.s.timeout`: the timeout is zero"), "{text}");
    assert_eq!(err.location().map(|(_, l, c)| (l, c)), Some((4, 3)));
    assert!(help_of(&err).contains("line 4: rename `contxt` to `context`"), "{}", help_of(&err));
}

#[test]
fn a_missing_key_does_not_hide_the_next_problem_nor_add_one() {
    let text = "version: 1\nimage:\n  context: .\nenvironments:\n  s:\n    cluster: c\n    task-definition: td.json\n    container: c\n    regon: x\n";
    let err = error_of(text);
    let ConfigError::Several { errors, .. } = &err else { panic!("{err:?}") };
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].ends_with("missing required key `repository` in `image`"), "{messages:#?}");
    assert!(
        messages.iter().any(|m| m.ends_with("missing required key `service` in `environments.s`")),
        "{messages:#?}"
    );
    assert!(messages.iter().any(|m| m.contains("unknown key `regon`")), "{messages:#?}");
    // The stand-in for `repository` is not reported as a bad repository name.
    assert!(!messages.iter().any(|m| m.contains("ECR repository name")), "{messages:#?}");
}

#[test]
fn a_misspelt_required_key_is_one_problem() {
    let text = "version: 1\nimage: {repository: web}\nenvironments:\n  s:\n    cluster: c\n    servce: s\n    task-definition: td.json\n    container: c\n";
    assert_error(&error_of(text), 6, 5, "unknown key `servce` in `environments.s`; did you mean `service`?");
    assert!(!matches!(error_of(text), ConfigError::Several { .. }));
}
