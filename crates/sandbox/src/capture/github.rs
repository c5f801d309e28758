//! GitHub's REST API as far as `pipeline` uses it, answering in the shapes of GitHub's docs
//! (REFERENCE 6.1-6.3, A4): check runs, commit statuses, Deployments and their statuses, git refs
//! (tags) and Releases. Bodies are validated as GitHub validates them where the docs say how.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Capture, Deployment, GitRef, Release};

const STATUS_STATES: [&str; 4] = ["error", "failure", "pending", "success"];
const DEPLOYMENT_STATES: [&str; 7] = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];

pub fn handle(
    capture: &mut Capture,
    api: &str,
    method: &Method,
    route: &str,
    query: Option<&str>,
    body: &Value,
) -> Response {
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let Some(["repos", owner, repo, rest @ ..]) = Some(parts.as_slice()) else { return not_emulated(method, route) };
    let repo = Repo { api, name: format!("{owner}/{repo}") };
    let query: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let per_page = param("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    match (method, rest) {
        (&Method::POST, ["deployments"]) => create_deployment(capture, &repo, body),
        (&Method::GET, ["deployments"]) => {
            let filter = |d: &&Deployment| {
                d.repository == repo.name
                    && param("environment").is_none_or(|e| e == d.environment)
                    && param("task").is_none_or(|t| t == d.task)
                    && param("sha").is_none_or(|s| s == d.git_ref)
                    && param("ref").is_none_or(|r| r == d.git_ref)
            };
            let list: Vec<Value> =
                capture.deployments.iter().rev().filter(filter).take(per_page).map(|d| repo.deployment(d)).collect();
            ok(StatusCode::OK, Value::Array(list))
        }
        (&Method::POST, ["deployments", id, "statuses"]) => create_deployment_status(capture, &repo, id, body),
        (&Method::GET, ["deployments", id, "statuses"]) => {
            let Some(deployment) = find_deployment(capture, &repo, id) else { return not_found() };
            let list: Vec<Value> = deployment
                .statuses
                .iter()
                .rev()
                .take(per_page)
                .map(|s| repo.deployment_status(deployment, s))
                .collect();
            ok(StatusCode::OK, Value::Array(list))
        }
        (&Method::POST, ["check-runs"]) => create_check_run(capture, &repo, body),
        (&Method::PATCH, ["check-runs", id]) => update_check_run(capture, id, body),
        (&Method::POST, ["statuses", sha]) => create_commit_status(capture, &repo, sha, body),
        (&Method::POST, ["git", "refs"]) => create_ref(capture, &repo, body),
        (&Method::GET, ["git", "ref", reference @ ..]) => {
            let full = format!("refs/{}", reference.join("/"));
            match capture.refs.iter().find(|r| r.repository == repo.name && r.git_ref == full) {
                Some(found) => ok(StatusCode::OK, repo.git_ref(found)),
                None => not_found(),
            }
        }
        (&Method::POST, ["releases"]) => create_release(capture, &repo, body),
        (&Method::GET, ["releases", "tags", tag]) => {
            match capture.releases.iter().find(|r| r.repository == repo.name && r.release["tag_name"] == *tag) {
                Some(found) => ok(StatusCode::OK, found.release.clone()),
                None => not_found(),
            }
        }
        _ => not_emulated(method, route),
    }
}

/// One repository's URLs, as GitHub puts them in its answers (on the sandbox's own address).
struct Repo<'a> {
    api: &'a str,
    name: String,
}

impl Repo<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}/repos/{}/{path}", self.api, self.name)
    }

    fn deployment(&self, d: &Deployment) -> Value {
        json!({
            "url": self.url(&format!("deployments/{}", d.id)), "id": d.id, "node_id": format!("DE_{}", d.id),
            "sha": d.git_ref, "ref": d.git_ref, "task": d.task, "payload": {},
            "original_environment": d.environment, "environment": d.environment, "description": d.description,
            "creator": null, "created_at": d.created_at, "updated_at": d.created_at,
            "statuses_url": self.url(&format!("deployments/{}/statuses", d.id)),
            "repository_url": format!("{}/repos/{}", self.api, self.name),
            "transient_environment": d.transient_environment, "production_environment": d.production_environment,
        })
    }

    fn deployment_status(&self, d: &Deployment, status: &Value) -> Value {
        let id = status["id"].as_u64().unwrap_or_default();
        json!({
            "url": self.url(&format!("deployments/{}/statuses/{id}", d.id)), "id": id,
            "node_id": format!("DES_{id}"), "state": status["state"], "creator": null,
            "description": status.get("description").cloned().unwrap_or(json!("")),
            "environment": status.get("environment").cloned().unwrap_or(json!(d.environment)),
            "target_url": status.get("log_url").or(status.get("target_url")).cloned().unwrap_or(json!("")),
            "log_url": status.get("log_url").or(status.get("target_url")).cloned().unwrap_or(json!("")),
            "environment_url": status.get("environment_url").cloned().unwrap_or(json!("")),
            "created_at": status["created_at"], "updated_at": status["created_at"],
            "deployment_url": self.url(&format!("deployments/{}", d.id)),
            "repository_url": format!("{}/repos/{}", self.api, self.name),
        })
    }

    fn git_ref(&self, r: &GitRef) -> Value {
        json!({
            "ref": r.git_ref, "node_id": format!("REF_{}", r.git_ref.len()),
            "url": self.url(&format!("git/{}", r.git_ref)),
            "object": {"type": "commit", "sha": r.sha, "url": self.url(&format!("git/commits/{}", r.sha))},
        })
    }
}

/// `POST /repos/{o}/{r}/deployments` (REFERENCE 6.3). Merging (`auto_merge`) and required
/// contexts are not emulated: the deployment is always created.
fn create_deployment(capture: &mut Capture, repo: &Repo, body: &Value) -> Response {
    let Some(git_ref) = body["ref"].as_str().filter(|r| !r.is_empty()) else { return missing("ref") };
    let environment = body["environment"].as_str().unwrap_or("production").to_owned();
    let deployment = Deployment {
        id: capture.id(),
        repository: repo.name.clone(),
        production_environment: body["production_environment"].as_bool().unwrap_or(environment == "production"),
        transient_environment: body["transient_environment"].as_bool().unwrap_or(false),
        environment,
        git_ref: git_ref.to_owned(),
        task: body["task"].as_str().unwrap_or("deploy").to_owned(),
        description: body["description"].as_str().map(str::to_owned),
        created_at: now(),
        statuses: Vec::new(),
    };
    let answer = repo.deployment(&deployment);
    capture.deployments.push(deployment);
    ok(StatusCode::CREATED, answer)
}

/// `POST .../deployments/{id}/statuses`. A `success` with `auto_inactive` (default true) marks
/// the earlier successful deployments of the environment inactive, unless they are transient or
/// production ones, as GitHub does (REFERENCE 6.3).
fn create_deployment_status(capture: &mut Capture, repo: &Repo, id: &str, body: &Value) -> Response {
    let Some(state) = body["state"].as_str() else { return missing("state") };
    if !DEPLOYMENT_STATES.contains(&state) {
        return invalid("state", state);
    }
    let status_id = capture.id();
    let Some(index) = capture.deployments.iter().position(|d| d.repository == repo.name && d.id.to_string() == id)
    else {
        return not_found();
    };
    let mut status = body.clone();
    status["id"] = json!(status_id);
    status["created_at"] = json!(now());
    capture.deployments[index].statuses.push(status.clone());
    let answer = repo.deployment_status(&capture.deployments[index], &status);
    if state == "success" && body["auto_inactive"].as_bool() != Some(false) {
        let environment = capture.deployments[index].environment.clone();
        for other in capture.deployments.iter_mut().filter(|d| {
            d.repository == repo.name
                && d.environment == environment
                && d.id.to_string() != id
                && !d.transient_environment
                && !d.production_environment
                && d.statuses.last().is_some_and(|s| s["state"] == "success")
        }) {
            other.statuses.push(json!({"state": "inactive", "auto_inactive": true, "created_at": now()}));
        }
    }
    ok(StatusCode::CREATED, answer)
}

fn find_deployment<'c>(capture: &'c Capture, repo: &Repo, id: &str) -> Option<&'c Deployment> {
    capture.deployments.iter().find(|d| d.repository == repo.name && d.id.to_string() == id)
}

/// `POST /repos/{o}/{r}/check-runs` (REFERENCE 6.1): `name` and `head_sha` required; `completed`
/// needs a conclusion; `stale` is GitHub's to set.
fn create_check_run(capture: &mut Capture, repo: &Repo, body: &Value) -> Response {
    for field in ["name", "head_sha"] {
        if body[field].as_str().is_none_or(str::is_empty) {
            return missing(field);
        }
    }
    if let Some(problem) = check_run_problem(body) {
        return problem;
    }
    let id = capture.id();
    capture.check_runs.push(body.clone());
    let run = json!({
        "id": id, "node_id": format!("CR_{id}"), "head_sha": body["head_sha"], "external_id": body["external_id"],
        "url": repo.url(&format!("check-runs/{id}")),
        "html_url": format!("https://github.com/{}/runs/{id}", repo.name),
        "details_url": body["details_url"], "status": body["status"].as_str().unwrap_or("queued"),
        "conclusion": body["conclusion"], "started_at": now(),
        "completed_at": if body["conclusion"].is_null() { Value::Null } else { json!(now()) },
        "output": output(repo, id, &body["output"], 0), "name": body["name"], "check_suite": null, "app": null,
        "pull_requests": [],
    });
    capture.runs.insert(id, run.clone());
    ok(StatusCode::CREATED, run)
}

/// `PATCH .../check-runs/{id}`: the fields given replace the run's; annotations append.
fn update_check_run(capture: &mut Capture, id: &str, body: &Value) -> Response {
    if let Some(problem) = check_run_problem(body) {
        return problem;
    }
    let Some(run) = id.parse::<u64>().ok().and_then(|id| capture.runs.get_mut(&id)) else { return not_found() };
    for field in ["name", "details_url", "external_id", "status", "conclusion"] {
        if !body[field].is_null() {
            run[field] = body[field].clone();
        }
    }
    if !body["conclusion"].is_null() {
        run["status"] = json!("completed");
        run["completed_at"] = json!(now());
    }
    if body["output"].is_object() {
        let count = run["output"]["annotations_count"].as_u64().unwrap_or(0);
        let annotations_url = run["output"]["annotations_url"].clone();
        for field in ["title", "summary", "text"] {
            run["output"][field] = body["output"][field].clone();
        }
        let added = body["output"]["annotations"].as_array().map_or(0, Vec::len) as u64;
        run["output"]["annotations_count"] = json!(count + added);
        run["output"]["annotations_url"] = annotations_url;
    }
    let answer = run.clone();
    capture.check_runs.push(body.clone());
    ok(StatusCode::OK, answer)
}

fn check_run_problem(body: &Value) -> Option<Response> {
    if body["conclusion"] == "stale" {
        return Some(invalid("conclusion", "stale"));
    }
    (body["status"] == "completed" && body["conclusion"].is_null() && body["completed_at"].is_null())
        .then(|| unprocessable("Invalid request.\n\nWhen the status is completed, a conclusion is required."))
}

fn output(repo: &Repo, id: u64, given: &Value, count: u64) -> Value {
    let annotations = given["annotations"].as_array().map_or(0, Vec::len) as u64;
    json!({
        "title": given["title"], "summary": given["summary"], "text": given["text"],
        "annotations_count": count + annotations,
        "annotations_url": repo.url(&format!("check-runs/{id}/annotations")),
    })
}

/// `POST /repos/{o}/{r}/statuses/{sha}` (REFERENCE 6.2).
fn create_commit_status(capture: &mut Capture, repo: &Repo, sha: &str, body: &Value) -> Response {
    let Some(state) = body["state"].as_str() else { return missing("state") };
    if !STATUS_STATES.contains(&state) {
        return invalid("state", state);
    }
    capture.commit_statuses.push(json!({ "sha": sha, "status": body }));
    let id = capture.id();
    let answer = json!({
        "url": repo.url(&format!("statuses/{sha}")), "avatar_url": null, "id": id, "node_id": format!("SC_{id}"),
        "state": state, "description": body["description"], "target_url": body["target_url"],
        "context": body["context"].as_str().unwrap_or("default"), "created_at": now(), "updated_at": now(),
        "creator": null,
    });
    ok(StatusCode::CREATED, answer)
}

/// `POST /repos/{o}/{r}/git/refs` (REFERENCE A4): `ref` starts with `refs/` and has at least two
/// slashes; an existing ref is 422 "Reference already exists". The sandbox holds no git objects,
/// so any 40-hex `sha` is taken as a commit.
fn create_ref(capture: &mut Capture, repo: &Repo, body: &Value) -> Response {
    let Some(git_ref) = body["ref"].as_str() else { return missing("ref") };
    let Some(sha) = body["sha"].as_str() else { return missing("sha") };
    if !git_ref.starts_with("refs/") || git_ref.matches('/').count() < 2 {
        return unprocessable("Reference name must start with 'refs/' and have at least two slashes.");
    }
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return unprocessable("Object does not exist");
    }
    if capture.refs.iter().any(|r| r.repository == repo.name && r.git_ref == git_ref) {
        return unprocessable("Reference already exists");
    }
    let created = GitRef { repository: repo.name.clone(), git_ref: git_ref.to_owned(), sha: sha.to_owned() };
    let answer = repo.git_ref(&created);
    capture.refs.push(created);
    ok(StatusCode::CREATED, answer)
}

/// `POST /repos/{o}/{r}/releases` (REFERENCE A4): one Release per tag; a second is 422 with
/// `errors[].code = "already_exists"`.
fn create_release(capture: &mut Capture, repo: &Repo, body: &Value) -> Response {
    let Some(tag) = body["tag_name"].as_str().filter(|t| !t.is_empty()) else { return missing("tag_name") };
    if capture.releases.iter().any(|r| r.repository == repo.name && r.release["tag_name"] == tag) {
        let answer = json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release",
            "status": "422",
        });
        return ok(StatusCode::UNPROCESSABLE_ENTITY, answer);
    }
    let id = capture.id();
    let draft = body["draft"].as_bool().unwrap_or(false);
    let release = json!({
        "url": repo.url(&format!("releases/{id}")),
        "html_url": format!("https://github.com/{}/releases/tag/{tag}", repo.name),
        "assets_url": repo.url(&format!("releases/{id}/assets")),
        "upload_url": format!("{}{{?name,label}}", repo.url(&format!("releases/{id}/assets"))),
        "tarball_url": repo.url(&format!("tarball/{tag}")), "zipball_url": repo.url(&format!("zipball/{tag}")),
        "id": id, "node_id": format!("RE_{id}"), "tag_name": tag,
        "target_commitish": body["target_commitish"].as_str().unwrap_or("main"),
        "name": body["name"], "body": body["body"], "draft": draft,
        "prerelease": body["prerelease"].as_bool().unwrap_or(false),
        "created_at": now(), "published_at": if draft { Value::Null } else { json!(now()) },
        "author": null, "assets": [],
    });
    capture.releases.push(Release { repository: repo.name.clone(), release: release.clone() });
    ok(StatusCode::CREATED, release)
}

fn ok(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn github_error(status: StatusCode, message: &str) -> Response {
    let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.as_u16().to_string()});
    (status, axum::Json(body)).into_response()
}

fn unprocessable(message: &str) -> Response {
    github_error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// GitHub's schema-validation wording for a required field.
fn missing(field: &str) -> Response {
    unprocessable(&format!("Invalid request.\n\n\"{field}\" wasn't supplied."))
}

fn invalid(field: &str, value: &str) -> Response {
    unprocessable(&format!("Invalid request.\n\n{value:?} is not a valid value for {field:?}."))
}

fn not_found() -> Response {
    github_error(StatusCode::NOT_FOUND, "Not Found")
}

fn not_emulated(method: &Method, route: &str) -> Response {
    let message = format!("pipeline-sandbox does not emulate GitHub {method} {route}");
    (StatusCode::NOT_FOUND, axum::Json(json!({ "message": message }))).into_response()
}

/// Now, as GitHub writes timestamps (`2026-11-30T10:00:00Z`).
fn now() -> String {
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
