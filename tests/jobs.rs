//! Jobs: standalone one-off tasks with their own task definition and image, their payload as values (never a
//! shell), `--detach` with `status --task`, the job's exit code as pipeline's, one-time runs at a time and
//! `schedules:` reconciled with EventBridge Scheduler on the sandbox's scaled clock.
//!
//! The payload tests run examples/hello as real containers (`--tasks docker`): hello's `HELLO_EXPECT=NAME:HEX`
//! exits 0 only when the variable holds exactly the hex-encoded bytes.

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::DesiredStatus;
use aws_sdk_scheduler::error::ProvideErrorMetadata as _;
use pipeline_sandbox::SandboxOptions;
use pipeline_sandbox::containers::TaskMode;

use crate::fixture::{Controller, repo_for};
use crate::harness::{Pipeline, Repo, Sandbox, repo_root};

/// A payload value with what a shell or a whitespace split would break.
pub const TRICKY: &str = "a value with  spaces, \"double\" and 'single' quotes; rm -rf / $(reboot) `id` *";

pub fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The hello image (with its job mode) from examples/hello, under a tag of this test's own, removed on drop.
pub struct HelloImage {
    pub tag: String,
}

impl HelloImage {
    pub fn build() -> Self {
        let hello = repo_root().join("examples/hello");
        let built = Command::new(hello.join("build.sh")).output().expect("examples/hello/build.sh runs");
        assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let tag = format!("pipeline-jobs-hello:test-{}-{nanos}", std::process::id());
        crate::harness::docker_build(&hello, &tag);
        Self { tag }
    }
}

impl Drop for HelloImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.tag]).output();
    }
}

/// The job's own task definition: hello checking that PAYLOAD holds `expected`.
pub fn hello_job_td(expected: &str) -> String {
    format!(
        r#"{{
  "family": "load-dump",
  "requiresCompatibilities": ["FARGATE"],
  "networkMode": "awsvpc",
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {{ "name": "load", "image": "replaced-by-the-task-config", "essential": true,
       "environment": [ {{ "name": "HELLO_EXPECT", "value": "PAYLOAD:{}" }} ] }}
  ]
}}"#,
        hex(expected)
    )
}

/// A config with no environment and no service: the job says where it runs and what it runs.
pub fn standalone_repo(task_definition: &str, image: &str, extra: &str) -> Repo {
    let repo = Repo::tiny("jobs", "unused");
    repo.write("load-dump.json", task_definition);
    repo.write(
        ".pipeline.yml",
        &format!(
            "version: 1\nimage:\n  repository: jobs\ntasks:\n  load:\n    task-definition: load-dump.json\n    image: {image}\n    \
             cluster: jobs\n    subnets: [subnet-a]\n    security-groups: [sg-a]\n    timeout: 10m\n{extra}"
        ),
    );
    repo.commit("feat: a data-load job");
    repo
}

pub fn cluster(sb: &Sandbox, name: &str) {
    let ecs = sb.ecs();
    sb.block_on(async { ecs.create_cluster().cluster_name(name).send().await.unwrap() });
}

pub fn docker_sandbox() -> Sandbox {
    Sandbox::with(SandboxOptions { time_scale: 600.0, tasks: TaskMode::Docker, ..SandboxOptions::default() })
}

/// The tasks of a cluster with this desired status, described.
fn tasks(sb: &Sandbox, cluster: &str, desired: DesiredStatus) -> Vec<aws_sdk_ecs::types::Task> {
    let ecs = sb.ecs();
    sb.block_on(async {
        let arns = ecs.list_tasks().cluster(cluster).desired_status(desired).send().await.unwrap().task_arns().to_vec();
        if arns.is_empty() {
            return Vec::new();
        }
        ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.unwrap().tasks().to_vec()
    })
}

impl Sandbox {
    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.sdk)
    }
}

#[test]
fn a_standalone_job_with_its_own_image_runs_without_a_service_and_its_exit_code_is_pipelines() {
    let sb = Sandbox::start();
    cluster(&sb, "jobs");
    // Simulated tasks: SANDBOX_EXIT_CODE decides the exit.
    let repo = standalone_repo(&hello_job_td("unused"), "postgres:16", "");
    let run = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "run-task", "load"]).run();
    run.code(0);
    let out = run.json();
    let td = out["task_definition_arn"].as_str().unwrap().to_owned();
    assert!(td.contains(":task-definition/load-dump:1"), "the job's own file is registered: {out}");
    assert_eq!(sb.td_image(&td), "postgres:16", "with the job's own image");
    assert_eq!(out["task_exit_code"], 0);
    let task = &tasks(&sb, "jobs", DesiredStatus::Stopped)[0];
    assert_eq!(task.launch_type(), Some(&aws_sdk_ecs::types::LaunchType::Fargate), "FARGATE from the task definition");
    assert_eq!(task.task_definition_arn(), Some(td.as_str()));

    // The same file again: no new revision. A failing job: its exit code is pipeline's.
    let failed = Pipeline::new(&repo)
        .sandbox(&sb)
        .args(&["--output", "json", "run-task", "load", "--var", "SANDBOX_EXIT_CODE=7"])
        .run();
    failed.code(7).stderr_has("exited with code 7");
    assert_eq!(failed.json()["task_definition_arn"], td.as_str());
    assert_eq!(failed.json()["task_exit_code"], 7);
}

#[test]
fn detach_returns_at_once_and_status_reports_the_exit_code_later() {
    let sb = Sandbox::start();
    cluster(&sb, "jobs");
    let repo = standalone_repo(&hello_job_td("unused"), "postgres:16", "");
    // 1200 simulated seconds of work: two real seconds at this time scale.
    let started = Instant::now();
    let detached = Pipeline::new(&repo)
        .sandbox(&sb)
        .args(&["run-task", "load", "--detach", "--var", "SANDBOX_EXIT_CODE=3", "--var", "SANDBOX_RUN_SECONDS=1200"])
        .run();
    detached.code(0);
    assert!(started.elapsed() < Duration::from_millis(1500), "--detach waited: {:?}", started.elapsed());
    let arn = detached.stdout.trim().to_owned();
    assert!(arn.starts_with("arn:aws:ecs:") && arn.contains(":task/jobs/"), "stdout is the task ARN: {arn:?}");

    let status = || Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "status", "--task", &arn]).run();
    let early = status();
    early.code(0);
    assert_ne!(early.json()["task_status"], "STOPPED", "{}", early.stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    let last = loop {
        let now = status();
        if now.json()["task_status"] == "STOPPED" {
            break now;
        }
        assert!(Instant::now() < deadline, "the task never stopped: {}", now.stdout);
        std::thread::sleep(Duration::from_millis(200));
    };
    last.code(3).stderr_has("exited with code 3");
    assert_eq!(last.json()["task_exit_code"], 3);
}

#[test]
fn a_payload_with_spaces_quotes_and_semicolons_reaches_the_container_unchanged() {
    let image = HelloImage::build();
    let image = image.tag.as_str();
    let sb = docker_sandbox();
    cluster(&sb, "jobs");
    let repo = standalone_repo(&hello_job_td(TRICKY), image, "");
    repo.write("payload.env", &format!("# the job's payload\nPAYLOAD={TRICKY}\n"));
    Pipeline::new(&repo).sandbox(&sb).args(&["run-task", "load", "--env-file", "payload.env"]).run().code(0);
    Pipeline::new(&repo).sandbox(&sb).args(&["run-task", "load", "--var", &format!("PAYLOAD={TRICKY}")]).run().code(0);
    // A real container that exits 9: its code is pipeline's.
    let wrong = Pipeline::new(&repo).sandbox(&sb).args(&["run-task", "load", "--var", "PAYLOAD=a value with"]).run();
    wrong.code(9).stderr_has("exited with code 9");
}

#[test]
fn a_one_time_scheduled_job_runs_at_its_time_and_its_schedule_is_gone() {
    let image = HelloImage::build();
    let image = image.tag.as_str();
    let sb = docker_sandbox();
    cluster(&sb, "jobs");
    let role = "scheduler:\n  role-arn: arn:aws:iam::000000000000:role/scheduler\n";
    let repo = standalone_repo(&hello_job_td(TRICKY), image, role);
    repo.write("payload.env", &format!("PAYLOAD={TRICKY}\n"));
    // 30 minutes from now on the sandbox's clock: three real seconds at 600x.
    let clock = sb.running.sandbox.ctx.clock() + Duration::from_secs(30 * 60);
    let at = time::OffsetDateTime::from(clock).format(&time::format_description::well_known::Rfc3339).unwrap();
    let began = Instant::now();
    let run = Pipeline::new(&repo)
        .sandbox(&sb)
        .args(&["--output", "json", "run-task", "load", "--env-file", "payload.env", "--at", &at])
        .run();
    run.code(0);
    let schedule_arn = run.json()["schedule_arn"].as_str().unwrap().to_owned();
    assert!(schedule_arn.contains(":schedule/pipeline-jobs/once-load-"), "{schedule_arn}");
    let (group, name) = {
        let rest = schedule_arn.split(":schedule/").nth(1).unwrap();
        let (g, n) = rest.split_once('/').unwrap();
        (g.to_owned(), n.to_owned())
    };
    let scheduler = sb.scheduler();
    let get = || {
        let (s, g, n) = (scheduler.clone(), group.clone(), name.clone());
        sb.block_on(async move { s.get_schedule().name(n).group_name(g).send().await })
            .map_err(|e| e.code().map(str::to_owned))
    };
    let schedule = get().expect("the one-time schedule exists until it ran");
    assert_eq!(schedule.action_after_completion(), Some(&aws_sdk_scheduler::types::ActionAfterCompletion::Delete));
    assert!(
        tasks(&sb, "jobs", DesiredStatus::Stopped).is_empty() && tasks(&sb, "jobs", DesiredStatus::Running).is_empty()
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let task = loop {
        if let Some(t) = tasks(&sb, "jobs", DesiredStatus::Stopped).into_iter().next() {
            break t;
        }
        assert!(Instant::now() < deadline, "the job never ran");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(began.elapsed() >= Duration::from_millis(2500), "it ran before its time: {:?}", began.elapsed());
    assert_eq!(task.containers()[0].exit_code(), Some(0), "the payload arrived unchanged: {task:#?}");
    assert_eq!(get().unwrap_err().as_deref(), Some("ResourceNotFoundException"), "the schedule deleted itself");
}

const ROLE: &str = "arn:aws:iam::000000000000:role/scheduler";

fn with_schedules(repo: &Repo, schedules: &str) {
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    let base = config.split("scheduler:\n").next().unwrap().to_owned();
    repo.write(".pipeline.yml", &format!("{base}scheduler:\n  role-arn: {ROLE}\nschedules:\n{schedules}"));
}

#[test]
fn a_cron_schedule_from_config_is_created_updated_and_deleted_and_plan_shows_each_change() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, "");
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(".pipeline.yml", &format!("{config}tasks:\n  report:\n    command: [\"./report\", \"--daily\"]\n"));
    let scheduler = sb.scheduler();
    // Schedules the tool does not own: another group's, and a pending one-time run in its own group.
    sb.block_on(async {
        let window = aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
            .mode(aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off)
            .build()
            .unwrap();
        let target = aws_sdk_scheduler::types::Target::builder()
            .arn("arn:aws:ecs:us-east-1:000000000000:cluster/prod")
            .role_arn(ROLE)
            .build()
            .unwrap();
        scheduler.create_schedule_group().name("pipeline-web-prod").send().await.unwrap();
        for (name, group) in [("someone-elses", "default"), ("once-report-202612010300-abcd", "pipeline-web-prod")] {
            scheduler
                .create_schedule()
                .name(name)
                .group_name(group)
                .schedule_expression("at(2099-01-01T00:00:00)")
                .flexible_time_window(window.clone())
                .target(target.clone())
                .send()
                .await
                .unwrap();
        }
    });
    let pipeline = |args: &[&str]| {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        Pipeline::new(&repo).sandbox(&sb).args(&all).run()
    };
    let get = |name: &str| {
        let (s, n) = (scheduler.clone(), name.to_owned());
        sb.block_on(async move { s.get_schedule().name(n).group_name("pipeline-web-prod").send().await })
            .map_err(|e| e.code().map(str::to_owned))
    };

    with_schedules(
        &repo,
        "  nightly:\n    task: report\n    cron: \"0 3 * * ? *\"\n    timezone: Europe/Oslo\n    env: { SCOPE: all }\n",
    );
    pipeline(&["schedules", "plan"]).code(2).stderr_has("schedule pipeline-web-prod/nightly: create");
    assert!(get("nightly").is_err(), "plan changes nothing");
    pipeline(&["schedules", "apply"]).code(0);
    let created = get("nightly").expect("created");
    assert_eq!(created.schedule_expression(), Some("cron(0 3 * * ? *)"));
    assert_eq!(created.schedule_expression_timezone(), Some("Europe/Oslo"));
    let target = created.target().unwrap();
    assert_eq!(target.arn(), "arn:aws:ecs:us-east-1:000000000000:cluster/prod");
    assert_eq!(target.ecs_parameters().unwrap().task_definition_arn(), svc.initial_td, "the revision the service runs");
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input["containerOverrides"][0]["name"], "web");
    assert_eq!(input["containerOverrides"][0]["command"], serde_json::json!(["./report", "--daily"]));
    assert_eq!(input["containerOverrides"][0]["environment"], serde_json::json!([{ "name": "SCOPE", "value": "all" }]));
    pipeline(&["schedules", "plan"]).code(0).stderr_has("nightly: unchanged");

    with_schedules(
        &repo,
        "  nightly:\n    task: report\n    cron: \"30 4 * * ? *\"\n    timezone: Europe/Oslo\n    env: { SCOPE: all }\n",
    );
    let plan = pipeline(&["schedules", "plan"]);
    plan.code(2).stderr_has("nightly: update (expression: cron(0 3 * * ? *) -> cron(30 4 * * ? *))");
    assert_eq!(plan.json()["plan"]["schedules"]["changes"][0]["action"], "update");
    pipeline(&["schedules", "apply"]).code(0);
    assert_eq!(get("nightly").unwrap().schedule_expression(), Some("cron(30 4 * * ? *)"));

    with_schedules(&repo, "  {}\n");
    pipeline(&["schedules", "plan"]).code(2).stderr_has("nightly: delete");
    pipeline(&["schedules", "apply"]).code(0);
    assert_eq!(get("nightly").unwrap_err().as_deref(), Some("ResourceNotFoundException"), "deleted");
    assert!(get("once-report-202612010300-abcd").is_ok(), "a pending one-time run is left alone");
    let other = sb.block_on(scheduler.get_schedule().name("someone-elses").send());
    assert!(other.is_ok(), "a schedule outside the tool's group is left alone");
}

#[test]
fn a_release_schedules_its_jobs_with_the_released_revision() {
    let sb = Sandbox::start();
    sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, "    guard: { poll-interval: 100ms }\n");
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(
        ".pipeline.yml",
        &format!(
            "{config}tasks:\n  report:\n    command: [\"./report\"]\nscheduler:\n  role-arn: {ROLE}\nschedules:\n  \
             hourly:\n    task: report\n    rate: 1 hour\n"
        ),
    );
    repo.commit("feat: hourly report");
    let plan = Pipeline::new(&repo).sandbox(&sb).args(&["plan", "--version", "1.0.0"]).run();
    plan.code(2).stderr_has("schedule pipeline-web-prod/hourly: create");
    let release = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]).run();
    release.code(0);
    let released = release.json()["task_definition_arn"].as_str().unwrap().to_owned();
    let scheduler = sb.scheduler();
    let hourly = sb.block_on(scheduler.get_schedule().name("hourly").group_name("pipeline-web-prod").send()).unwrap();
    assert_eq!(hourly.schedule_expression(), Some("rate(1 hour)"));
    assert_eq!(hourly.target().unwrap().ecs_parameters().unwrap().task_definition_arn(), released);
    crate::harness::remove_local_images(&format!("{}/web", sb.running.registry_host()));
}
