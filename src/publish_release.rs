//! After a verified release: the `v<version>` git tag on the released commit and, when the config asks
//! (`notify.github.releases`), a GitHub Release whose notes group the conventional commits since the
//! previous release. The decisions live here (which tag, what notes, whether to publish at all); the
//! calls go through [`ReleasePublisher`], which the GitHub client implements (REFERENCE A4). A missing
//! permission is a warning naming it, never a failed release: the service already runs the release.

use std::fmt::Write as _;

use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::git::Commit;
use crate::report::{Reporter, Stage};
use crate::version::history::short;
use crate::version::{ReleaseVersion, Released, conventional};

/// The fine-grained permission a token needs for refs and releases (classic tokens: `repo`).
pub const CONTENTS_WRITE: &str = "Contents: write";

/// What the config and the CI context allow.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublishSettings {
    /// `notify.github.tags`, and a GitHub repository and token to publish to.
    pub tags: bool,
    /// `notify.github.releases`.
    pub releases: bool,
}

/// What a verified release publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publication {
    /// `v1.4.0`, created as a lightweight tag (`refs/tags/v1.4.0`).
    pub tag: String,
    /// The full hash of the released commit.
    pub commit: String,
    pub release: Option<GithubRelease>,
    /// This run creates the release (its version tag is new in ECR). A run that did not (a re-run,
    /// another environment) publishes too, but a missing permission there is only a note: the run
    /// that created the release warned about it.
    pub first: bool,
}

/// A GitHub Release on the tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GithubRelease {
    pub tag_name: String,
    /// The commit, used by GitHub only if the tag does not exist yet.
    pub target_commitish: String,
    pub name: String,
    /// Markdown notes.
    pub body: String,
}

/// Decides what a release publishes once verified: nothing for a dirty build or a pre-release (they
/// are not releases anyone should check out), nothing when the config or the context says no.
pub fn plan(
    release: &ReleaseVersion,
    previous: Option<&Released>,
    commits: &[Commit],
    settings: PublishSettings,
    first: bool,
) -> Option<Publication> {
    if !settings.tags || release.dirty || !release.version.pre.is_empty() {
        return None;
    }
    let tag = release.version_tag();
    let body = settings.releases.then(|| notes(previous, commits));
    Some(Publication {
        release: body.map(|body| GithubRelease {
            tag_name: tag.clone(),
            target_commitish: release.commit.clone(),
            name: tag.clone(),
            body,
        }),
        tag,
        commit: release.commit.clone(),
        first,
    })
}

/// The plan line for a publication.
pub fn describe(publication: &Publication) -> String {
    let release = if publication.release.is_some() { " and a GitHub Release with notes" } else { "" };
    format!("after a verified release: git tag {} on {}{release}", publication.tag, short(&publication.commit))
}

/// The sections of the notes, in the order they appear.
const SECTIONS: [(&str, &str); 4] =
    [("breaking", "Breaking changes"), ("feat", "Features"), ("fix", "Bug fixes"), ("perf", "Performance")];

/// Release notes: the conventional commits since `previous`, grouped by type, newest first within a
/// group; other commits (chore, docs, free-form) are counted, not listed.
pub fn notes(previous: Option<&Released>, commits: &[Commit]) -> String {
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); SECTIONS.len()];
    let mut other = 0;
    for commit in commits {
        let Some(parsed) = conventional(&commit.message) else {
            other += 1;
            continue;
        };
        let key = if parsed.breaking { "breaking" } else { parsed.kind.as_str() };
        let Some(index) = SECTIONS.iter().position(|(k, _)| *k == key) else {
            other += 1;
            continue;
        };
        let scope = parsed.scope.as_deref().map(|s| format!("**{s}:** ")).unwrap_or_default();
        groups[index].push(format!("- {scope}{} ({})", parsed.description, short(&commit.hash)));
    }
    let mut body = match previous {
        Some(previous) => format!("Changes since v{}.\n", previous.version),
        None => "The first release.\n".to_owned(),
    };
    for ((_, title), lines) in SECTIONS.iter().zip(&groups) {
        if !lines.is_empty() {
            let _ = write!(body, "\n### {title}\n\n{}\n", lines.join("\n"));
        }
    }
    if other > 0 {
        let s = if other == 1 { "" } else { "s" };
        let _ = write!(body, "\n{other} other commit{s} (chores, docs, refactoring).\n");
    }
    body
}

/// Why a publishing call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// 403: the token lacks a permission (or a secondary rate limit); GitHub's message.
    Forbidden(String),
    /// 422: the tag or the release exists already (a re-run, another environment's release).
    Exists,
    /// The tag exists on another commit (this full hash): it is left alone.
    Elsewhere(String),
    Failed(String),
}

/// The GitHub calls a publication needs (REFERENCE A4: `create_ref`, `releases().create`).
pub trait ReleasePublisher: Send + Sync {
    /// `POST /repos/{owner}/{repo}/git/refs` with `{"ref": "refs/tags/<tag>", "sha": <commit>}`.
    fn create_tag<'a>(&'a self, tag: &'a str, commit: &'a str) -> BoxFuture<'a, Result<(), PublishError>>;
    /// `POST /repos/{owner}/{repo}/releases` with the release's fields.
    fn create_release<'a>(&'a self, release: &'a GithubRelease) -> BoxFuture<'a, Result<(), PublishError>>;
}

/// What publishing did, for the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Published {
    pub tag: bool,
    pub release: bool,
}

/// Publishes after a verified release. Never fails: each problem is one warning saying what to do.
pub async fn publish(
    publisher: &dyn ReleasePublisher,
    publication: &Publication,
    reporter: &mut Reporter,
) -> Published {
    let mut done = Published::default();
    let tag = &publication.tag;
    match publisher.create_tag(tag, &publication.commit).await {
        Ok(()) => {
            reporter.finished(Stage::Tag, format!("git tag {tag} -> {}", short(&publication.commit)));
            done.tag = true;
        }
        Err(PublishError::Exists) => reporter.progress(Stage::Tag, format!("git tag {tag} exists already")),
        Err(e) => {
            let text = warning(&format!("the git tag {tag} was not created"), &e);
            if publication.first {
                reporter.warn(text)
            } else {
                reporter.progress(Stage::Tag, text)
            }
            return done;
        }
    }
    if let Some(release) = &publication.release {
        match publisher.create_release(release).await {
            Ok(()) => {
                reporter.finished(Stage::Tag, format!("GitHub Release {}", release.name));
                done.release = true;
            }
            Err(PublishError::Exists) => {
                reporter.progress(Stage::Tag, format!("GitHub Release {} exists already", release.name));
            }
            Err(e) => {
                let text = warning(&format!("the GitHub Release {} was not created", release.name), &e);
                if publication.first { reporter.warn(text) } else { reporter.progress(Stage::Tag, text) }
            }
        }
    }
    done
}

fn warning(what: &str, error: &PublishError) -> String {
    match error {
        PublishError::Forbidden(message) => format!(
            "{what}: GitHub answered 403 ({message}). The token needs the \"{CONTENTS_WRITE}\" permission \
             (in a workflow: `permissions: contents: write`); the release itself succeeded"
        ),
        PublishError::Elsewhere(commit) => format!(
            "{what}: the tag exists on another commit ({}) and tags never move; the release itself succeeded",
            short(commit)
        ),
        PublishError::Failed(message) => format!("{what}: {message}; the release itself succeeded"),
        PublishError::Exists => format!("{what}: it exists already"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use semver::Version;

    use super::*;
    use crate::report::{Console, TerminalSink};
    use crate::version::Source;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn release(version: &str, dirty: bool) -> ReleaseVersion {
        ReleaseVersion { version: Version::parse(version).unwrap(), commit: SHA.into(), dirty, timestamp: 0 }
    }

    fn commit(n: u8, message: &str) -> Commit {
        Commit { hash: format!("{n:02x}").repeat(20), message: message.into() }
    }

    fn previous() -> Released {
        Released { version: Version::new(1, 2, 0), commit: Some("aa".repeat(20)), source: Source::GitTag }
    }

    #[test]
    fn notes_group_the_conventional_commits_since_the_previous_release() {
        let commits = [
            commit(6, "feat(api)!: drop the v1 endpoints"),
            commit(5, "perf: cache the index"),
            commit(4, "chore: bump deps"),
            commit(3, "fix(db): close the pool on shutdown\n\nlonger body"),
            commit(2, "feat: dark mode"),
            commit(1, "Merge pull request #4"),
        ];
        assert_eq!(
            notes(Some(&previous()), &commits),
            "Changes since v1.2.0.\n\
             \n### Breaking changes\n\n- **api:** drop the v1 endpoints (060606060606)\n\
             \n### Features\n\n- dark mode (020202020202)\n\
             \n### Bug fixes\n\n- **db:** close the pool on shutdown (030303030303)\n\
             \n### Performance\n\n- cache the index (050505050505)\n\
             \n2 other commits (chores, docs, refactoring).\n"
        );
        assert_eq!(
            notes(None, &[commit(1, "fix: one")]),
            "The first release.\n\n### Bug fixes\n\n- one (010101010101)\n"
        );
    }

    #[test]
    fn only_clean_final_releases_are_published_and_the_release_only_when_asked() {
        let on = PublishSettings { tags: true, releases: true };
        let published = plan(&release("1.3.0", false), Some(&previous()), &[commit(1, "feat: x")], on, true).unwrap();
        assert_eq!(published.tag, "v1.3.0");
        assert_eq!(published.commit, SHA);
        let gh = published.release.as_ref().unwrap();
        assert_eq!((gh.tag_name.as_str(), gh.name.as_str(), gh.target_commitish.as_str()), ("v1.3.0", "v1.3.0", SHA));
        assert!(gh.body.contains("- x (010101010101)"), "{}", gh.body);
        assert_eq!(
            describe(&published),
            "after a verified release: git tag v1.3.0 on 0123456789ab and a GitHub Release with notes"
        );

        let tag_only = plan(&release("1.3.0", false), None, &[], PublishSettings { tags: true, releases: false }, true);
        assert_eq!(tag_only.and_then(|p| p.release), None);
        assert_eq!(plan(&release("1.3.0", true), None, &[], on, true), None, "a dirty build is no release");
        assert_eq!(plan(&release("1.3.0-rc.1", false), None, &[], on, true), None, "nor is a pre-release");
        assert_eq!(plan(&release("1.3.0", false), None, &[], PublishSettings::default(), true), None);
    }

    /// Records the calls and answers each with a scripted result (a fake for this pure decision only).
    struct Scripted {
        tag: Result<(), PublishError>,
        release: Result<(), PublishError>,
        calls: Mutex<Vec<String>>,
    }

    impl ReleasePublisher for Scripted {
        fn create_tag<'a>(&'a self, tag: &'a str, commit: &'a str) -> BoxFuture<'a, Result<(), PublishError>> {
            self.calls.lock().unwrap().push(format!("tag {tag} {commit}"));
            Box::pin(async move { self.tag.clone() })
        }
        fn create_release<'a>(&'a self, release: &'a GithubRelease) -> BoxFuture<'a, Result<(), PublishError>> {
            self.calls.lock().unwrap().push(format!("release {}", release.tag_name));
            Box::pin(async move { self.release.clone() })
        }
    }

    async fn run_with(
        tag: Result<(), PublishError>,
        release_result: Result<(), PublishError>,
        first: bool,
    ) -> (Published, Vec<String>, String) {
        let (console, captured) = Console::capture();
        let mut reporter = Reporter::new(vec![Box::new(TerminalSink::with_console(false, false, false, console))]);
        let publisher = Scripted { tag, release: release_result, calls: Mutex::new(Vec::new()) };
        let on = PublishSettings { tags: true, releases: true };
        let publication = plan(&release("1.3.0", false), None, &[], on, first).unwrap();
        let done = publish(&publisher, &publication, &mut reporter).await;
        let calls = publisher.calls.lock().unwrap().clone();
        (done, calls, captured.text())
    }

    async fn run(
        tag: Result<(), PublishError>,
        release_result: Result<(), PublishError>,
    ) -> (Published, Vec<String>, String) {
        run_with(tag, release_result, true).await
    }

    #[tokio::test]
    async fn a_403_on_the_tag_is_a_warning_naming_the_permission() {
        let (done, calls, text) =
            run(Err(PublishError::Forbidden("Resource not accessible by integration".into())), Ok(())).await;
        assert_eq!(done, Published::default());
        assert_eq!(calls, [format!("tag v1.3.0 {SHA}")], "no release without its tag");
        assert!(text.contains("the git tag v1.3.0 was not created: GitHub answered 403"), "{text}");
        assert!(text.contains("\"Contents: write\""), "{text}");
    }

    #[tokio::test]
    async fn an_existing_tag_is_a_rerun_and_the_release_follows() {
        let (done, calls, _) = run(Err(PublishError::Exists), Ok(())).await;
        assert_eq!(done, Published { tag: false, release: true });
        assert_eq!(calls, [format!("tag v1.3.0 {SHA}"), "release v1.3.0".to_owned()]);
        let (done, _, text) = run(Ok(()), Err(PublishError::Forbidden("no".into()))).await;
        assert_eq!(done, Published { tag: true, release: false });
        assert!(
            text.contains("the GitHub Release v1.3.0 was not created") && text.contains("Contents: write"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_run_that_did_not_create_the_release_only_notes_a_missing_permission() {
        let (done, _, text) = run_with(Err(PublishError::Forbidden("no".into())), Ok(()), false).await;
        assert_eq!(done, Published::default());
        assert!(!text.contains("warning"), "{text}");
        assert!(text.contains("Contents: write"), "{text}");
    }
}
