//! Shared by the wiremock tests of the GitHub client: settings pointing at the mock server, the
//! headers every call carries, and response bodies shaped as GitHub's REST docs show them (the
//! typed octocrab models need the real shape).

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::report::GithubSettings;

pub const TOKEN: &str = "ghs_testtoken0000";
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn settings(server: &MockServer) -> GithubSettings {
    GithubSettings {
        deployments: true,
        checks: true,
        token: Some(TOKEN.into()),
        api_url: server.uri(),
        repository: "acme/web".into(),
        run_url: Some("https://github.com/acme/web/actions/runs/42".into()),
        environment: Some("production".into()),
        environment_url: Some("https://web.example.com".into()),
        commit_sha: Some(SHA.into()),
        ..GithubSettings::default()
    }
}

pub fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// The REST headers GitHub asks for (REFERENCE 6), on every call, and one User-Agent: ours.
pub fn assert_headers(requests: &[Request]) {
    for r in requests {
        assert_eq!(r.headers.get("accept").unwrap(), "application/vnd.github+json");
        assert_eq!(r.headers.get("x-github-api-version").unwrap(), "2022-11-28");
        assert_eq!(r.headers.get("authorization").unwrap(), &format!("Bearer {TOKEN}"));
        assert!(r.headers.get("user-agent").unwrap().to_str().unwrap().starts_with("pipeline/"));
        assert_eq!(r.headers.get_all("user-agent").iter().count(), 1);
    }
}

pub fn calls(requests: &[Request]) -> Vec<String> {
    requests.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect()
}

pub async fn mount(server: &MockServer, verb: &str, at: &str, status: u16, reply: Value) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status).set_body_json(reply))
        .mount(server)
        .await;
}

/// A check run as `POST/PATCH /repos/{o}/{r}/check-runs` answers it.
pub fn check_run(id: u64, html_url: Option<&str>) -> Value {
    json!({
        "id": id, "node_id": "CR_kwDO", "head_sha": SHA, "name": "pipeline plan",
        "url": format!("https://api.github.com/repos/acme/web/check-runs/{id}"), "html_url": html_url,
        "details_url": null, "status": "completed", "conclusion": "success",
        "started_at": "2026-11-30T10:00:00Z", "completed_at": "2026-11-30T10:00:00Z",
        "output": {"title": "pipeline plan", "summary": "plan", "text": null, "annotations_count": 0,
                   "annotations_url": format!("https://api.github.com/repos/acme/web/check-runs/{id}/annotations")},
        "pull_requests": [],
    })
}

/// A commit status as `POST /repos/{o}/{r}/statuses/{sha}` answers it.
pub fn commit_status(id: u64, state: &str) -> Value {
    json!({"id": id, "node_id": "SC_kwDO", "state": state, "context": "pipeline/plan", "description": "plan"})
}

/// A git ref as `POST /repos/{o}/{r}/git/refs` and `GET .../git/ref/tags/{tag}` answer it.
pub fn git_ref(tag: &str, kind: &str, sha: &str) -> Value {
    json!({
        "ref": format!("refs/tags/{tag}"), "node_id": "REF_kwDO",
        "url": format!("https://api.github.com/repos/acme/web/git/refs/tags/{tag}"),
        "object": {"type": kind, "sha": sha, "url": format!("https://api.github.com/repos/acme/web/git/{kind}s/{sha}")},
    })
}

/// A Release as `POST /repos/{o}/{r}/releases` answers it.
pub fn release(id: u64, tag: &str) -> Value {
    json!({
        "id": id, "node_id": "RE_kwDO", "tag_name": tag, "target_commitish": "main", "name": tag, "body": "notes",
        "draft": false, "prerelease": false, "created_at": "2026-11-30T10:00:00Z", "published_at": "2026-11-30T10:00:00Z",
        "url": format!("https://api.github.com/repos/acme/web/releases/{id}"),
        "html_url": format!("https://github.com/acme/web/releases/tag/{tag}"),
        "assets_url": format!("https://api.github.com/repos/acme/web/releases/{id}/assets"),
        "upload_url": format!("https://uploads.github.com/repos/acme/web/releases/{id}/assets{{?name,label}}"),
        "tarball_url": null, "zipball_url": null, "author": null, "assets": [],
    })
}
