//! Several services from one release (`services:`): a web service (CodeDeploy) and a worker (rolling) released from
//! one image, all or nothing, over a history of releases; a failure in a parallel stage stopping the sibling in
//! flight at once; a cancel there; and bad `services:` config refused before any write.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;

use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType,
};

use crate::fixture::{Controller, Service, TASK_DEFINITION};
use crate::harness::{Pipeline, Repo, Run, Sandbox, remove_local_images};
use crate::inflight::{run_and_signal, run_with};

const ROLLED_BACK: i32 = 4;
const USAGE: i32 = 3;
const CANCELLED: i32 = 6;

const WORKER_TASK_DEFINITION: &str = r#"{
  "family": "worker",
  "containerDefinitions": [ { "name": "worker", "image": "placeholder", "essential": true } ]
}"#;

impl Sandbox {
    /// Service `worker` (1 task, rolling, circuit breaker with rollback, no load balancer) in `cluster`, on
    /// `worker:1`.
    fn worker(&self, cluster: &str) -> Service {
        let ecs = self.ecs();
        self.block_on(async {
            let td = ecs
                .register_task_definition()
                .family("worker")
                .container_definitions(
                    ContainerDefinition::builder().name("worker").image("worker:initial").essential(true).build(),
                )
                .send()
                .await
                .unwrap();
            let initial_td = td.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
            ecs.create_service()
                .cluster(cluster)
                .service_name("worker")
                .task_definition(&initial_td)
                .desired_count(1)
                .deployment_controller(
                    DeploymentController::builder().r#type(DeploymentControllerType::Ecs).build().unwrap(),
                )
                .deployment_configuration(
                    DeploymentConfiguration::builder()
                        .deployment_circuit_breaker(
                            DeploymentCircuitBreaker::builder().enable(true).rollback(true).build(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap();
            Service { cluster: cluster.into(), name: "worker".into(), initial_td, target_groups: Vec::new() }
        })
    }

    /// Every image of every container of a revision, by container name.
    fn td_images(&self, arn: &str) -> BTreeMap<String, String> {
        let ecs = self.ecs();
        self.block_on(async {
            let out = ecs.describe_task_definition().task_definition(arn).send().await.unwrap();
            let containers = out.task_definition().unwrap().container_definitions();
            containers.iter().map(|c| (c.name().unwrap().to_owned(), c.image().unwrap().to_owned())).collect()
        })
    }
}

/// The config of a web service (CodeDeploy) and a worker (rolling) in `prod`; `worker_env` is YAML under the worker's
/// `env:` (or empty), `order` the environment's `order`.
fn config(order: &str, worker_env: &str) -> String {
    let worker_env = if worker_env.is_empty() { String::new() } else { format!("        env: {{ {worker_env} }}\n") };
    format!(
        "version: 1
image:
  repository: web
environments:
  prod:
    cluster: prod
    timeout: 2m
    guard:
      poll-interval: 50ms
    order: {order}
    services:
      web:
        task-definition: task-definition.json
        container: web
        strategy: codedeploy
        codedeploy:
          application: web
          deployment-group: web-prod
          config: CodeDeployDefault.ECSCanary10Percent5Minutes
      worker:
        task-definition: worker.json
        container: worker
{worker_env}"
    )
}

fn repo(config_text: &str) -> Repo {
    let repo = Repo::tiny("web", "v1");
    repo.write("task-definition.json", TASK_DEFINITION);
    repo.write("worker.json", WORKER_TASK_DEFINITION);
    repo.write(".pipeline.yml", config_text);
    repo.commit("feat: web and worker");
    repo
}

fn release(repo: &Repo, sb: &Sandbox, version: &str) -> Run {
    Pipeline::new(repo).sandbox(sb).args(&["--output", "json", "release", "--version", version]).run()
}

/// The outcome's line for service `name`.
fn line<'a>(out: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let lines = out["services"].as_array().unwrap_or_else(|| panic!("a line per service: {out}"));
    lines.iter().find(|l| l["name"] == name).unwrap_or_else(|| panic!("no line for {name}: {out}"))
}

#[test]
fn a_web_service_and_a_worker_release_from_one_image_all_or_nothing_release_after_release() {
    let sb = Sandbox::start();
    let web = sb.service(Controller::CodeDeploy);
    let worker = sb.worker("prod");
    let repo = repo(&config("parallel", ""));

    // The plan: a section per service, one image.
    let plan = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "plan", "--version", "1.0.0"]).run();
    plan.code(2);
    assert!(plan.stderr.contains("service `web`:") && plan.stderr.contains("service `worker`:"), "{}", plan.stderr);
    let planned = plan.json();
    let services = planned["plan"]["services"]["services"].as_array().expect("the plan holds each service");
    let names: Vec<&str> = services.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["web", "worker"]);
    assert_eq!(services[0]["deploy"]["strategy"], "CodeDeploy");
    assert_eq!(services[1]["deploy"]["strategy"], "Rolling");
    assert_eq!(planned["plan"]["services"]["order"], serde_json::json!([["web", "worker"]]));

    // 1.0.0: both services run the image's digest.
    let first = release(&repo, &sb, "1.0.0");
    first.code(0);
    let out = first.json();
    let image = out["image_uri"].as_str().expect("the pushed image").to_owned();
    assert!(image.contains("/web@sha256:"), "{image}");
    let (web_1, worker_1) = (sb.running_td(&web), sb.running_td(&worker));
    assert_ne!(web_1, web.initial_td);
    assert_ne!(worker_1, worker.initial_td);
    assert_eq!(sb.td_image(&web_1), image, "web pins the digest");
    assert_eq!(sb.td_image(&worker_1), image, "worker pins the same digest");
    for td in [&web_1, &worker_1] {
        let tags = sb.td_tags(td);
        assert!(tags.contains(&"pipeline:verified=true".to_owned()), "{td}: {tags:?}");
        assert!(tags.contains(&"pipeline:version=1.0.0".to_owned()), "{td}: {tags:?}");
    }
    assert_eq!(line(&out, "web")["state"], "released");
    assert_eq!(line(&out, "web")["task_definition_arn"], web_1.as_str());
    assert!(line(&out, "web")["deployment_id"].as_str().is_some_and(|d| d.starts_with("d-")), "{out}");
    assert_eq!(line(&out, "worker")["state"], "released");
    assert_eq!(line(&out, "worker")["task_definition_arn"], worker_1.as_str());
    assert!(first.stderr.contains("worker: deployment ecs-svc/"), "events named by service:\n{}", first.stderr);

    // 1.1.0: web first, then a worker whose tasks crash. The worker goes back by its circuit breaker, and web, which
    // had moved, is returned: both run 1.0.0's revisions again.
    repo.write(".pipeline.yml", &config("[[web], [worker]]", "SANDBOX_EXIT_CODE: \"3\""));
    repo.write("content.txt", "v2");
    repo.commit("feat: v2 with a crashing worker");
    let failed = release(&repo, &sb, "1.1.0");
    failed.code(ROLLED_BACK).stderr_has("rolled back").stderr_has("`worker`").stderr_has("`web` returned to web:");
    let out = failed.json();
    assert_eq!(out["rolled_back"], true);
    assert_eq!(sb.running_td(&worker), worker_1, "the worker runs what it ran before");
    assert_eq!(sb.running_td(&web), web_1, "web was returned to what it ran before");
    assert_eq!(sb.td_image(&sb.running_td(&web)), image, "on 1.0.0's digest");
    assert_eq!(line(&out, "worker")["state"], "rolled-back");
    assert_eq!(line(&out, "web")["state"], "returned");
    assert_eq!(line(&out, "web")["running_now"], web_1.as_str());
    let web_failed = line(&out, "web")["task_definition_arn"].as_str().unwrap().to_owned();
    assert_ne!(web_failed, web_1, "web had a revision of its own for 1.1.0");
    assert!(!sb.td_tags(&web_failed).contains(&"pipeline:verified=true".to_owned()), "1.1.0 is not verified");

    // 1.2.0 with the worker fixed: the history goes on, both on the new digest.
    repo.write(".pipeline.yml", &config("[[worker], [web]]", ""));
    repo.write("content.txt", "v3");
    repo.commit("fix: the worker starts");
    let fixed = release(&repo, &sb, "1.2.0");
    fixed.code(0);
    let out = fixed.json();
    let image_3 = out["image_uri"].as_str().unwrap().to_owned();
    assert_ne!(image_3, image);
    let (web_3, worker_3) = (sb.running_td(&web), sb.running_td(&worker));
    assert_ne!(web_3, web_1);
    assert_ne!(worker_3, worker_1);
    assert_eq!(sb.td_image(&web_3), image_3);
    assert_eq!(sb.td_image(&worker_3), image_3);
    assert!(sb.td_tags(&worker_3).contains(&"pipeline:version=1.2.0".to_owned()));
    assert_eq!(line(&out, "web")["state"], "released");
    assert_eq!(line(&out, "worker")["state"], "released");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn bad_services_config_is_refused_before_the_first_write() {
    let sb = Sandbox::start();
    sb.service(Controller::CodeDeploy);
    sb.worker("prod");
    let good = config("parallel", "");
    let cases: [(&str, String, &[&str]); 7] = [
        (
            "both forms",
            good.replace("    order: parallel\n", "    order: parallel\n    service: web\n    container: web\n"),
            &["`service`, `container` and `services` are both given", ".pipeline.yml:"],
        ),
        (
            "an order naming no service",
            good.replace("order: parallel", "order: [[worker], [wbe]]"),
            &["`wbe` is not under `services:`", "`web` is under `services:` but in no stage"],
        ),
        ("an order that is no order", good.replace("order: parallel", "order: sideways"), &["expected `parallel`"]),
        (
            "codedeploy without its section",
            good.replace("        container: worker\n", "        container: worker\n        strategy: codedeploy\n"),
            &["environments.prod.services.worker.strategy", "needs a `codedeploy:` section"],
        ),
        (
            "a sidecar both built and pinned",
            good.replace(
                "  repository: web\n",
                "  repository: web\n  sidecars:\n    proxy: { context: proxy, image: \"web:v1\" }\n",
            ),
            &["`image.sidecars.proxy`: `context` and `image` are both given"],
        ),
        (
            "a sidecar in neither service's task definition",
            good.replace("  repository: web\n", "  repository: web\n  sidecars:\n    log: { image: \"web:v1\" }\n"),
            &[
                ".pipeline.yml:5:",
                "sidecar `log` names no container of any task definition a release to `prod` registers",
                "(task-definition.json has: web; worker.json has: worker)",
            ],
        ),
        (
            "a sidecar named like the second service's app container",
            good.replace("  repository: web\n", "  repository: web\n  sidecars:\n    worker: { image: \"web:v1\" }\n"),
            &[
                ".pipeline.yml:5:",
                "sidecar `worker` is named like the app container `worker` of service `worker` in `prod`",
                "rename the sidecar under `image.sidecars`",
            ],
        ),
    ];
    let before = sb.writes();
    for (what, text, needles) in cases {
        let repo = repo(&text);
        let run = release(&repo, &sb, "1.0.0");
        assert_eq!(run.code, USAGE, "{what}: exit code\n{}", run.stderr);
        for needle in needles {
            assert!(run.stderr.contains(needle), "{what}: stderr lacks {needle:?}\n{}", run.stderr);
        }
    }
    // A one-off task that borrows the service's revision has no one service to borrow from.
    let repo = repo(&format!("{good}tasks:\n  migrate:\n    command: [migrate]\n"));
    let run = Pipeline::new(&repo).sandbox(&sb).args(&["run-task", "migrate", "-e", "prod"]).run();
    assert_eq!(run.code, USAGE, "run-task on several services: exit code\n{}", run.stderr);
    for needle in ["environment `prod` lists several services", "its own `task-definition:`"] {
        assert!(run.stderr.contains(needle), "run-task: stderr lacks {needle:?}\n{}", run.stderr);
    }
    assert_eq!(sb.writes(), before, "no write call reached the sandbox");
}

#[test]
fn check_runs_each_services_local_checks_in_every_environment_not_only_the_chosen_one() {
    let sb = Sandbox::start();
    // `prod` lists services; `staging`, the one `check` plans, is one service. Each of prod's services is checked as a
    // release to prod would check it, so worker.json (prod's second service's own file) is read too.
    let staging = "  staging:\n    cluster: staging\n    service: web\n    task-definition: task-definition.json\n    \
                   container: web\n    strategy: rolling\n";
    let text = config("parallel", "").replace("environments:\n", &format!("environments:\n{staging}"));
    let check =
        |repo: &Repo| Pipeline::new(repo).sandbox(&sb).args(&["-e", "staging", "check", "--version", "1.0.0"]).run();

    let typo = repo(&text);
    typo.write("worker.json", &WORKER_TASK_DEFINITION.replace("\"essential\"", "\"essentail\""));
    typo.commit("fix: a typo in the worker");
    check(&typo).code(USAGE).stderr_has("worker.json:3:").stderr_has("did you mean `essential`?");

    let missing = repo(&text.replace("task-definition: worker.json", "task-definition: workr.json"));
    let line = text.lines().position(|l| l.contains("task-definition: worker.json")).unwrap() + 1;
    check(&missing)
        .code(USAGE)
        .stderr_has(&format!(".pipeline.yml:{line}:"))
        .stderr_has("there is no task definition file at workr.json");
    assert_eq!(sb.writes(), BTreeMap::new(), "no write call reached the sandbox");
}

#[test]
fn sidecars_are_pinned_by_digest_beside_the_app_container_built_or_resolved_when_planning() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = Repo::tiny("web", "v1");
    let task_definition = |extra: &str| {
        format!(
            r#"{{"family": "web", "containerDefinitions": [
  {{"name": "web", "image": "placeholder", "essential": true, "portMappings": [{{"containerPort": 8080}}]}},
  {{"name": "proxy", "image": "placeholder", "essential": false}}{extra}]}}"#
        )
    };
    let config = |sidecars: &str| {
        format!(
            "version: 1\nimage:\n  repository: web\n  sidecars:\n    proxy: {{ context: proxy }}\n{sidecars}\
             environments:\n  prod:\n    cluster: prod\n    service: web\n    task-definition: task-definition.json\n    \
             container: web\n    timeout: 2m\n    guard:\n      poll-interval: 50ms\n"
        )
    };
    repo.write("task-definition.json", &task_definition(""));
    repo.write("proxy/Dockerfile", "FROM scratch\nCOPY proxy.txt /proxy.txt\n");
    repo.write("proxy/proxy.txt", "proxy v1");
    repo.write(".pipeline.yml", &config(""));
    let commit = repo.commit("feat: a proxy sidecar");

    // The proxy is built from its own Dockerfile into web-proxy, with the release's tags.
    let first = release(&repo, &sb, "1.0.0");
    first.code(0);
    let out = first.json();
    let app = out["image_uri"].as_str().unwrap().to_owned();
    let td = sb.running_td(&svc);
    assert_eq!(out["task_definition_arn"], td.as_str());
    let images = sb.td_images(&td);
    assert_eq!(images["web"], app);
    let proxy = sb.digest("web-proxy", "v1.0.0").expect("the sidecar is in its own repository, tagged v1.0.0");
    assert_eq!(sb.digest("web-proxy", &format!("sha-{}", &commit[..12])).as_deref(), Some(proxy.as_str()));
    assert_eq!(images["proxy"], format!("{}/web-proxy@{proxy}", sb.running.registry_host()), "pinned by digest");
    assert!(!app.ends_with(&proxy), "its own image");

    // A pinned sidecar: an image already in ECR (1.0.0's app image, by tag), resolved to its digest in the plan.
    repo.write(
        "task-definition.json",
        &task_definition(r#", {"name": "log", "image": "placeholder", "essential": false}"#),
    );
    repo.write(".pipeline.yml", &config("    log: { image: \"web:v1.0.0\" }\n"));
    repo.write("content.txt", "v2");
    repo.commit("feat: a log sidecar");
    let plan = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "plan", "--version", "1.1.0"]).run();
    plan.code(2);
    let planned = plan.json();
    let sidecars = planned["plan"]["sidecars"].as_array().expect("the plan holds the sidecars");
    let log = sidecars.iter().find(|s| s["container"] == "log").expect("log is planned");
    assert_eq!(log["image"]["kind"], "pinned");
    assert_eq!(log["image"]["pinned"], app.as_str(), "web:v1.0.0 resolved to its digest when planning");
    let second = release(&repo, &sb, "1.1.0");
    second.code(0);
    let td = sb.running_td(&svc);
    let images = sb.td_images(&td);
    assert_eq!(images["log"], app);
    assert_eq!(images["web"], second.json()["image_uri"].as_str().unwrap());
    let proxy = sb.digest("web-proxy", "v1.1.0").expect("the proxy of 1.1.0");
    assert_eq!(images["proxy"], format!("{}/web-proxy@{proxy}", sb.running.registry_host()));
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

/// web (`controller`: CodeDeploy with a 5-minute canary, or rolling; guard alarm `web-errors`) and worker (rolling,
/// guard alarm `worker-errors`, `worker_guard` more of its guard) in one parallel stage, with `on-cancel: leave`: what
/// a sibling's failure does must not depend on it, and a cancel must still honour it.
fn guarded_config(controller: Controller, worker_guard: &str) -> String {
    let strategy = match controller {
        Controller::Rolling => "strategy: rolling",
        Controller::CodeDeploy => {
            "strategy: codedeploy
        codedeploy:
          application: web
          deployment-group: web-prod
          config: CodeDeployDefault.ECSCanary10Percent5Minutes"
        }
    };
    format!(
        "version: 1
image:
  repository: web
environments:
  prod:
    cluster: prod
    timeout: 2m
    on-cancel: leave
    order: parallel
    services:
      web:
        task-definition: task-definition.json
        container: web
        {strategy}
        guard: {{ poll-interval: 50ms, alarms: [web-errors] }}
      worker:
        task-definition: worker.json
        container: worker
        guard: {{ poll-interval: 50ms, alarms: [worker-errors]{worker_guard} }}
"
    )
}

/// A sandbox at `time_scale` with web (`controller`, two tasks) and worker (rolling, one task) settled on their first
/// revisions, and both guard alarms OK.
fn web_and_worker(time_scale: f64, controller: Controller) -> (Sandbox, Service, Service) {
    let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale, ..Default::default() });
    let web = sb.service(controller);
    let worker = sb.worker("prod");
    sb.create_alarm("web-errors");
    sb.create_alarm("worker-errors");
    // A release waits for a rollout already in flight: the services' own first ones end before it starts.
    for svc in [&web, &worker] {
        assert!(sb.settled(svc, Duration::from_secs(30)).is_empty(), "{} settles", svc.name);
    }
    (sb, web, worker)
}

impl Sandbox {
    /// The status of CodeDeploy deployment `id` (`Stopped`, `Succeeded`, ...).
    fn codedeploy_status(&self, id: &str) -> String {
        let cd = self.codedeploy();
        self.block_on(async {
            let out = cd.get_deployment().deployment_id(id).send().await.unwrap();
            out.deployment_info().and_then(|d| d.status()).map(|s| s.as_str().to_owned()).unwrap_or_default()
        })
    }

    /// The status of `svc`'s ECS deployment `id` (`ecs-svc/...`) as ListServiceDeployments tells it (`SUCCESSFUL`,
    /// `STOPPED`, ...).
    fn service_deployment_status(&self, svc: &Service, id: &str) -> String {
        let ecs = self.ecs();
        let suffix = format!("/{}", id.trim_start_matches("ecs-svc/"));
        self.block_on(async {
            let out = ecs.list_service_deployments().cluster(&svc.cluster).service(&svc.name).send().await.unwrap();
            let found =
                out.service_deployments().iter().find(|d| d.service_deployment_arn().unwrap().ends_with(&suffix));
            let found = found.unwrap_or_else(|| panic!("deployment {id} of {}: {out:?}", svc.name));
            found.status().map(|s| s.as_str().to_owned()).unwrap_or_default()
        })
    }
}

/// The outcome when the worker's guard alarm failed the release while web was in flight: exit 4, the worker
/// rolled back by its own failure, web stopped because of it and back on its initial revision.
fn web_stopped_because_the_worker_failed(run: &Run, web: &Service) -> serde_json::Value {
    run.code(ROLLED_BACK)
        .stderr_has("`worker`: guard alarm `worker-errors` fired")
        .stderr_has("`web` stopped at once and rolled back to web:1");
    let out = run.json();
    assert_eq!(out["rolled_back"], true);
    assert_eq!(line(&out, "worker")["state"], "rolled-back");
    assert_eq!(line(&out, "web")["state"], "stopped");
    assert_eq!(line(&out, "web")["because_of"], "worker", "web's line names the service that failed");
    assert_eq!(line(&out, "web")["running_now"], web.initial_td.as_str());
    out
}

/// Both services run what they ran before the release, and nothing is left in flight.
fn both_back_and_settled(sb: &Sandbox, web: &Service, worker: &Service) {
    assert_eq!(sb.running_td(web), web.initial_td);
    assert_eq!(sb.running_td(worker), worker.initial_td);
    for svc in [web, worker] {
        assert_eq!(sb.settled(svc, Duration::from_secs(10)), Vec::<String>::new(), "{} is left in flight", svc.name);
    }
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

/// The deployment id the outcome's line for `name` carries.
fn deployment_of(out: &serde_json::Value, name: &str) -> String {
    line(out, name)["deployment_id"].as_str().unwrap_or_else(|| panic!("{name} started a deployment: {out}")).to_owned()
}

#[test]
fn a_failed_worker_stops_the_codedeploy_web_in_flight_at_once_with_stop_deployment() {
    // 4x: web's canary holds 10% for 75 s; the worker's rollout takes about 4 s, then it bakes for 30 s.
    let (sb, web, worker) = web_and_worker(4.0, Controller::CodeDeploy);
    let repo = repo(&guarded_config(Controller::CodeDeploy, ", bake: 30s"));
    let writes_before = sb.writes();
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]);
    // web's canary has moved its first 10%: the worker's guard alarm fires.
    let (run, seen) = run_with(pipeline, "10% on the new release", Duration::ZERO, |_| {
        sb.set_alarm("worker-errors", StateValue::Alarm)
    });
    assert!(seen, "web's canary started\n{}", run.stderr);
    let out = web_stopped_because_the_worker_failed(&run, &web);

    // web's deployment was stopped with its rollback, not run to the end and then returned by a second one.
    let web_deployment = deployment_of(&out, "web");
    assert_eq!(sb.codedeploy_status(&web_deployment), "Stopped", "web's canary was interrupted");
    let writes = sb.writes();
    let more = |op: &str| writes.get(op).copied().unwrap_or(0) - writes_before.get(op).copied().unwrap_or(0);
    assert_eq!(more("codedeploy:StopDeployment"), 1, "{writes:?}");
    assert_eq!(more("codedeploy:CreateDeployment"), 1, "no second deployment returned web: {writes:?}");
    assert_eq!(more("ecs:UpdateService"), 2, "the worker's release and its rollback: {writes:?}");
    both_back_and_settled(&sb, &web, &worker);
}

#[test]
fn a_failed_worker_stops_the_rolling_web_in_flight_at_once_and_rolls_it_back() {
    // 2x: web's rollout of two tasks takes about 8 s; the worker fails within a second of its start.
    let (sb, web, worker) = web_and_worker(2.0, Controller::Rolling);
    let repo = repo(&guarded_config(Controller::Rolling, ""));
    let writes_before = sb.writes();
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]);
    let (run, seen) = run_with(pipeline, "worker: deployment ecs-svc/", Duration::ZERO, |_| {
        sb.set_alarm("worker-errors", StateValue::Alarm)
    });
    assert!(seen, "the worker's deployment started\n{}", run.stderr);
    let out = web_stopped_because_the_worker_failed(&run, &web);

    // web's rollout was superseded by its rollback before it completed, and nothing returned it a second time.
    let web_deployment = deployment_of(&out, "web");
    assert_eq!(sb.service_deployment_status(&web, &web_deployment), "STOPPED", "not SUCCESSFUL");
    let writes = sb.writes();
    let more = |op: &str| writes.get(op).copied().unwrap_or(0) - writes_before.get(op).copied().unwrap_or(0);
    assert_eq!(more("ecs:UpdateService"), 4, "each service's release and its one rollback: {writes:?}");
    both_back_and_settled(&sb, &web, &worker);
}

#[test]
fn sigint_during_a_parallel_stage_is_a_cancel_that_honours_on_cancel() {
    let (sb, web, worker) = web_and_worker(4.0, Controller::CodeDeploy);
    let repo = repo(&guarded_config(Controller::CodeDeploy, ""));
    let writes_before = sb.writes();
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]);
    let (run, signalled) = run_and_signal(pipeline, "web: deployment d-", Duration::from_millis(200), "INT");
    assert!(signalled, "web's deployment started\n{}", run.stderr);
    run.code(CANCELLED).stderr_has("cancelled").stderr_has("left running (on-cancel: leave)");
    assert!(
        !run.stderr.contains("another service of this release failed"),
        "a cancel stops no sibling\n{}",
        run.stderr
    );
    let out = run.json();
    let writes = sb.writes();
    let more = |op: &str| writes.get(op).copied().unwrap_or(0) - writes_before.get(op).copied().unwrap_or(0);
    assert_eq!(more("codedeploy:StopDeployment"), 0, "on-cancel: leave: {writes:?}");
    assert_eq!(more("ecs:UpdateService"), 1, "the worker's release, and no rollback: {writes:?}");
    let web_deployment = deployment_of(&out, "web");
    assert!(
        sb.in_flight(&web).contains(&web_deployment),
        "web's canary goes on: {}",
        sb.codedeploy_status(&web_deployment)
    );
    let worker_deployment = deployment_of(&out, "worker");
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while sb.service_deployment_status(&worker, &worker_deployment) == "IN_PROGRESS" && std::time::Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(sb.service_deployment_status(&worker, &worker_deployment), "SUCCESSFUL", "the worker's rollout went on");
    assert_eq!(line(&out, "worker")["task_definition_arn"], sb.running_td(&worker).as_str());
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

/// The revision `svc` runs (DescribeServices), and the image of its container `container` (DescribeTaskDefinition).
fn runs(sb: &Sandbox, svc: &Service, container: &str) -> (String, String) {
    let td = sb.running_td(svc);
    let image = sb.td_images(&td).remove(container).unwrap_or_else(|| panic!("{td} has no container {container}"));
    (td, image)
}

#[test]
fn deploy_image_of_a_staging_release_moves_every_service_then_a_second_changes_nothing() {
    let sb = Sandbox::start();
    let staging = sb.service_in("staging", Controller::Rolling);
    let web = sb.service(Controller::CodeDeploy);
    let worker = sb.worker("prod");
    let staging_env = "  staging:\n    cluster: staging\n    service: web\n    task-definition: task-definition.json\n    \
                       container: web\n    timeout: 2m\n    guard:\n      poll-interval: 50ms\n";
    let repo = repo(&format!("{}{staging_env}", config("[[worker], [web]]", "")));

    // 1.0.0 released to staging, one service: the image prod will run.
    let staged = Pipeline::new(&repo)
        .sandbox(&sb)
        .args(&["--output", "json", "-e", "staging", "release", "--version", "1.0.0"])
        .run();
    staged.code(0);
    let image = staged.json()["image_uri"].as_str().expect("the pushed image").to_owned();
    assert!(image.contains("/web@sha256:"), "{image}");
    assert_eq!(runs(&sb, &staging, "web").1, image);
    assert_eq!((sb.running_td(&web), sb.running_td(&worker)), (web.initial_td.clone(), worker.initial_td.clone()));

    // Its tag deployed onto prod's two services: no build, each service runs the digest behind the tag.
    let deploy = |output: &[&str]| {
        let args = [output, &["-e", "prod", "deploy", "--image", "web:v1.0.0"]].concat();
        Pipeline::new(&repo).sandbox(&sb).env("DOCKER_HOST", "unix:///nonexistent/docker.sock").args(&args).run()
    };
    let before = sb.writes();
    let promoted = deploy(&["--output", "json"]);
    promoted.code(0);
    let out = promoted.json();
    assert_eq!(out["image_uri"], image.as_str(), "pinned by the digest behind web:v1.0.0");
    for (name, svc) in [("web", &web), ("worker", &worker)] {
        let (td, running) = runs(&sb, svc, name);
        assert_ne!(td, svc.initial_td, "{name} moved");
        assert_eq!(running, image, "{name} runs the digest");
        assert!(sb.td_tags(&td).contains(&"pipeline:version=1.0.0".to_owned()), "{name}: {:?}", sb.td_tags(&td));
        assert_eq!(line(&out, name)["state"], "released", "{out}");
        assert_eq!(line(&out, name)["task_definition_arn"], td.as_str());
    }
    assert_eq!(out["services"].as_array().map(Vec::len), Some(2), "a line per service: {out}");
    let moved = delta(&before, &sb.writes());
    assert_eq!(moved.get("ecr:PutImage"), None, "nothing pushed: {moved:?}");
    assert!(moved.contains_key("codedeploy:CreateDeployment") && moved.contains_key("ecs:UpdateService"), "{moved:?}");

    // The same image again: each service already runs it, so nothing is registered, deployed or tagged.
    let running = (sb.running_td(&web), sb.running_td(&worker));
    let before = sb.writes();
    let again = deploy(&[]);
    again.code(0);
    let repeated = delta(&before, &sb.writes());
    assert_eq!((sb.running_td(&web), sb.running_td(&worker)), running);
    for (name, svc) in [("web", &web), ("worker", &worker)] {
        let td = sb.running_td(svc);
        again.stderr_has(&format!("service {name} (prod/{name}): unchanged, runs {}", short(&td)));
    }
    assert_eq!(repeated, BTreeMap::new(), "no write call for what already runs");
}

/// The write calls made between two readings of [`Sandbox::writes`].
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after.iter().map(|(op, n)| (op.clone(), n - before.get(op).unwrap_or(&0))).filter(|(_, n)| *n > 0).collect()
}

/// `arn:...:task-definition/web:3` -> `web:3`.
fn short(arn: &str) -> &str {
    arn.rsplit_once("task-definition/").map_or(arn, |(_, t)| t)
}
