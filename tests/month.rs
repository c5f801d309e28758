//! A team's month of releases, against the sandbox with a real git history and no `--version`:
//! versions follow the conventional commits (from what ECR holds, not only git tags), `latest`
//! follows the newest verified release while version tags keep their first digest, a failed release
//! returns to what ran before it, `rollback --to` an older release, a re-run changes nothing, the PR
//! check diffs against what runs, a lower version is refused before anything is written; and a
//! MUTABLE repository where two releases race on one tag.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::StateValue;
use serde_json::Value;

use crate::fixture::{Controller, Service, TASK_DEFINITION};
use crate::harness::{Pipeline, Repo, Run, Sandbox, http_get, remove_local_images};

const ROLLED_BACK: i32 = 4;
const USAGE: i32 = 3;
const GITHUB_TOKEN: &str = "ghs_monthTestToken0123456789";

/// Staging deploys rolling, production through CodeDeploy (all at once, so a month stays short);
/// each watches its own named alarm, which the test fires for the release that goes wrong.
const CONFIG: &str = "version: 1
image:
  repository: web
tags: [semver, sha, latest]
environments:
  staging:
    cluster: staging
    service: web
    task-definition: staging.json
    container: web
    timeout: 2m
    strategy: rolling
    guard: { alarms: [staging-errors], poll-interval: 50ms }
  production:
    cluster: prod
    service: web
    task-definition: production.json
    container: web
    timeout: 2m
    strategy: codedeploy
    codedeploy: { application: web, deployment-group: web-prod, config: CodeDeployDefault.ECSAllAtOnce }
    guard: { alarms: [prod-errors], poll-interval: 50ms }
";

struct Month {
    sb: Sandbox,
    repo: Repo,
    staging: Service,
    production: Service,
    /// The first digest each version tag named.
    first_digest: BTreeMap<String, String>,
    /// Per environment, the revision each verified version runs on.
    revisions: BTreeMap<(&'static str, String), String>,
}

impl Month {
    fn start() -> Self {
        let sb = Sandbox::start();
        let staging = sb.service_in("staging", Controller::Rolling);
        let production = sb.service(Controller::CodeDeploy);
        sb.create_alarm("staging-errors");
        sb.create_alarm("prod-errors");
        // Fired by the test during the failing releases only. On a loaded machine a SetAlarmState
        // was seen to land seconds late (duplicated below the test); an alarm the later releases do
        // not watch keeps such a straggler from stopping them.
        sb.create_alarm("staging-bad-release");
        sb.create_alarm("prod-bad-release");
        // The team released v1.0.0 by hand before adopting pipeline: a git tag, nothing in ECR.
        let repo = Repo::tiny("web", "v1");
        repo.git(&["tag", "v1.0.0"]);
        repo.write(".pipeline.yml", CONFIG);
        repo.write("staging.json", &TASK_DEFINITION.replace("\"family\": \"web\"", "\"family\": \"staging-web\""));
        repo.write("production.json", TASK_DEFINITION);
        Month { sb, repo, staging, production, first_digest: BTreeMap::new(), revisions: BTreeMap::new() }
    }

    fn pipeline(&self) -> Pipeline {
        let api = format!("{}/github", self.sb.running.endpoint());
        Pipeline::new(&self.repo)
            .sandbox(&self.sb)
            .env("GITHUB_REPOSITORY", "acme/web")
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .env("GITHUB_API_URL", api)
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        self.pipeline().args(&all).run()
    }

    fn service(&self, env: &str) -> &Service {
        if env == "staging" { &self.staging } else { &self.production }
    }

    /// A push to main: one commit, released to staging then production, both verified.
    fn push(&mut self, message: &str, content: Option<&str>, expected: &str) {
        if let Some(content) = content {
            self.repo.write("content.txt", content);
        } else {
            // Only a file outside the image changes: the build is a cache hit.
            self.repo.write("NOTES.md", message);
        }
        self.repo.commit(message);
        for env in ["staging", "production"] {
            let run = self.run(&["-e", env, "release"]);
            run.code(0);
            let out = run.json();
            assert_eq!(out["version"], expected, "{env} after `{message}`: {out:#}");
            let td = out["task_definition_arn"].as_str().expect("a revision").to_owned();
            assert_eq!(self.sb.running_td(self.service(env)), td, "{env} runs {expected}");
            assert!(self.sb.td_tags(&td).contains(&format!("pipeline:version={expected}")));
            self.revisions.insert((if env == "staging" { "staging" } else { "production" }, expected.to_owned()), td);
        }
        let tag = format!("v{expected}");
        let digest = self.sb.digest("web", &tag).expect("the version tag exists");
        self.first_digest.entry(tag).or_insert_with(|| digest.clone());
        assert_eq!(self.sb.digest("web", "latest"), Some(digest), "latest follows the newest verified release");
    }

    /// `service:Operation` -> count, from `/_sandbox/calls`.
    fn calls(&self) -> BTreeMap<String, u64> {
        let body = self.sb.block_on(http_get(&format!("{}/_sandbox/calls", self.sb.running.endpoint())));
        let calls: Value = serde_json::from_str(&body).unwrap();
        calls["operations"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(op, stat)| (op.clone(), stat["count"].as_u64().unwrap()))
            .collect()
    }

    /// The AWS operations that write, called between two snapshots.
    fn writes_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<String> {
        const WRITES: [&str; 15] = [
            "Put",
            "Create",
            "Register",
            "Update",
            "Tag",
            "Untag",
            "Delete",
            "Deregister",
            "Stop",
            "Continue",
            "BatchDelete",
            "Set",
            "Start",
            "Run",
            "Initiate",
        ];
        after
            .iter()
            .filter(|(op, n)| before.get(*op).copied().unwrap_or(0) < **n)
            .map(|(op, _)| op.clone())
            .filter(|op| op.split(':').nth(1).is_some_and(|name| WRITES.iter().any(|w| name.starts_with(w))))
            .collect()
    }

    fn commit_of(&self, version: &str) -> String {
        let td = &self.revisions[&("staging", version.to_owned())];
        let tags = self.sb.td_tags(td);
        tags.iter().find_map(|t| t.strip_prefix("pipeline:commit=")).unwrap().to_owned()
    }

    fn codedeploy_deployments(&self) -> usize {
        let cd = self.sb.codedeploy();
        self.sb.block_on(async {
            let list = cd.list_deployments().application_name("web").deployment_group_name("web-prod").send().await;
            list.map(|l| l.deployments().len()).unwrap_or(0)
        })
    }

    fn github_deployments(&self) -> Vec<Value> {
        self.sb.captured()["deployments"].as_array().cloned().unwrap_or_default()
    }
}

#[test]
fn month_of_releases_versions_follow_the_commits_and_every_rollback_lands_right() {
    let started = Instant::now();
    let mut m = Month::start();

    // Days 1-9: a feature, fixes, performance, docs, breaking changes, in every footer style.
    m.push("feat: deploy with pipeline", None, "1.1.0");
    let repo_desc = m.sb.block_on(m.sb.ecr().describe_repositories().repository_names("web").send()).unwrap();
    let created = &repo_desc.repositories()[0];
    assert_eq!(created.image_tag_mutability().map(|t| t.as_str()), Some("IMMUTABLE_WITH_EXCLUSION"));
    let filters: Vec<&str> = created.image_tag_mutability_exclusion_filters().iter().map(|f| f.filter()).collect();
    assert_eq!(filters, ["latest"], "only the moving tag may move");
    m.push("fix: handle empty bodies", Some("v2"), "1.1.1");
    m.push("perf: cache the index", Some("v3"), "1.1.2");
    m.push("feat(search): search by name", Some("v4"), "1.2.0");
    m.push("docs: explain the search", None, "1.2.1");
    m.push("feat(api)!: drop the v1 endpoints", Some("v5"), "2.0.0");
    m.push("fix(api): 404 for unknown ids", Some("v6"), "2.0.1");
    m.push("feat: bulk import\n\nBREAKING CHANGE: the import format is JSON lines", Some("v7"), "3.0.0");
    m.push("fix: import of empty files", Some("v8"), "3.0.1");

    // Day 10: the same commit again (a re-run of the job) changes nothing at all.
    let before = m.calls();
    let td_before = m.sb.running_td(&m.staging);
    let rerun = m.run(&["-e", "staging", "release"]);
    rerun.code(0);
    let out = rerun.json();
    assert_eq!(out["version"], "3.0.1");
    assert_eq!(out["image_action"], "reused");
    assert!(out.get("deployment_id").is_none() && out.get("tags_added").is_none(), "{out:#}");
    assert_eq!(out["task_definition_arn"], td_before.as_str());
    assert_eq!(Month::writes_between(&before, &m.calls()), Vec::<String>::new(), "a re-run writes nothing");

    m.push("feat: export", Some("v9"), "3.1.0");

    // Day 12: v3.1.0 misbehaves in a way no alarm saw; the team goes back to v2.0.1 by name.
    let deployments_before = m.github_deployments().len();
    for env in ["staging", "production"] {
        let run = m.run(&["-e", env, "rollback", "--to", "v2.0.1"]);
        run.code(0);
        let out = run.json();
        assert_eq!(out["version"], "2.0.1", "reported as a release of v2.0.1: {out:#}");
        assert!(out["deployment_id"].as_str().is_some(), "{out:#}");
        let key = (if env == "staging" { "staging" } else { "production" }, "2.0.1".to_owned());
        assert_eq!(m.sb.running_td(m.service(env)), m.revisions[&key], "{env} runs v2.0.1's revision again");
        run.stderr_has("rolling back");
    }
    // Each rollback is a GitHub Deployment of v2.0.1's own commit.
    let commit = m.commit_of("2.0.1");
    let new: Vec<Value> = m.github_deployments().into_iter().skip(deployments_before).collect();
    assert_eq!(new.len(), 2, "{new:#?}");
    for d in &new {
        assert_eq!(d["ref"], commit.as_str(), "{d}");
        let states: Vec<&str> = d["statuses"].as_array().unwrap().iter().filter_map(|s| s["state"].as_str()).collect();
        assert_eq!(&states[..2], ["in_progress", "success"], "{states:?}");
    }
    assert_eq!(m.sb.digest("web", "latest"), m.sb.digest("web", "v3.1.0"), "a rollback does not move latest");

    // A PR check now shows the true diff: against v2.0.1, which runs, not v3.1.0, the family's latest.
    let head = m.repo.head();
    let check = m.pipeline().env("GITHUB_SHA", &head).args(&["--output", "json", "-e", "staging", "check"]).run();
    check.code(0).stderr_has("is not what runs");
    let diff = check.json()["task_definition_diff"].as_str().unwrap_or_default().to_owned();
    let running_image = m.sb.td_image(&m.revisions[&("staging", "2.0.1".to_owned())]);
    let release_image = m.sb.td_image(&m.revisions[&("staging", "3.1.0".to_owned())]);
    assert!(diff.contains(&running_image) && diff.contains(&release_image), "the diff moves the image:\n{diff}");
    let posted = m.sb.captured()["check_runs"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(posted["head_sha"], head.as_str());

    // Day 13: a fix that fails on both services. Each returns to what ran before it (v2.0.1),
    // not to the newest verified release (v3.1.0).
    m.repo.write("content.txt", "v10");
    m.repo.commit("fix: retry the upstream call");
    let staging_before = m.sb.running_td(&m.staging);
    let failing = m.pipeline().args(&[
        "--output",
        "json",
        "-e",
        "staging",
        "release",
        "--set",
        "environments.staging.guard.bake=30s",
        "--set",
        "environments.staging.guard.alarms=[staging-bad-release]",
    ]);
    let handle = std::thread::spawn(move || failing.run());
    wait_until(|| m.sb.running_td(&m.staging) != staging_before, "the failing release runs on staging");
    std::thread::sleep(Duration::from_millis(300));
    m.sb.set_alarm("staging-bad-release", StateValue::Alarm);
    let failed = handle.join().unwrap();
    failed.code(ROLLED_BACK).stderr_has("staging-bad-release");
    m.sb.set_alarm("staging-bad-release", StateValue::Ok);
    assert_eq!(m.sb.running_td(&m.staging), staging_before, "staging runs what ran before the failed release");
    let out = failed.json();
    assert_eq!((out["version"].as_str(), out["rolled_back"].as_bool()), (Some("3.1.1"), Some(true)), "{out:#}");
    assert!(out["deployment_id"].as_str().is_some_and(|d| d.starts_with("ecs-svc/")), "set on failure too: {out:#}");

    let prod_before = m.sb.running_td(&m.production);
    let groups_before = m.codedeploy_deployments();
    let failing = m.pipeline().args(&[
        "--output",
        "json",
        "-e",
        "production",
        "release",
        "--set",
        "environments.production.codedeploy.config=CodeDeployDefault.ECSCanary10Percent15Minutes",
        "--set",
        "environments.production.guard.alarms=[prod-bad-release]",
    ]);
    let handle = std::thread::spawn(move || failing.run());
    wait_until(|| m.codedeploy_deployments() > groups_before, "the failing release starts in CodeDeploy");
    std::thread::sleep(Duration::from_millis(200));
    m.sb.set_alarm("prod-bad-release", StateValue::Alarm);
    let failed = handle.join().unwrap();
    failed.code(ROLLED_BACK).stderr_has("prod-bad-release");
    m.sb.set_alarm("prod-bad-release", StateValue::Ok);
    assert_eq!(m.sb.running_td(&m.production), prod_before, "production runs what ran before the failed release");
    let out = failed.json();
    assert_eq!(out["version"], "3.1.1");
    assert!(out["deployment_id"].as_str().is_some_and(|d| d.starts_with("d-")), "{out:#}");
    assert_eq!(m.sb.digest("web", "latest"), m.sb.digest("web", "v3.1.0"), "latest stays on the newest verified");
    let failed_digest = m.sb.digest("web", "v3.1.1").expect("the failed release's image was pushed");
    m.first_digest.insert("v3.1.1".into(), failed_digest);
    // The failed release was never verified: rolling back to it needs --force.
    let refused = m.run(&["-e", "staging", "rollback", "--to", "v3.1.1"]);
    refused.code(USAGE).stderr_has("never finished a release healthy").stderr_has("--force");
    assert_eq!(m.sb.running_td(&m.staging), staging_before);

    // Days 14-17: work goes on from the failed release's version (its tag exists: it was released).
    m.push("feat: retry budget", Some("v11"), "3.2.0");
    m.push("fix: budget reset", Some("v12"), "3.2.1");
    m.push("perf: fewer allocations", Some("v13"), "3.2.2");
    m.push("chore: tidy", None, "3.2.3");

    // A lower version is refused before anything is built or written.
    let before = m.calls();
    let lower = m.run(&["-e", "staging", "release", "--version", "3.1.5"]);
    lower.code(USAGE).stderr_has("v3.2.3").stderr_has("ECR web:v3.2.3");
    assert!(!lower.stderr.contains("building"), "{}", lower.stderr);
    assert_eq!(Month::writes_between(&before, &m.calls()), Vec::<String>::new(), "nothing written");

    // Every version tag still names the digest it was created with.
    for (tag, digest) in &m.first_digest {
        assert_eq!(m.sb.digest("web", tag).as_ref(), Some(digest), "{tag} never moved");
    }
    assert_eq!(m.first_digest.len(), 15, "{:?}", m.first_digest.keys().collect::<Vec<_>>());
    remove_local_images(&format!("{}/web", m.sb.running.registry_host()));
    eprintln!("a month of releases took {:?}", started.elapsed());
}

#[test]
fn month_two_releases_racing_on_one_tag_in_a_mutable_repository_one_wins_the_other_fails_loudly() {
    let sb = Sandbox::start();
    sb.block_on(
        sb.ecr()
            .create_repository()
            .repository_name("race")
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
            .send(),
    )
    .unwrap();
    let first = Repo::tiny("race", "base");
    Pipeline::new(&first).sandbox(&sb).args(&["push"]).run().code(0);
    assert!(sb.digest("race", "v0.1.0").is_some());
    // Two branches from v0.1.0, each with a fix: both compute v0.1.1.
    let second = Repo { dir: tempfile::tempdir().unwrap() };
    second.git(&["clone", "-q", first.path().to_str().unwrap(), "."]);
    for (repo, content) in [(&first, "a"), (&second, "b")] {
        repo.write("content.txt", content);
        repo.commit(&format!("fix: {content}"));
    }
    let runs: Vec<std::process::Child> = [&first, &second]
        .iter()
        .map(|repo| Pipeline::new(repo).sandbox(&sb).args(&["--output", "json", "push"]).spawn())
        .collect();
    let runs: Vec<Run> = runs.into_iter().map(|c| c.wait_with_output().unwrap().into()).collect();
    let winners: Vec<&Run> = runs.iter().filter(|r| r.code == 0).collect();
    let losers: Vec<&Run> = runs.iter().filter(|r| r.code != 0).collect();
    assert_eq!((winners.len(), losers.len()), (1, 1), "exactly one wins:\n{}\n{}", runs[0].stderr, runs[1].stderr);
    let winner = winners[0].json();
    assert_eq!(winner["version"], "0.1.1");
    let digest = winner["image_digest"].as_str().unwrap().to_owned();
    assert_eq!(sb.digest("race", "v0.1.1"), Some(digest.clone()), "the tag names the winner's image");
    // The loser says so, naming the tag and the digest it would not overwrite.
    let loser = losers[0];
    loser.code(1).stderr_has("MUTABLE").stderr_has("v0.1.1").stderr_has(&digest);
    assert_eq!(loser.json()["status"], "failure");
    remove_local_images(&format!("{}/race", sb.running.registry_host()));
}

#[test]
fn month_an_immutable_repository_without_the_latest_exclusion_is_refused_with_the_fix() {
    let sb = Sandbox::start();
    sb.block_on(
        sb.ecr()
            .create_repository()
            .repository_name("locked")
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
            .send(),
    )
    .unwrap();
    let repo = Repo::tiny("locked", "x");
    repo.write(".pipeline.yml", "version: 1\nimage:\n  repository: locked\ntags: [semver, sha, latest]\n");
    repo.commit("feat: latest too");
    let run = Pipeline::new(&repo).sandbox(&sb).args(&["push"]).run();
    run.code(USAGE).stderr_has(
        "aws ecr put-image-tag-mutability --repository-name locked --image-tag-mutability IMMUTABLE_WITH_EXCLUSION \
         --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest",
    );
    assert_eq!(sb.digest("locked", &format!("sha-{}", &repo.head()[..12])), None, "nothing was pushed");
}

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
