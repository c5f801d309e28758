//! Promotion of one digest across accounts (issue 14): a release built once with the real Docker engine into the
//! "staging" account's ECR, then `deploy --image <staging>@sha256:... -e prod` into another account through an
//! assumed role (`role-arn`): the same digest lands in prod's ECR with its version and commit tags, nothing is
//! built, the prod service runs it, a second promotion copies nothing, and a role that cannot be assumed is
//! refused before any write.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fixture::Controller;
use crate::harness::{Pipeline, Repo, Sandbox, http_get, remove_local_images};

const PROD_ROLE: &str = "arn:aws:iam::111111111111:role/deploy";
const PROD_ACCOUNT: &str = "111111111111";

fn task_definition(family: &str) -> String {
    format!(
        r#"{{ "family": "{family}", "containerDefinitions": [ {{ "name": "web", "image": "placeholder", "essential": true,
            "portMappings": [ {{ "containerPort": 8080 }} ] }} ] }}"#
    )
}

fn environment(name: &str, cluster: &str, extra: &str) -> String {
    format!(
        "  {name}:\n    cluster: {cluster}\n    service: web\n    task-definition: {cluster}.json\n    container: web\n    \
         timeout: 2m\n    guard:\n      poll-interval: 50ms\n{extra}"
    )
}

/// Staging in the sandbox's home account; prod (and `nowhere`) behind a role.
fn repo() -> Repo {
    let repo = Repo::tiny("web", "promoted content");
    repo.write("staging.json", &task_definition("staging-web"));
    repo.write("prod.json", &task_definition("web"));
    repo.write("nowhere.json", &task_definition("nowhere-web"));
    let config = format!(
        "version: 1\nimage:\n  repository: web\nenvironments:\n{}{}{}",
        environment("staging", "staging", ""),
        environment("prod", "prod", &format!("    role-arn: {PROD_ROLE}\n")),
        environment("nowhere", "nowhere", "    role-arn: arn:aws:iam::999999999999:role/deploy\n"),
    );
    repo.write(".pipeline.yml", &config);
    repo.commit("feat: staging and prod");
    repo
}

/// An SDK config acting in the prod account through the same role (aws-config's AssumeRoleProvider).
fn prod_sdk(sb: &Sandbox) -> aws_config::SdkConfig {
    sb.block_on(async {
        let provider = aws_config::sts::AssumeRoleProvider::builder(PROD_ROLE)
            .session_name("test-fixture")
            .configure(&sb.sdk)
            .build()
            .await;
        sb.sdk
            .clone()
            .into_builder()
            .credentials_provider(aws_sdk_ecr::config::SharedCredentialsProvider::new(provider))
            .build()
    })
}

fn calls(sb: &Sandbox) -> BTreeMap<String, u64> {
    let body = sb.block_on(http_get(&format!("{}/_sandbox/calls", sb.running.endpoint())));
    let value: Value = serde_json::from_str(&body).unwrap();
    value["operations"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap())).collect()
}

/// The operations called between two snapshots, with how often.
fn between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(op, n)| {
            let d = n - before.get(op).copied().unwrap_or(0);
            (d > 0).then(|| (op.clone(), d))
        })
        .collect()
}

/// Releases 1.0.0 to staging (built with the real Docker engine into the home account's ECR): its pinned image.
fn release_to_staging(sb: &Sandbox, repo: &Repo) -> String {
    let released = Pipeline::new(repo)
        .sandbox(sb)
        .args(&["--output", "json", "-e", "staging", "release", "--version", "1.0.0"])
        .run();
    released.code(0);
    released.json()["image_uri"].as_str().expect("image_uri").to_owned()
}

/// Calls that change something: registry uploads and manifests, ECR and ECS writes.
fn writes(delta: &BTreeMap<String, u64>) -> Vec<String> {
    let read = ["Describe", "List", "Get", "BatchGet", "Head", "Ping", "AssumeRole"];
    delta.keys().filter(|op| !read.iter().any(|r| op.split(':').nth(1).unwrap_or("").starts_with(r))).cloned().collect()
}

#[test]
fn one_digest_is_promoted_from_staging_to_prod_through_an_assumed_role_and_a_second_promotion_copies_nothing() {
    let mut sb = Sandbox::start();
    let staging = sb.service_in("staging", Controller::Rolling);
    // Prod's service lives in the prod account: created with the role's credentials.
    let home = sb.sdk.clone();
    sb.sdk = prod_sdk(&sb);
    let prod = sb.service_in("prod", Controller::Rolling);
    let prod_ecr = sb.ecr();
    sb.sdk = home;
    let repo = repo();
    let prod_host = sb.running.registry_host_of(PROD_ACCOUNT).expect("the prod account's registry");

    // 1. The one build: staging's release, with the real Docker engine, into the home account's ECR.
    let staged = release_to_staging(&sb, &repo);
    let digest = staged.split_once('@').expect("pinned").1.to_owned();
    assert!(staged.starts_with(&format!("{}/web@sha256:", sb.running.registry_host())), "{staged}");
    assert_eq!(sb.td_image(&sb.running_td(&staging)), staged, "staging runs the build");
    let short: String = repo.head().chars().take(12).collect();

    // 2. The plan shows the copy; nothing is written by it. No Docker engine at all: nothing can be built.
    let no_docker = "unix:///nonexistent/docker.sock";
    let before = calls(&sb);
    let planned = Pipeline::new(&repo)
        .sandbox(&sb)
        .env("DOCKER_HOST", no_docker)
        .args(&["--output", "json", "--dry-run", "-e", "prod", "deploy", "--image", &staged])
        .run();
    assert!(planned.code == 0 || planned.code == 2, "dry run: {}\n{}", planned.code, planned.stderr);
    planned.stderr_has(&format!("copy {staged} -> {prod_host}/web")).stderr_has("same digest, no build");
    planned.stderr_has("AWS as role arn:aws:iam::111111111111:role/deploy (session pipeline-web-1.0.0)");
    let plan_json = planned.json();
    assert_eq!(plan_json["plan"]["image"]["kind"], "promote", "{plan_json:#}");
    assert_eq!(plan_json["plan"]["image"]["create_repository"], true);
    assert_eq!(writes(&between(&before, &calls(&sb))), Vec::<String>::new(), "a dry run writes nothing");

    // 3. The promotion: same digest in prod's ECR, tags copied, no build, prod runs it.
    let before = calls(&sb);
    let promoted = Pipeline::new(&repo)
        .sandbox(&sb)
        .env("DOCKER_HOST", no_docker)
        .args(&["--output", "json", "-e", "prod", "deploy", "--image", &staged])
        .run();
    promoted.code(0);
    let delta = between(&before, &calls(&sb));
    let pinned = format!("{prod_host}/web@{digest}");
    assert_eq!(promoted.json()["image_uri"], pinned.as_str());
    let described = sb.block_on(async {
        prod_ecr
            .describe_images()
            .repository_name("web")
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(&digest).build())
            .send()
            .await
            .expect("the digest is in prod's ECR")
    });
    let detail = &described.image_details()[0];
    assert_eq!(detail.registry_id(), Some(PROD_ACCOUNT));
    let mut tags = detail.image_tags().to_vec();
    tags.sort();
    assert_eq!(tags, vec![format!("sha-{short}"), "v1.0.0".to_string()], "the version and commit tags travel");
    assert_eq!(sb.td_image(&sb.running_td(&prod)), pinned, "prod runs the promoted digest from its own ECR");
    assert!(delta.get("sts:AssumeRole").is_some_and(|n| *n >= 1), "{delta:?}");
    assert!(delta.get("registry:PutUpload").is_some_and(|n| *n >= 2), "config and layer uploaded: {delta:?}");
    assert_eq!(delta.get("registry:PutManifest"), Some(&1), "{delta:?}");
    assert_eq!(delta.get("ecr:CreateRepository"), Some(&1), "{delta:?}");
    let sessions: Vec<(String, String)> = {
        let world = sb.running.sandbox.world();
        world.sts.sessions.values().map(|s| (s.role_arn.clone(), s.session_name.clone())).collect()
    };
    assert!(sessions.contains(&(PROD_ROLE.to_string(), "pipeline-web-1.0.0".to_string())), "{sessions:?}");

    // 4. Promoting the same digest again copies nothing.
    let before = calls(&sb);
    let again = Pipeline::new(&repo)
        .sandbox(&sb)
        .env("DOCKER_HOST", no_docker)
        .args(&["--output", "json", "-e", "prod", "deploy", "--image", &staged])
        .run();
    again.code(0).stderr_has("nothing to copy");
    let delta = between(&before, &calls(&sb));
    for op in
        ["registry:PutUpload", "registry:StartUpload", "registry:PutManifest", "ecr:PutImage", "ecr:CreateRepository"]
    {
        assert_eq!(delta.get(op), None, "{op} on a re-promotion: {delta:?}");
    }
    assert_eq!(again.json()["image_uri"], pinned.as_str());

    // 5. Within one registry, into another repository: blobs are mounted, not uploaded again.
    let before = calls(&sb);
    let mirrored = Pipeline::new(&repo)
        .sandbox(&sb)
        .env("DOCKER_HOST", no_docker)
        .args(&["--output", "json", "-e", "prod", "--set", "image.repository=web-mirror", "deploy", "--image", &pinned])
        .run();
    mirrored.code(0);
    let delta = between(&before, &calls(&sb));
    assert_eq!(mirrored.json()["image_uri"], format!("{prod_host}/web-mirror@{digest}").as_str());
    assert!(delta.get("registry:StartUpload").is_some_and(|n| *n >= 2), "mounts: {delta:?}");
    assert_eq!(delta.get("registry:PutUpload"), None, "no blob bytes moved: {delta:?}");
    // The one blob read is the image config, for its revision label (as any `deploy --image` reads it).
    assert!(delta.get("registry:GetBlob").is_none_or(|n| *n <= 1), "no layer pulled: {delta:?}");
    assert_eq!(delta.get("registry:PutManifest"), Some(&1), "{delta:?}");
    let mirrored_digest = sb.block_on(async {
        let out = prod_ecr.describe_images().repository_name("web-mirror").send().await.expect("web-mirror exists");
        out.image_details().iter().map(|d| d.image_digest().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    });
    assert_eq!(mirrored_digest, vec![digest.clone()]);
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

/// A registry that answers 500 to everything fails the promotion naming the copy, with nothing deployed in prod;
/// one that answers 500 three times and then recovers is retried through, and the promotion lands.
#[test]
fn a_registry_down_fails_the_promotion_cleanly_and_a_passing_hiccup_is_retried_through() {
    let mut sb = Sandbox::start();
    sb.service_in("staging", Controller::Rolling);
    let home = sb.sdk.clone();
    sb.sdk = prod_sdk(&sb);
    let prod = sb.service_in("prod", Controller::Rolling);
    sb.sdk = home;
    let repo = repo();
    let staged = release_to_staging(&sb, &repo);
    let promote = || {
        Pipeline::new(&repo)
            .sandbox(&sb)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(&["--output", "json", "-e", "prod", "deploy", "--image", &staged])
            .run()
    };

    // Down: every registry request answers 500, through every retry.
    sb.fault(r#"{"kind":"error","service":"registry","operation":"request"}"#);
    let before = calls(&sb);
    let failed = promote();
    failed.code(1).stderr_has("between registries failed").stderr_has("500");
    let ecs_writes: Vec<String> =
        writes(&between(&before, &calls(&sb))).into_iter().filter(|op| op.starts_with("ecs:")).collect();
    assert_eq!(ecs_writes, Vec::<String>::new(), "nothing deployed");
    assert_eq!(sb.running_td(&prod), prod.initial_td);
    sb.clear_faults();

    // A hiccup: three 500s, then the registry answers again. Without retries the first 500 ends the copy.
    sb.fault(r#"{"kind":"error","service":"registry","operation":"request","count":3}"#);
    let promoted = promote();
    promoted.code(0);
    let digest = staged.split_once('@').expect("pinned").1;
    let prod_host = sb.running.registry_host_of(PROD_ACCOUNT).expect("the prod account's registry");
    let pinned = format!("{prod_host}/web@{digest}");
    assert_eq!(promoted.json()["image_uri"], pinned.as_str());
    assert_eq!(sb.td_image(&sb.running_td(&prod)), pinned, "prod runs the promoted digest");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn a_role_that_cannot_be_assumed_is_refused_before_any_write() {
    let sb = Sandbox::start();
    sb.service_in("nowhere", Controller::Rolling);
    let repo = repo();
    let before = calls(&sb);
    // A repository name: the image would be looked up in the environment's ECR, as the role.
    let image = format!("web@sha256:{}", "a".repeat(64));
    let run = Pipeline::new(&repo).sandbox(&sb).args(&["-e", "nowhere", "deploy", "--image", &image]).run();
    run.code(1)
        .stderr_has("cannot assume role arn:aws:iam::999999999999:role/deploy")
        .stderr_has("AccessDenied")
        .stderr_has("trust policy");
    let delta = between(&before, &calls(&sb));
    assert_eq!(writes(&delta), Vec::<String>::new(), "nothing written: {delta:?}");
    assert!(delta.contains_key("sts:AssumeRole"), "the role was asked for: {delta:?}");

    // A release to it stops at the same point.
    let before = calls(&sb);
    let run = Pipeline::new(&repo).sandbox(&sb).args(&["-e", "nowhere", "release", "--version", "1.0.0"]).run();
    run.code(1).stderr_has("cannot assume role arn:aws:iam::999999999999:role/deploy");
    assert_eq!(writes(&between(&before, &calls(&sb))), Vec::<String>::new());

    // A malformed role-arn is a config error, before any AWS call.
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(".pipeline.yml", &config.replace("arn:aws:iam::999999999999:role/deploy", "deploy-role"));
    repo.commit("chore: bad role");
    let before = calls(&sb);
    let run = Pipeline::new(&repo).sandbox(&sb).args(&["-e", "nowhere", "deploy", "--image", &image]).run();
    run.code(3).stderr_has("role-arn").stderr_has("`deploy-role` is not an IAM role ARN");
    assert_eq!(between(&before, &calls(&sb)), BTreeMap::new(), "no AWS call at all");
}
