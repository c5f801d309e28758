//! Bad input: one readable message, the documented exit code, nothing half-done.

use crate::harness::{Pipeline, Repo, Sandbox, remove_local_images};

const USAGE: i32 = 3;
const FAILURE: i32 = 1;

#[test]
fn no_config_suggests_init() {
    let repo = Repo::tiny("bad-input", "x");
    std::fs::remove_file(repo.path().join(".pipeline.yml")).unwrap();
    Pipeline::new(&repo).args(&["plan"]).run().code(USAGE).stderr_has("pipeline init");
}

#[test]
fn an_unknown_key_names_the_line_and_a_suggestion() {
    let repo = Repo::tiny("bad-input", "x");
    repo.write(".pipeline.yml", "version: 1\nimage:\n  repository: web\n  contxt: .\n");
    Pipeline::new(&repo)
        .args(&["build"])
        .run()
        .code(USAGE)
        .stderr_has("contxt")
        .stderr_has("context")
        .stderr_has(":4:");
}

#[test]
fn malformed_yaml_names_the_line() {
    let repo = Repo::tiny("bad-input", "x");
    repo.write(".pipeline.yml", "version: 1\nimage:\n  repository: [web\n");
    Pipeline::new(&repo).args(&["build"]).run().code(USAGE).stderr_has(".pipeline.yml");
}

#[test]
fn an_invalid_version_is_refused() {
    let repo = Repo::tiny("bad-input", "x");
    Pipeline::new(&repo).args(&["build", "--version", "1.2"]).run().code(USAGE).stderr_has("1.2");
}

#[test]
fn a_version_lower_than_the_latest_release_is_refused() {
    let repo = Repo::tiny("bad-input", "x");
    repo.git(&["tag", "v2.0.0"]);
    repo.commit("fix: more");
    Pipeline::new(&repo).args(&["build", "--version", "1.9.0"]).run().code(USAGE).stderr_has("2.0.0");
}

#[test]
fn a_dirty_tree_is_refused_unless_allowed() {
    let repo = Repo::tiny("dirty-repo", "x");
    repo.write("content.txt", "changed");
    Pipeline::new(&repo).args(&["build", "--version", "1.0.0"]).run().code(USAGE).stderr_has("content.txt");
    let allowed =
        Pipeline::new(&repo).args(&["--output", "json", "build", "--version", "1.0.0", "--allow-dirty"]).run();
    allowed.code(0);
    assert!(allowed.json()["version"].as_str().unwrap().contains("dirty"), "{}", allowed.stdout);
    remove_local_images("dirty-repo");
}

#[test]
fn a_missing_dockerfile_is_a_usage_error() {
    let repo = Repo::tiny("bad-input", "x");
    std::fs::remove_file(repo.path().join("Dockerfile")).unwrap();
    repo.commit("chore: drop dockerfile");
    Pipeline::new(&repo).args(&["build", "--version", "1.0.0"]).run().code(USAGE).stderr_has("Dockerfile");
}

#[test]
fn a_failing_build_shows_the_step() {
    let repo = Repo::tiny("bad-input", "x");
    repo.write("Dockerfile", "FROM scratch\nCOPY missing.txt /missing.txt\n");
    repo.commit("chore: break");
    Pipeline::new(&repo).args(&["build", "--version", "1.0.0"]).run().code(FAILURE).stderr_has("missing.txt");
}

#[test]
fn no_docker_engine_says_so() {
    let repo = Repo::tiny("bad-input", "x");
    Pipeline::new(&repo)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(&["build", "--version", "1.0.0"])
        .run()
        .code(FAILURE)
        .stderr_has("Docker");
}

#[test]
fn missing_aws_credentials_say_which_sources_were_tried() {
    let repo = Repo::tiny("bad-input", "x");
    let sb = Sandbox::start();
    Pipeline::new(&repo)
        .env("AWS_ENDPOINT_URL", sb.running.endpoint())
        .env("AWS_REGION", "us-east-1")
        .args(&["push", "--version", "1.0.0"])
        .run()
        .code(FAILURE)
        .stderr_has("credentials")
        .stderr_has("AWS_ACCESS_KEY_ID")
        .stderr_has("web identity");
}

#[test]
fn a_missing_repository_with_creation_off_changes_nothing() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("absent", "x");
    repo.write(".pipeline.yml", "version: 1\nimage:\n  repository: absent\n  create-repository: false\n");
    repo.commit("chore: no create");
    Pipeline::new(&repo).sandbox(&sb).args(&["release", "--version", "1.0.0"]).run().code(USAGE).stderr_has("absent");
    assert!(sb.block_on(sb.ecr().describe_repositories().repository_names("absent").send()).is_err());
}

#[test]
fn throttling_that_persists_is_a_clear_error() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("throttled", "x");
    sb.fault(r#"{"kind":"throttle","service":"ecr","operation":"DescribeRepositories"}"#);
    Pipeline::new(&repo)
        .sandbox(&sb)
        .args(&["release", "--version", "1.0.0"])
        .run()
        .code(FAILURE)
        .stderr_has("DescribeRepositories")
        .stderr_has("Throttling");
}

#[test]
fn registry_auth_refused_is_a_clear_error_and_pushes_nothing() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("refused", "x");
    sb.fault(r#"{"kind":"error","service":"registry","operation":"auth"}"#);
    Pipeline::new(&repo)
        .sandbox(&sb)
        .args(&["release", "--version", "1.0.0"])
        .run()
        .code(FAILURE)
        .stderr_has("refused the credentials");
    let tag = format!("sha-{}", &repo.head()[..12]);
    assert_eq!(sb.digest("refused", &tag), None, "nothing was pushed");
    remove_local_images(&format!("{}/refused", sb.running.registry_host()));
}
