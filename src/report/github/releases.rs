//! What a verified release publishes on GitHub: a lightweight `vX.Y.Z` tag on its commit and,
//! when asked, a GitHub Release (REFERENCE A4; octocrab's typed git-refs and releases APIs).
//! Both need "Contents: write"; a token without it gets a typed answer the caller turns into a
//! warning, never a failed release.

use octocrab::models::repos::Object;
use octocrab::params::repos::Reference;

use super::client::{ApiError, GithubApi};
use crate::report::ReportError;

/// The fine-grained permission tags and releases need (classic tokens: `repo` / `public_repo`).
pub const CONTENTS_WRITE: &str = "Contents: write";

/// GitHub refused a write for lack of a permission: 403 (GITHUB_TOKEN, "Resource not accessible
/// by integration") or 404 (a fine-grained token without access to the repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPermission {
    /// As GitHub's fine-grained permissions name it, e.g. "Contents: write".
    pub permission: &'static str,
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for MissingPermission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scope = self.permission.split(':').next().unwrap_or(self.permission).to_lowercase();
        write!(
            f,
            "missing permission: {} (GitHub answered HTTP {}: {}); grant the workflow job `permissions: {scope}: write`",
            self.permission, self.status, self.message
        )
    }
}

/// What creating the tag did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    Created,
    /// The tag exists and names the same commit (a re-run).
    AlreadyThere,
    /// The tag exists and names another commit (`sha`, the tag's commit).
    PointsElsewhere {
        sha: String,
    },
    MissingPermission(MissingPermission),
}

/// A GitHub Release to create for an existing tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease<'a> {
    /// `vX.Y.Z`; the tag should exist (GitHub would otherwise create it on the default branch).
    pub tag: &'a str,
    pub name: &'a str,
    /// Markdown release notes.
    pub body: &'a str,
    /// A semver pre-release version (`1.2.0-rc.1`).
    pub prerelease: bool,
}

/// What creating the Release did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    Created {
        id: u64,
        html_url: String,
    },
    /// The tag already has a Release (a re-run).
    AlreadyThere,
    MissingPermission(MissingPermission),
}

const TAGS: &str = "github tags";
const RELEASES: &str = "github releases";

impl GithubApi {
    /// Creates the lightweight tag `refs/tags/{tag}` on commit `sha` (`POST /repos/{o}/{r}/git/refs`).
    /// An existing tag is not an error: it is reported as already there or pointing elsewhere.
    pub async fn create_tag(&self, tag: &str, sha: &str) -> Result<TagOutcome, ReportError> {
        self.tag(tag, sha).await.map_err(|e| e.report(TAGS))
    }

    /// Creates a GitHub Release for `release.tag` (`POST /repos/{o}/{r}/releases`).
    pub async fn create_release(&self, release: &NewRelease<'_>) -> Result<ReleaseOutcome, ReportError> {
        self.release(release).await.map_err(|e| e.report(RELEASES))
    }

    async fn tag(&self, tag: &str, sha: &str) -> Result<TagOutcome, ApiError> {
        let crab = self.crab()?;
        let repos = crab.repos(&self.owner, &self.repo);
        let reference = Reference::Tag(tag.to_owned());
        let error = match repos.create_ref(&reference, sha).await {
            Ok(_) => return Ok(TagOutcome::Created),
            Err(e) => e,
        };
        if let Some(missing) = missing_permission(&error) {
            return Ok(TagOutcome::MissingPermission(missing));
        }
        // 422 "Reference already exists": see where it points. (Other 422s, e.g. "Object does
        // not exist" for an unknown commit, are errors.)
        if !already_exists(&error) {
            return Err(self.failed("creating the tag", error));
        }
        let existing = repos.get_ref(&reference).await.map_err(|e| self.failed("reading the existing tag", e))?;
        let target = match existing.object {
            Object::Commit { sha, .. } => sha,
            // An annotated tag (made by hand with `git tag -a`): its commit is one step further.
            Object::Tag { sha, .. } => {
                let annotated =
                    repos.get_tag(sha.clone()).await.map_err(|e| self.failed("reading the existing tag", e))?;
                annotated.object.map_or(sha, |o| o.sha)
            }
            Object::Tree { sha, .. } | Object::Blob { sha, .. } => sha,
            other => return Err(self.unexpected("reading the existing tag", &format!("{other:?}"))),
        };
        Ok(if target == sha { TagOutcome::AlreadyThere } else { TagOutcome::PointsElsewhere { sha: target } })
    }

    async fn release(&self, release: &NewRelease<'_>) -> Result<ReleaseOutcome, ApiError> {
        let crab = self.crab()?;
        let repos = crab.repos(&self.owner, &self.repo);
        let releases = repos.releases();
        let (name, body) = (self.clean(release.name), self.clean(release.body));
        let sent = releases.create(release.tag).name(&name).body(&body).prerelease(release.prerelease).send().await;
        match sent {
            Ok(created) => {
                let octocrab::models::ReleaseId(id) = created.id;
                Ok(ReleaseOutcome::Created { id, html_url: created.html_url.to_string() })
            }
            Err(e) => {
                if let Some(missing) = missing_permission(&e) {
                    return Ok(ReleaseOutcome::MissingPermission(missing));
                }
                // 422 with `errors[].code = "already_exists"` (REFERENCE A4).
                if has_error_code(&e, "already_exists") {
                    return Ok(ReleaseOutcome::AlreadyThere);
                }
                Err(self.failed("creating the release", e))
            }
        }
    }

    fn unexpected(&self, doing: &'static str, what: &str) -> ApiError {
        ApiError { doing, status: None, message: self.clean(&format!("unexpected answer: {what}")) }
    }
}

fn github_error(error: &octocrab::Error) -> Option<&octocrab::GitHubError> {
    match error {
        octocrab::Error::GitHub { source, .. } => Some(source),
        _ => None,
    }
}

fn missing_permission(error: &octocrab::Error) -> Option<MissingPermission> {
    let e = github_error(error)?;
    matches!(e.status_code.as_u16(), 403 | 404).then(|| MissingPermission {
        permission: CONTENTS_WRITE,
        status: e.status_code.as_u16(),
        message: e.message.clone(),
    })
}

fn already_exists(error: &octocrab::Error) -> bool {
    github_error(error).is_some_and(|e| {
        e.status_code == http::StatusCode::UNPROCESSABLE_ENTITY && e.message.to_lowercase().contains("already exists")
    })
}

fn has_error_code(error: &octocrab::Error, code: &str) -> bool {
    github_error(error).is_some_and(|e| {
        e.status_code == http::StatusCode::UNPROCESSABLE_ENTITY
            && e.errors.iter().flatten().any(|item| item.get("code").and_then(|c| c.as_str()) == Some(code))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::super::test_support::*;
    use super::*;

    const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn api(server: &MockServer) -> GithubApi {
        GithubApi::from_settings(&settings(server)).unwrap()
    }

    /// REFERENCE A4: `POST /repos/{o}/{r}/git/refs` with `{"ref": "refs/tags/…", "sha": …}` → 201 Ref.
    #[tokio::test]
    async fn a_tag_is_a_lightweight_ref_on_the_commit() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/git/refs", 201, git_ref("v1.2.3", "commit", SHA)).await;
        assert_eq!(api(&server).create_tag("v1.2.3", SHA).await.unwrap(), TagOutcome::Created);
        let requests = server.received_requests().await.unwrap();
        assert_headers(&requests);
        assert_eq!(calls(&requests), ["POST /repos/acme/web/git/refs"]);
        assert_eq!(body(&requests[0]), json!({"ref": "refs/tags/v1.2.3", "sha": SHA}));
    }

    #[tokio::test]
    async fn a_token_without_contents_write_is_a_typed_missing_permission() {
        for status in [403, 404] {
            let server = MockServer::start().await;
            let message = if status == 403 { "Resource not accessible by integration" } else { "Not Found" };
            mount(&server, "POST", "/repos/acme/web/git/refs", status, json!({"message": message})).await;
            let outcome = api(&server).create_tag("v1.2.3", SHA).await.unwrap();
            let TagOutcome::MissingPermission(missing) = outcome else { panic!("{outcome:?}") };
            assert_eq!(missing, MissingPermission { permission: "Contents: write", status, message: message.into() });
            assert_eq!(
                missing.to_string(),
                format!(
                    "missing permission: Contents: write (GitHub answered HTTP {status}: {message}); grant the \
                     workflow job `permissions: contents: write`"
                )
            );
            // A permission is not retried.
            assert_eq!(server.received_requests().await.unwrap().len(), 1);
        }
    }

    async fn existing(server: &MockServer, kind: &str, sha: &str) {
        mount(server, "POST", "/repos/acme/web/git/refs", 422, json!({"message": "Reference already exists"})).await;
        mount(server, "GET", "/repos/acme/web/git/ref/tags/v1.2.3", 200, git_ref("v1.2.3", kind, sha)).await;
    }

    #[tokio::test]
    async fn an_existing_tag_on_the_same_commit_is_already_there() {
        let server = MockServer::start().await;
        existing(&server, "commit", SHA).await;
        assert_eq!(api(&server).create_tag("v1.2.3", SHA).await.unwrap(), TagOutcome::AlreadyThere);
        let requests = server.received_requests().await.unwrap();
        assert_eq!(calls(&requests), ["POST /repos/acme/web/git/refs", "GET /repos/acme/web/git/ref/tags/v1.2.3"]);
    }

    #[tokio::test]
    async fn an_existing_tag_on_another_commit_says_which() {
        let server = MockServer::start().await;
        existing(&server, "commit", OTHER).await;
        assert_eq!(
            api(&server).create_tag("v1.2.3", SHA).await.unwrap(),
            TagOutcome::PointsElsewhere { sha: OTHER.into() }
        );
    }

    /// A tag made by hand with `git tag -a` points at a tag object; its commit is compared.
    #[tokio::test]
    async fn an_existing_annotated_tag_is_followed_to_its_commit() {
        let server = MockServer::start().await;
        let tag_object = "1111111111111111111111111111111111111111";
        existing(&server, "tag", tag_object).await;
        let annotated = json!({
            "node_id": "TAG_kwDO", "tag": "v1.2.3", "sha": tag_object, "message": "v1.2.3\n",
            "url": format!("https://api.github.com/repos/acme/web/git/tags/{tag_object}"),
            "object": {"type": "commit", "sha": SHA, "url": format!("https://api.github.com/repos/acme/web/git/commits/{SHA}")},
        });
        mount(&server, "GET", &format!("/repos/acme/web/git/tags/{tag_object}"), 200, annotated).await;
        assert_eq!(api(&server).create_tag("v1.2.3", SHA).await.unwrap(), TagOutcome::AlreadyThere);
    }

    #[tokio::test]
    async fn another_validation_failure_is_an_error_with_githubs_message() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/git/refs", 422, json!({"message": "Object does not exist"})).await;
        let err = api(&server).create_tag("v1.2.3", SHA).await.unwrap_err();
        assert_eq!(err.to_string(), "github tags: creating the tag failed: HTTP 422: Object does not exist");
    }

    /// REFERENCE A4: `POST /repos/{o}/{r}/releases` with `tag_name`, `name`, `body`.
    #[tokio::test]
    async fn a_release_is_created_for_the_tag_with_its_notes() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/releases", 201, release(5, "v1.2.3")).await;
        let mut api = api(&server);
        api.mask("hunter2");
        let notes = "## Features\n\n- a (abc1234)\n\n## Fixes\n\n- b, leaked hunter2 (def5678)\n";
        let new = NewRelease { tag: "v1.2.3", name: "v1.2.3", body: notes, prerelease: false };
        assert_eq!(
            api.create_release(&new).await.unwrap(),
            ReleaseOutcome::Created { id: 5, html_url: "https://github.com/acme/web/releases/tag/v1.2.3".into() }
        );
        let requests = server.received_requests().await.unwrap();
        assert_headers(&requests);
        assert_eq!(calls(&requests), ["POST /repos/acme/web/releases"]);
        assert_eq!(
            body(&requests[0]),
            json!({
                "tag_name": "v1.2.3", "name": "v1.2.3", "prerelease": false,
                "body": "## Features\n\n- a (abc1234)\n\n## Fixes\n\n- b, leaked *** (def5678)\n",
            })
        );
    }

    #[tokio::test]
    async fn a_second_release_for_the_tag_is_already_there() {
        let server = MockServer::start().await;
        let taken = json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release",
        });
        mount(&server, "POST", "/repos/acme/web/releases", 422, taken).await;
        let new = NewRelease { tag: "v1.2.3", name: "v1.2.3", body: "", prerelease: false };
        assert_eq!(api(&server).create_release(&new).await.unwrap(), ReleaseOutcome::AlreadyThere);
    }

    #[tokio::test]
    async fn a_release_without_permission_is_a_typed_outcome() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/repos/acme/web/releases"))
            .respond_with(
                ResponseTemplate::new(403).set_body_json(json!({"message": "Resource not accessible by integration"})),
            )
            .mount(&server)
            .await;
        let new = NewRelease { tag: "v1.2.3", name: "v1.2.3", body: "", prerelease: true };
        let outcome = api(&server).create_release(&new).await.unwrap();
        assert!(
            matches!(&outcome, ReleaseOutcome::MissingPermission(m) if m.permission == CONTENTS_WRITE && m.status == 403),
            "{outcome:?}"
        );
    }
}
