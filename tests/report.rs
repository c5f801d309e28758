//! Reporting end to end: a real release in "GitHub Actions", reporting to the sandbox's GitHub and
//! Slack capture, with canary secrets that must appear nowhere but where they belong.

use base64::Engine;

use crate::fixture::{Controller, repo_for};
use crate::harness::{Pipeline, Sandbox, remove_local_images};

const GITHUB_TOKEN: &str = "ghs_canaryGithubToken0123456789";
const SLACK_TOKEN: &str = "xoxb-canary-slack-token-987654321";

#[test]
fn a_release_in_actions_reports_to_slack_and_github_and_leaks_no_secret() {
    let sb = Sandbox::start();
    sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, "    guard:\n      poll-interval: 50ms\n");
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(".pipeline.yml", &format!("{config}notify:\n  slack:\n    channel: C0123456\n"));
    repo.commit("chore: notify");
    // The runner's files live outside the work tree (as on GitHub's runners).
    let runner = tempfile::tempdir().unwrap();
    let outputs = runner.path().join("gh-output");
    let summary = runner.path().join("gh-summary");
    std::fs::write(&outputs, "").unwrap();
    std::fs::write(&summary, "").unwrap();
    let api = sb.running.endpoint();

    let run = Pipeline::new(&repo)
        .sandbox(&sb)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_REPOSITORY", "acme/web")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .env("GITHUB_API_URL", format!("{api}/github"))
        .env("SLACK_BOT_TOKEN", SLACK_TOKEN)
        .env("SLACK_API_URL", format!("{api}/slack/api"))
        .args(&["--output", "json", "release", "--version", "1.0.0"])
        .run();
    run.code(0);

    // Outputs and job summary.
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(outputs.contains("status<<") && outputs.contains("success"), "{outputs}");
    assert!(outputs.contains("image-digest<<"), "{outputs}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("1.0.0"), "{summary}");

    // One Slack message, updated in place through the phases, ending on success.
    let captured = sb.captured();
    let messages: Vec<&serde_json::Value> =
        captured["slack_messages"].as_array().unwrap().iter().filter(|m| m["thread_ts"].is_null()).collect();
    assert_eq!(messages.len(), 1, "one top-level message: {captured:#}");
    assert!(messages[0]["updates"].as_u64().unwrap() >= 1, "{captured:#}");
    let card = messages[0]["blocks"].to_string().to_lowercase();
    assert!(card.contains("released") || card.contains("success") || card.contains("deployed"), "{card}");

    // A GitHub Deployment with in_progress then success.
    let deployments = captured["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1, "{captured:#}");
    assert_eq!(deployments[0]["environment"], "prod");
    let states: Vec<&str> =
        deployments[0]["statuses"].as_array().unwrap().iter().filter_map(|s| s["state"].as_str()).collect();
    assert_eq!(states.first(), Some(&"in_progress"), "{states:?}");
    assert_eq!(states.last(), Some(&"success"), "{states:?}");
    // Every captured request was authorized, and none carries a token in its body.
    for request in captured["requests"].as_array().unwrap() {
        assert_eq!(request["authorized"], true, "{request}");
    }

    // No secret anywhere it does not belong.
    let registry_password = registry_password(&sb);
    for secret in [GITHUB_TOKEN, SLACK_TOKEN, registry_password.as_str()] {
        for (name, text) in [
            ("stdout", run.stdout.as_str()),
            ("stderr", run.stderr.as_str()),
            ("outputs", outputs.as_str()),
            ("summary", summary.as_str()),
        ] {
            let leaks = text.lines().filter(|l| l.contains(secret) && !l.starts_with("::add-mask::")).count();
            assert_eq!(leaks, 0, "{name} leaks a secret:\n{text}");
        }
        assert!(!captured.to_string().contains(secret), "a captured request leaks a secret");
    }
    // And the masks were printed before anything else.
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("::add-mask::"), "first line: {first}");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

fn registry_password(sb: &Sandbox) -> String {
    let ecr = sb.ecr();
    let token = sb.block_on(async { ecr.get_authorization_token().send().await.unwrap() });
    let encoded = token.authorization_data()[0].authorization_token().unwrap().to_owned();
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap();
    decoded.split_once(':').unwrap().1.to_owned()
}

/// `pipeline check` in a pull_request event: the plan is posted as a check run on the PR head
/// commit (not the merge commit), and a config error becomes a failed check with an annotation.
#[test]
fn check_posts_the_plan_on_the_pr_head_and_annotates_config_errors() {
    let sb = Sandbox::start();
    sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, "");
    let head = repo.head();
    let runner = tempfile::tempdir().unwrap();
    let event = runner.path().join("event.json");
    std::fs::write(&event, format!(r#"{{"pull_request": {{"number": 7, "head": {{"sha": "{head}"}}}}}}"#)).unwrap();
    let api = sb.running.endpoint();
    let check = |repo: &crate::harness::Repo| {
        Pipeline::new(repo)
            .sandbox(&sb)
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_SHA", "0000000000000000000000000000000000000000")
            .env("GITHUB_REPOSITORY", "acme/web")
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .env("GITHUB_API_URL", format!("{api}/github"))
            .args(&["check", "--version", "1.0.0"])
            .run()
    };
    check(&repo).code(0);
    let captured = sb.captured();
    let run = &captured["check_runs"][0];
    assert_eq!(run["head_sha"], head.as_str(), "the PR head, not the merge commit");
    assert_eq!(run["conclusion"], "success");
    let summary = run["output"]["summary"].as_str().unwrap();
    assert!(summary.contains("task definition") && summary.contains("build the image"), "{summary}");

    repo.write(".pipeline.yml", "version: 1\nimage:\n  repository: web\n  contxt: .\n");
    let broken = check(&repo);
    broken.code(3);
    let captured = sb.captured();
    let run = captured["check_runs"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(run["conclusion"], "failure");
    let annotation = &run["output"]["annotations"][0];
    assert_eq!(annotation["path"], ".pipeline.yml");
    assert_eq!(annotation["start_line"], 4);
    assert!(annotation["message"].as_str().unwrap().contains("contxt"), "{annotation}");
}

/// The GitHub client (octocrab, typed models) against the sandbox's capture: the tag and the
/// Release a verified release publishes (issue 11), a 403 on the tag as a typed missing
/// permission, and Deployments for explicit commits with the earlier one retired. Shows that the
/// capture answers in the shapes octocrab reads (REFERENCE 6.3, A4).
#[test]
fn the_github_client_publishes_tags_releases_and_deployments_to_the_capture() {
    use pipeline::report::{DeploymentState, GithubApi, GithubSettings, NewRelease, ReleaseOutcome, TagOutcome};
    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba98";
    let sb = Sandbox::start();
    let api_url = format!("{}/github", sb.running.endpoint());
    let settings = GithubSettings {
        token: Some(GITHUB_TOKEN.into()),
        api_url: api_url.clone(),
        repository: "acme/web".into(),
        run_url: Some("https://github.com/acme/web/actions/runs/42".into()),
        ..GithubSettings::default()
    };
    let deny = format!("{}/_sandbox/github/deny", sb.running.endpoint());
    sb.block_on(async {
        let api = GithubApi::from_settings(&settings).unwrap();
        assert_eq!(api.create_tag("v1.0.0", SHA).await.unwrap(), TagOutcome::Created);
        assert_eq!(api.create_tag("v1.0.0", SHA).await.unwrap(), TagOutcome::AlreadyThere);
        assert_eq!(api.create_tag("v1.0.0", OTHER).await.unwrap(), TagOutcome::PointsElsewhere { sha: SHA.into() });

        let rule = r#"{"route": "POST /repos/{owner}/{repo}/git/refs", "count": 1}"#;
        assert_eq!(crate::harness::http_post(&deny, rule).await, 204);
        match api.create_tag("v1.1.0", OTHER).await.unwrap() {
            TagOutcome::MissingPermission(missing) => {
                assert_eq!((missing.permission, missing.status), ("Contents: write", 403));
                assert_eq!(missing.message, "Resource not accessible by integration");
            }
            other => panic!("expected a missing permission, got {other:?}"),
        }

        let notes = "## Features\n\n- checkout (0123456)\n";
        let release = NewRelease { tag: "v1.0.0", name: "v1.0.0", body: notes, prerelease: false };
        let ReleaseOutcome::Created { html_url, .. } = api.create_release(&release).await.unwrap() else {
            panic!("the release is created")
        };
        assert_eq!(html_url, "https://github.com/acme/web/releases/tag/v1.0.0");
        assert_eq!(api.create_release(&release).await.unwrap(), ReleaseOutcome::AlreadyThere);

        let first = api.create_deployment(SHA, "prod", "pipeline release v1.0.0").await.unwrap();
        api.set_deployment_status(first, DeploymentState::Success, "released v1.0.0").await.unwrap();
        // A rollback deploys the commit the task definition's tags name.
        let second = api.create_deployment(OTHER, "prod", "pipeline rollback v0.9.0").await.unwrap();
        api.set_deployment_status(second, DeploymentState::Success, "rolled back to v0.9.0").await.unwrap();
        let listed = api.deployments("prod").await.unwrap();
        assert_eq!(listed.iter().map(|d| (d.id, d.sha.as_str())).collect::<Vec<_>>(), [(second, OTHER), (first, SHA)]);
        assert_eq!(api.inactivate_previous("prod", second).await.unwrap(), [first]);
    });

    let captured = sb.captured();
    assert_eq!(
        captured["refs"],
        serde_json::json!([{"repository": "acme/web", "ref": "refs/tags/v1.0.0", "sha": SHA}])
    );
    assert_eq!(captured["releases"][0]["tag_name"], "v1.0.0");
    assert_eq!(captured["releases"][0]["body"], "## Features\n\n- checkout (0123456)\n");
    let deployments = captured["deployments"].as_array().unwrap();
    let states = |d: &serde_json::Value| -> Vec<String> {
        d["statuses"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(deployments[0]["ref"], SHA);
    assert_eq!(states(&deployments[0]), ["success", "inactive"]);
    assert_eq!(deployments[1]["ref"], OTHER);
    assert_eq!(states(&deployments[1]), ["success"]);
    for request in captured["requests"].as_array().unwrap() {
        assert_eq!(request["authorized"], true, "{request}");
    }
    assert!(!captured.to_string().contains(GITHUB_TOKEN));
}

/// Issue 11: a verified release publishes its `vX.Y.Z` git tag on the released commit and, with
/// `notify.github.releases`, a GitHub Release whose notes group the commits since the last release;
/// a token that may not write contents is a warning naming the permission, never a failed release.
#[test]
fn a_verified_release_publishes_its_git_tag_and_release_and_a_refused_tag_only_warns() {
    let sb = Sandbox::start();
    sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, "    guard:\n      poll-interval: 50ms\n");
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(".pipeline.yml", &format!("{config}notify:\n  github:\n    releases: true\n"));
    repo.commit("chore: publish releases");
    repo.write("checkout.txt", "one\n");
    let head = repo.commit("feat: checkout");
    let api = sb.running.endpoint();
    let release = |version: &str| {
        Pipeline::new(&repo)
            .sandbox(&sb)
            .env("GITHUB_REPOSITORY", "acme/web")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .env("GITHUB_API_URL", format!("{api}/github"))
            .args(&["--output", "json", "release", "--version", version])
            .run()
    };

    release("1.0.0").code(0);
    let captured = sb.captured();
    let refs = captured["refs"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{captured:#}");
    assert_eq!(refs[0]["ref"], "refs/tags/v1.0.0");
    assert_eq!(refs[0]["sha"], head.as_str(), "the tag names the released commit");
    let releases = captured["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1, "{captured:#}");
    assert_eq!(releases[0]["tag_name"], "v1.0.0");
    let body = releases[0]["body"].as_str().unwrap();
    assert!(body.contains("checkout"), "the notes list the feature: {body}");

    // A token without Contents: write: the release still succeeds, and says which permission it lacks.
    let status = sb.block_on(crate::harness::http_post(
        &format!("{api}/_sandbox/github/deny"),
        r#"{"route":"POST /repos/{owner}/{repo}/git/refs"}"#,
    ));
    assert_eq!(status, 204);
    repo.write("checkout.txt", "two\n");
    repo.commit("fix: checkout total");
    let run = release("1.0.1");
    run.code(0).stderr_has("Contents: write");
    let captured = sb.captured();
    assert_eq!(captured["refs"].as_array().unwrap().len(), 1, "no second tag was created: {captured:#}");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}
