//! The GitHub capture against GitHub's REST docs (REFERENCE 6.1-6.3 and addendum A4):
//! git refs (https://docs.github.com/rest/git/refs), releases
//! (https://docs.github.com/rest/releases/releases), deployments and their statuses
//! (https://docs.github.com/rest/deployments), check runs and commit statuses, and
//! `/_sandbox/github/deny` for a token without the permission.

mod common;

use serde_json::{Value, json};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// A dependency-free HTTP/1.1 call returning (status, JSON body or the text as a JSON string).
async fn call(sb: &common::TestSandbox, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let endpoint = sb.running.endpoint();
    let host = endpoint.strip_prefix("http://").expect("http endpoint").trim_end_matches('/').to_owned();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(&host).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer ghs_test\r\nAccept: application/vnd.github+json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let text = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn captured(sb: &common::TestSandbox) -> Value {
    call(sb, "GET", "/_sandbox/captured", None).await.1
}

/// A4 / "Create a reference": 201 with the Ref (`ref`, `node_id`, `url`, `object {type, sha,
/// url}`); the same ref again is 422 "Reference already exists"; "Get a reference" finds it.
#[tokio::test]
async fn a_tag_ref_is_created_once_and_can_be_read_back() {
    let sb = common::TestSandbox::start().await;
    let tag = json!({"ref": "refs/tags/v1.2.3", "sha": SHA});
    let (status, created) = call(&sb, "POST", "/github/repos/acme/web/git/refs", Some(tag.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["ref"], "refs/tags/v1.2.3");
    assert_eq!(created["object"], json!({"type": "commit", "sha": SHA, "url": created["object"]["url"]}));
    assert!(created["node_id"].is_string() && created["url"].as_str().unwrap().ends_with("/git/refs/tags/v1.2.3"));

    let (status, again) = call(&sb, "POST", "/github/repos/acme/web/git/refs", Some(tag)).await;
    assert_eq!(status, 422);
    assert_eq!(again["message"], "Reference already exists");
    let moved = json!({"ref": "refs/tags/v1.2.3", "sha": OTHER});
    assert_eq!(call(&sb, "POST", "/github/repos/acme/web/git/refs", Some(moved)).await.0, 422, "never moved");

    let (status, read) = call(&sb, "GET", "/github/repos/acme/web/git/ref/tags/v1.2.3", None).await;
    assert_eq!(status, 200);
    assert_eq!(read, created);
    assert_eq!(call(&sb, "GET", "/github/repos/acme/web/git/ref/tags/v9.9.9", None).await.0, 404);
    // Refs belong to their repository.
    let elsewhere = json!({"ref": "refs/tags/v1.2.3", "sha": SHA});
    assert_eq!(call(&sb, "POST", "/github/repos/acme/other/git/refs", Some(elsewhere)).await.0, 201);

    let captured = captured(&sb).await;
    assert_eq!(
        captured["refs"],
        json!([
            {"repository": "acme/web", "ref": "refs/tags/v1.2.3", "sha": SHA},
            {"repository": "acme/other", "ref": "refs/tags/v1.2.3", "sha": SHA},
        ])
    );
}

/// A4: a `ref` must start with `refs` and contain at least two slashes; `sha` must name an object.
#[tokio::test]
async fn malformed_refs_are_unprocessable() {
    let sb = common::TestSandbox::start().await;
    for body in [
        json!({"ref": "v1.2.3", "sha": SHA}),
        json!({"ref": "refs/v1.2.3", "sha": SHA}),
        json!({"ref": "refs/tags/v1.2.3", "sha": "main"}),
        json!({"ref": "refs/tags/v1.2.3"}),
    ] {
        let (status, answer) = call(&sb, "POST", "/github/repos/acme/web/git/refs", Some(body.clone())).await;
        assert_eq!(status, 422, "{body} -> {answer}");
        assert!(answer["message"].is_string());
    }
    assert_eq!(captured(&sb).await["refs"], json!([]));
}

/// A4 / "Create a release": 201 with the Release; a second one for the tag is 422 with
/// `errors[].code = "already_exists"`; "Get a release by tag name" finds it.
#[tokio::test]
async fn a_release_is_recorded_with_its_notes_once_per_tag() {
    let sb = common::TestSandbox::start().await;
    let notes = "## Features\n\n- checkout (abc1234)\n";
    let body = json!({"tag_name": "v1.2.3", "name": "v1.2.3", "body": notes, "prerelease": false});
    let (status, release) = call(&sb, "POST", "/github/repos/acme/web/releases", Some(body.clone())).await;
    assert_eq!(status, 201, "{release}");
    for field in ["url", "html_url", "assets_url", "upload_url", "node_id", "created_at", "published_at"] {
        assert!(release[field].is_string(), "{field} in {release}");
    }
    assert!(release["id"].is_u64());
    assert_eq!(release["tag_name"], "v1.2.3");
    assert_eq!(release["body"], notes);
    assert_eq!((release["draft"].as_bool(), release["prerelease"].as_bool()), (Some(false), Some(false)));
    assert_eq!(release["assets"], json!([]));

    let (status, again) = call(&sb, "POST", "/github/repos/acme/web/releases", Some(body)).await;
    assert_eq!(status, 422);
    assert_eq!(again["message"], "Validation Failed");
    assert_eq!(again["errors"][0]["code"], "already_exists");

    let (status, by_tag) = call(&sb, "GET", "/github/repos/acme/web/releases/tags/v1.2.3", None).await;
    assert_eq!((status, &by_tag), (200, &release));
    let (status, _) = call(&sb, "POST", "/github/repos/acme/web/releases", Some(json!({"name": "no tag"}))).await;
    assert_eq!(status, 422, "tag_name is required");

    let captured = captured(&sb).await;
    assert_eq!(captured["releases"].as_array().unwrap().len(), 1);
    assert_eq!(captured["releases"][0]["repository"], "acme/web");
    assert_eq!(captured["releases"][0]["body"], notes);
}

async fn deploy(sb: &common::TestSandbox, sha: &str, environment: &str, production: bool) -> u64 {
    let body = json!({
        "ref": sha, "task": "deploy", "environment": environment, "auto_merge": false, "required_contexts": [],
        "production_environment": production, "transient_environment": false,
    });
    let (status, created) = call(sb, "POST", "/github/repos/acme/web/deployments", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["sha"], sha);
    assert_eq!(created["environment"], environment);
    assert!(created["statuses_url"].as_str().unwrap().ends_with("/statuses"));
    created["id"].as_u64().unwrap()
}

async fn status(sb: &common::TestSandbox, id: u64, state: &str) -> u16 {
    let path = format!("/github/repos/acme/web/deployments/{id}/statuses");
    call(sb, "POST", &path, Some(json!({"state": state, "description": state}))).await.0
}

/// 6.3 / "List deployments": filtered by `environment` (and `sha`, `task`), newest first.
#[tokio::test]
async fn deployments_are_listed_per_environment_newest_first() {
    let sb = common::TestSandbox::start().await;
    let first = deploy(&sb, SHA, "prod", true).await;
    let staging = deploy(&sb, SHA, "staging", false).await;
    let second = deploy(&sb, OTHER, "prod", true).await;
    let (status, listed) = call(&sb, "GET", "/github/repos/acme/web/deployments?environment=prod", None).await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = listed.as_array().unwrap().iter().map(|d| d["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [second, first]);
    let (_, by_sha) = call(&sb, "GET", &format!("/github/repos/acme/web/deployments?sha={OTHER}"), None).await;
    assert_eq!(by_sha.as_array().unwrap().len(), 1);
    let (_, staged) =
        call(&sb, "GET", "/github/repos/acme/web/deployments?environment=staging&task=deploy", None).await;
    assert_eq!(staged[0]["id"], staging);
    let (_, one) = call(&sb, "GET", "/github/repos/acme/web/deployments?per_page=1", None).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    // The request's query is captured with it.
    let captured = captured(&sb).await;
    let query = captured["requests"].as_array().unwrap().iter().find_map(|r| r["query"].as_str()).unwrap();
    assert_eq!(query, "environment=prod");
}

/// 6.3 / "Create a deployment status": states are validated; `auto_inactive` (default true)
/// retires earlier successful deployments of a non-production environment, never of a
/// production one (there the tool marks them inactive itself).
#[tokio::test]
async fn a_success_retires_earlier_non_production_deployments_only() {
    let sb = common::TestSandbox::start().await;
    let old_staging = deploy(&sb, SHA, "staging", false).await;
    let old_prod = deploy(&sb, SHA, "prod", true).await;
    for id in [old_staging, old_prod] {
        assert_eq!(status(&sb, id, "success").await, 201);
    }
    let new_staging = deploy(&sb, OTHER, "staging", false).await;
    let new_prod = deploy(&sb, OTHER, "prod", true).await;
    for id in [new_staging, new_prod] {
        assert_eq!(status(&sb, id, "in_progress").await, 201);
        assert_eq!(status(&sb, id, "success").await, 201);
    }
    let latest = |id: u64| {
        let sb = &sb;
        async move {
            let path = format!("/github/repos/acme/web/deployments/{id}/statuses?per_page=1");
            let (_, statuses) = call(sb, "GET", &path, None).await;
            assert_eq!(statuses.as_array().unwrap().len(), 1);
            statuses[0]["state"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(latest(old_staging).await, "inactive");
    assert_eq!(latest(old_prod).await, "success");
    assert_eq!(latest(new_prod).await, "success");
    assert_eq!(status(&sb, new_prod, "done").await, 422);
    assert_eq!(status(&sb, 9999, "success").await, 404);
}

/// 6.1: a check run answers with its id, `html_url` and output; an update appends annotations;
/// `completed` without a conclusion and the GitHub-only `stale` are refused. 6.2: status states.
#[tokio::test]
async fn check_runs_and_commit_statuses_are_validated_and_answered_in_githubs_shape() {
    let sb = common::TestSandbox::start().await;
    let annotation =
        json!({"path": ".pipeline.yml", "start_line": 1, "end_line": 1, "annotation_level": "failure", "message": "x"});
    let body = json!({
        "name": "pipeline plan", "head_sha": SHA, "status": "completed", "conclusion": "failure",
        "output": {"title": "plan", "summary": "s", "annotations": [annotation]},
    });
    let (status, run) = call(&sb, "POST", "/github/repos/acme/web/check-runs", Some(body)).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_u64().unwrap();
    assert_eq!(run["head_sha"], SHA);
    assert_eq!(run["output"]["annotations_count"], 1);
    assert_eq!(run["pull_requests"], json!([]));
    assert!(run["html_url"].as_str().unwrap().starts_with("https://github.com/acme/web/runs/"));
    let update = json!({"output": {"title": "plan", "summary": "s", "annotations": [annotation, annotation]}});
    let (status, updated) = call(&sb, "PATCH", &format!("/github/repos/acme/web/check-runs/{id}"), Some(update)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (updated["output"]["annotations_count"].as_u64(), updated["name"].as_str()),
        (Some(3), Some("pipeline plan"))
    );
    assert_eq!(call(&sb, "PATCH", "/github/repos/acme/web/check-runs/9999", Some(json!({}))).await.0, 404);
    for bad in [
        json!({"name": "x", "head_sha": SHA, "status": "completed"}),
        json!({"name": "x", "head_sha": SHA, "conclusion": "stale"}),
        json!({"head_sha": SHA}),
    ] {
        assert_eq!(call(&sb, "POST", "/github/repos/acme/web/check-runs", Some(bad)).await.0, 422);
    }

    let path = format!("/github/repos/acme/web/statuses/{SHA}");
    let (status, posted) =
        call(&sb, "POST", &path, Some(json!({"state": "success", "context": "pipeline/plan"}))).await;
    assert_eq!(
        (status, posted["state"].as_str(), posted["context"].as_str()),
        (201, Some("success"), Some("pipeline/plan"))
    );
    assert_eq!(call(&sb, "POST", &path, Some(json!({"state": "neutral"}))).await.0, 422);
    assert_eq!(captured(&sb).await["check_runs"].as_array().unwrap().len(), 2, "the create and the update");
}

/// `/_sandbox/github/deny`: the route answers as GitHub answers a token without the permission
/// (403 "Resource not accessible by integration"), `count` times or until cleared; the request
/// is still captured, with the status it got.
#[tokio::test]
async fn a_denied_route_answers_403_until_spent_or_cleared() {
    let sb = common::TestSandbox::start().await;
    let rule = r#"{"route": "POST /repos/{owner}/{repo}/git/refs", "count": 1}"#;
    assert_eq!(sb.control("/_sandbox/github/deny", rule).await, 204);
    let tag = json!({"ref": "refs/tags/v1.0.0", "sha": SHA});
    let (status, denied) = call(&sb, "POST", "/github/repos/acme/web/git/refs", Some(tag.clone())).await;
    assert_eq!(status, 403);
    assert_eq!(denied["message"], "Resource not accessible by integration");
    // Other routes are untouched; the spent rule lets the next call through.
    assert_eq!(call(&sb, "POST", "/github/repos/acme/web/releases", Some(json!({"tag_name": "v1.0.0"}))).await.0, 201);
    assert_eq!(call(&sb, "POST", "/github/repos/acme/web/git/refs", Some(tag)).await.0, 201);

    let rule = r#"{"route": "POST /repos/acme/web/releases", "status": 404}"#;
    assert_eq!(sb.control("/_sandbox/github/deny", rule).await, 204);
    for _ in 0..2 {
        let (status, answer) =
            call(&sb, "POST", "/github/repos/acme/web/releases", Some(json!({"tag_name": "v2"}))).await;
        assert_eq!((status, answer["message"].as_str()), (404, Some("Not Found")));
    }
    let (_, rules) = call(&sb, "GET", "/_sandbox/github/deny", None).await;
    assert_eq!(rules["rules"].as_array().unwrap().len(), 2);
    assert_eq!(call(&sb, "DELETE", "/_sandbox/github/deny", None).await.0, 204);
    assert_eq!(call(&sb, "POST", "/github/repos/acme/web/releases", Some(json!({"tag_name": "v2"}))).await.0, 201);
    assert_eq!(sb.control("/_sandbox/github/deny", r#"{"route": "nonsense"}"#).await, 400);

    let captured = captured(&sb).await;
    let statuses: Vec<u64> = captured["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/github/repos/acme/web/releases")
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 404, 404, 201]);
    assert_eq!(captured["refs"].as_array().unwrap().len(), 1, "the denied ref was not created");
    // A reset forgets the rules too.
    assert_eq!(sb.control("/_sandbox/github/deny", r#"{"route": "POST /repos/{o}/{r}/releases"}"#).await, 204);
    assert_eq!(sb.control("/_sandbox/reset", "").await, 204);
    assert_eq!(call(&sb, "POST", "/github/repos/acme/web/releases", Some(json!({"tag_name": "v3"}))).await.0, 201);
}
