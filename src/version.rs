//! Release versions and the immutable tag policy.
//!
//! The version comes from `--version`, or from what was released: the newest released version reachable from
//! HEAD (a `vX.Y.Z` git tag, or a `v*` tag in ECR whose image names its commit), bumped by the conventional
//! commits since it. The commit is the one being released: in a pull request event, the PR head, never the merge
//! commit GitHub checks out. Tags are immutable: a version may not go below the latest release, and an existing
//! version tag may not move. Moving tags (`latest`) are opt-in and follow the newest verified release.

pub mod history;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use semver::{Prerelease, Version};
use serde::Deserialize;

pub use self::history::{Released, Source};
use crate::ci::{EventError, GithubEvent};
use crate::git::{Commit, GitError, Repo, Snapshot};

/// A kind of image tag a release gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TagKind {
    /// `v<semver>`, e.g. `v1.4.0`.
    Semver,
    /// `sha-<first 12 hex of the commit>`.
    Sha,
    /// `latest`: a moving tag, only when listed explicitly (and never into an IMMUTABLE repository).
    Latest,
}

/// What a release is: its version, the commit it is built from, and whether the work tree had changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseVersion {
    /// For a dirty tree, carries the pre-release `dirty.<unix seconds>`.
    pub version: Version,
    /// 40 hex digits.
    pub commit: String,
    pub dirty: bool,
    /// Unix seconds when the version was resolved; marks dirty builds so they never claim a clean commit's tag.
    pub timestamp: u64,
}

impl ReleaseVersion {
    /// `sha-<12 hex>`; a dirty build gets `sha-<12 hex>-dirty-<unix seconds>`.
    pub fn sha_tag(&self) -> String {
        let short = self.commit.get(..12).unwrap_or(&self.commit);
        if self.dirty { format!("sha-{short}-dirty-{}", self.timestamp) } else { format!("sha-{short}") }
    }

    /// `v<semver>`.
    pub fn version_tag(&self) -> String {
        format!("v{}", self.version)
    }

    /// The tags of this release for a tag policy, in policy order. A dirty build does not move `latest`.
    pub fn tags(&self, policy: &[TagKind]) -> Vec<String> {
        let mut tags = Vec::new();
        for kind in policy {
            let tag = match kind {
                TagKind::Semver => self.version_tag(),
                TagKind::Sha => self.sha_tag(),
                TagKind::Latest if self.dirty => continue,
                TagKind::Latest => "latest".to_string(),
            };
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags
    }
}

/// Who is released: the version and commit, for tags, labels and reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseLabel {
    pub version: String,
    pub commit: String,
}

impl From<&ReleaseVersion> for ReleaseLabel {
    fn from(v: &ReleaseVersion) -> Self {
        Self { version: v.version.to_string(), commit: v.commit.clone() }
    }
}

/// Why no version could be decided.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VersionError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(#[from] GitError),

    #[error("`{input}` is not a semantic version: {reason}")]
    #[diagnostic(code(pipeline::version), help("give --version as MAJOR.MINOR.PATCH, e.g. `1.4.0` or `v1.4.0`"))]
    Invalid { input: String, reason: String },

    #[error("version {requested} is lower than the latest release v{latest}")]
    #[diagnostic(
        code(pipeline::version),
        help(
            "v{latest} is released ({release}); give a version above {latest}, or leave out --version to compute the next one from the commits"
        )
    )]
    Lower { requested: Version, latest: Version, release: String },

    #[error("the commits since {base} make version {computed}, which is not above the release v{latest} ({release})")]
    #[diagnostic(
        code(pipeline::version),
        help(
            "v{latest} was released from a commit this branch does not contain: merge it first, or give --version above {latest}"
        )
    )]
    Behind { computed: String, latest: String, release: String, base: String },

    #[error("tag {tag} already exists on commit {tag_commit}; releasing it from commit {commit} would move it")]
    #[diagnostic(
        code(pipeline::version),
        help(
            "tags are immutable: release a new version (leave out --version to compute it), or re-release {tag} from commit {tag_commit}"
        )
    )]
    TagWouldMove { tag: String, tag_commit: String, commit: String },

    #[error("the work tree has uncommitted changes: {}{}", paths.join(", "), more_suffix(*more))]
    #[diagnostic(
        code(pipeline::version),
        help("commit or stash them, or pass --allow-dirty (the version and the sha tag then say `dirty`)")
    )]
    Dirty { paths: Vec<String>, more: usize },

    #[error("the clone is shallow, so the latest release tag and the commits since it cannot be read")]
    #[diagnostic(
        code(pipeline::version),
        help(
            "fetch the full history and tags (actions/checkout with `fetch-depth: 0`), or give the version with --version"
        )
    )]
    Shallow,

    #[error(transparent)]
    #[diagnostic(transparent)]
    Event(#[from] EventError),
}

fn more_suffix(more: usize) -> String {
    if more == 0 { String::new() } else { format!(" (and {more} more)") }
}

/// How many dirty paths an error lists before "and N more".
const DIRTY_PATHS_SHOWN: usize = 5;

/// A decided version and the history it was decided from (the release notes are made of it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resolution {
    pub release: ReleaseVersion,
    /// The newest release this one follows (reachable from the commit), if any.
    pub previous: Option<Released>,
    /// The commits since `previous` (all of them when there is none), newest first; empty in a shallow clone, and
    /// when neither the version nor the release notes need them.
    pub commits: Vec<Commit>,
    /// The clone already has the `v<version>` git tag.
    pub git_tagged: bool,
}

/// Decides the commit and version of a release in `repo`. See the module docs for the rules.
/// `registry` holds the releases found in ECR (commits may be abbreviated; they are resolved here). `notes`:
/// the commits since the previous release are wanted for release notes, even when the version is known without them.
pub fn resolve(
    tree: &Snapshot,
    explicit: Option<&str>,
    allow_dirty: bool,
    github: &GithubEvent,
    registry: &[Released],
    notes: bool,
) -> Result<Resolution, VersionError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    resolve_at(tree, Request { explicit, allow_dirty, notes }, github, registry, now)
}

/// What the caller asks of [`resolve`].
#[derive(Debug, Clone, Copy)]
struct Request<'a> {
    explicit: Option<&'a str>,
    allow_dirty: bool,
    notes: bool,
}

/// Reads the work tree once and checks what needs only it, before anything else is asked (so a typo or a
/// dirty tree is reported before an AWS credential problem). The snapshot is what [`resolve`] decides from.
pub fn precheck(dir: &Path, explicit: Option<&str>, allow_dirty: bool) -> Result<Snapshot, VersionError> {
    let tree = Repo::snapshot(dir, "v")?;
    explicit.map(parse_explicit).transpose()?;
    check_clean(&tree, allow_dirty)?;
    Ok(tree)
}

fn check_clean(tree: &Snapshot, allow_dirty: bool) -> Result<bool, VersionError> {
    let dirty = !tree.dirty.is_empty();
    if dirty && !allow_dirty {
        let more = tree.dirty.len().saturating_sub(DIRTY_PATHS_SHOWN);
        return Err(VersionError::Dirty { paths: tree.dirty.iter().take(DIRTY_PATHS_SHOWN).cloned().collect(), more });
    }
    Ok(dirty)
}

fn resolve_at(
    tree: &Snapshot,
    Request { explicit, allow_dirty, notes }: Request<'_>,
    github: &GithubEvent,
    registry: &[Released],
    now: u64,
) -> Result<Resolution, VersionError> {
    let repo = &tree.repo;
    let commit = match github.pull_request_head()? {
        // The head must be in the clone: its history is what the version is computed from.
        Some(head) => repo.commit(&head)?,
        None => tree.head()?.to_owned(),
    };

    // Check the input before the tree, so a typo is reported even on a dirty tree.
    let requested = explicit.map(parse_explicit).transpose()?;
    let dirty = check_clean(tree, allow_dirty)?;

    let releases = history::merge(known_releases(tree, registry)?);
    let shallow = tree.shallow;
    let previous = match &requested {
        Some(requested) => {
            check_explicit(requested, &commit, &releases)?;
            // Only for the notes: a clone that cannot answer (shallow) has no previous release.
            history::base(&releases, |c| {
                Ok::<_, GitError>(c != commit && repo.is_ancestor(c, &commit).unwrap_or(false))
            })?
            .filter(|r| r.version < *requested)
        }
        // Computing from history in a shallow clone would silently start again from 0.0.0 or miss commits.
        None if shallow => return Err(VersionError::Shallow),
        None => history::base(&releases, |c| repo.is_ancestor(c, &commit))?,
    };
    let previous = previous.cloned();
    // A commit already released is that release, so only a computed version needs the commits since.
    let bumped = requested.is_none() && history::of_commit(&releases, &commit).is_none();
    let commits = if shallow || !(bumped || notes) {
        Vec::new()
    } else {
        // A commit that is itself the previous release has nothing since.
        repo.commits(previous.as_ref().and_then(|p| p.commit.as_deref()), &commit)?
    };

    let mut version = match requested {
        Some(requested) => requested,
        None => match history::of_commit(&releases, &commit) {
            // A commit that already carries a release is that release: no bump.
            Some(release) => release.version.clone(),
            None => {
                let messages: Vec<&str> = commits.iter().map(|c| c.message.as_str()).collect();
                let base = previous.as_ref().map_or_else(|| Version::new(0, 0, 0), |p| p.version.clone());
                let computed = bump(&base, level(&messages));
                check_computed(&computed, previous.as_ref(), &releases)?;
                computed
            }
        },
    };
    if dirty {
        version.pre = dirty_prerelease(&version.pre, now);
    }
    let git_tagged = releases.iter().any(|r| r.source == Source::GitTag && r.version == version);
    let release = ReleaseVersion { version, commit, dirty, timestamp: now };
    Ok(Resolution { release, previous, commits, git_tagged })
}

/// Every release this clone can see: the `v*` git tags, and the registry's with their commits
/// resolved in this clone (an abbreviated or unknown commit stays unknown: it cannot be a base).
fn known_releases(tree: &Snapshot, registry: &[Released]) -> Result<Vec<Released>, VersionError> {
    let mut releases: Vec<Released> = tree
        .tags
        .iter()
        .filter_map(|tag| {
            Some(Released { version: parse_tag(&tag.name)?, commit: Some(tag.commit.clone()), source: Source::GitTag })
        })
        .collect();
    // The registry names commits by their first 12 hex digits (`sha-` tags): most are HEAD or a tagged commit,
    // known already; the rest are asked of git together.
    let known: Vec<&str> =
        tree.head.iter().map(String::as_str).chain(tree.tags.iter().map(|t| t.commit.as_str())).collect();
    let full = |c: &str| {
        (c.len() == 40)
            .then(|| c.to_owned())
            .or_else(|| known.iter().find(|k| k.starts_with(c)).map(|k| (*k).to_owned()))
    };
    let unknown: Vec<&str> =
        registry.iter().filter_map(|r| r.commit.as_deref()).filter(|c| full(c).is_none()).collect();
    let asked = tree.repo.full_commits(&unknown)?;
    for release in registry {
        let commit = release.commit.as_deref().and_then(|c| {
            full(c).or_else(|| unknown.iter().position(|u| *u == c).and_then(|i| asked.get(i).cloned().flatten()))
        });
        releases.push(Released { commit, ..release.clone() });
    }
    Ok(releases)
}

/// `1.2.3` or `v1.2.3`, full semver (pre-release and build metadata allowed).
fn parse_explicit(input: &str) -> Result<Version, VersionError> {
    let trimmed = input.trim();
    let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
    Version::parse(bare).map_err(|e| VersionError::Invalid { input: input.to_string(), reason: e.to_string() })
}

/// `vX.Y.Z` (optionally with a pre-release) as a version; other tags starting with `v` are not releases.
pub fn parse_tag(name: &str) -> Option<Version> {
    let version = Version::parse(name.strip_prefix('v')?).ok()?;
    version.build.is_empty().then_some(version)
}

/// `--version`: never below the newest release, unless it is a release of this very commit (a
/// re-run, or a promotion to another environment); a version tag never moves to another commit.
/// An ECR tag of the version on another commit is left to the image plan, which names both digests.
fn check_explicit(requested: &Version, commit: &str, releases: &[Released]) -> Result<(), VersionError> {
    let this_commit = |r: &&Released| &r.version == requested && r.commit.as_deref() == Some(commit);
    if releases.iter().any(|r| this_commit(&r)) {
        return Ok(());
    }
    if let Some(latest) = history::newest(releases)
        && requested < &latest.version
    {
        return Err(VersionError::Lower {
            requested: requested.clone(),
            latest: latest.version.clone(),
            release: latest.to_string(),
        });
    }
    let moved = releases.iter().find(|r| &r.version == requested && r.source == Source::GitTag);
    if let Some(Released { commit: Some(tag_commit), .. }) = moved {
        return Err(VersionError::TagWouldMove {
            tag: format!("v{requested}"),
            tag_commit: tag_commit.clone(),
            commit: commit.to_string(),
        });
    }
    Ok(())
}

/// A computed version must be above every release, reachable or not: two branches must never both
/// release, say, v1.3.0.
fn check_computed(computed: &Version, previous: Option<&Released>, releases: &[Released]) -> Result<(), VersionError> {
    match history::newest(releases) {
        Some(latest) if &latest.version >= computed => Err(VersionError::Behind {
            computed: computed.to_string(),
            latest: latest.version.to_string(),
            release: latest.to_string(),
            base: previous.map_or_else(|| "the first commit".to_owned(), |p| format!("v{}", p.version)),
        }),
        _ => Ok(()),
    }
}

fn dirty_prerelease(pre: &Prerelease, now: u64) -> Prerelease {
    let text = if pre.is_empty() { format!("dirty.{now}") } else { format!("{pre}.dirty.{now}") };
    // Made only of identifiers semver accepts; keep the original if that ever fails.
    Prerelease::new(&text).unwrap_or_else(|_| pre.clone())
}

/// How much a set of commits moves the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

/// The largest bump any message asks for; patch when none asks (every release moves the version).
pub fn level<S: AsRef<str>>(messages: &[S]) -> Bump {
    messages.iter().filter_map(|m| commit_bump(m.as_ref())).max().unwrap_or(Bump::Patch)
}

/// Conventional commits: `feat` -> minor, `fix`/`perf` -> patch, `type!:` or a `BREAKING CHANGE:` footer -> major.
/// Other types (chore, docs, ...) and free-form messages ask for nothing.
pub fn commit_bump(message: &str) -> Option<Bump> {
    let parsed = conventional(message)?;
    if parsed.breaking {
        return Some(Bump::Major);
    }
    match parsed.kind.as_str() {
        "feat" => Some(Bump::Minor),
        "fix" | "perf" => Some(Bump::Patch),
        _ => None,
    }
}

/// A conventional commit message, parsed: `type(scope)!: description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conventional {
    /// Lower case, e.g. `feat`.
    pub kind: String,
    pub scope: Option<String>,
    /// `!` after the type or scope, or a `BREAKING CHANGE:` footer.
    pub breaking: bool,
    pub description: String,
}

/// Parses the first line (and the footers for breaking changes); `None` for a free-form message.
pub fn conventional(message: &str) -> Option<Conventional> {
    let mut lines = message.lines();
    let subject = lines.next().unwrap_or_default().trim();
    let breaking_footer = lines.any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    let (header, description) = subject.split_once(':')?;
    let (kind, rest) = header.split_at(header.find(['(', '!']).unwrap_or(header.len()));
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    // `(scope)` is optional; what follows it can only be `!` or nothing.
    let (scope, after_scope) = match rest.strip_prefix('(') {
        Some(scoped) => {
            let (scope, after) = scoped.split_once(')')?;
            (Some(scope.to_owned()), after)
        }
        None => (None, rest),
    };
    let bang = match after_scope {
        "" => false,
        "!" => true,
        _ => return None,
    };
    Some(Conventional {
        kind: kind.to_ascii_lowercase(),
        scope,
        breaking: bang || breaking_footer,
        description: description.trim().to_owned(),
    })
}

/// Applies a bump. Before 1.0.0 a breaking change bumps the minor version, as Cargo and most semver tools treat
/// 0.x (the minor is the "major" of a pre-1.0 API); 1.0.0 is a deliberate `--version`, never a side effect.
pub fn bump(base: &Version, bump: Bump) -> Version {
    let (major, minor, patch) = (base.major, base.minor, base.patch);
    match bump {
        Bump::Major if major > 0 => Version::new(major + 1, 0, 0),
        Bump::Major | Bump::Minor => Version::new(major, minor + 1, 0),
        Bump::Patch => Version::new(major, minor, patch + 1),
    }
}

impl std::fmt::Display for TagKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TagKind::Semver => "semver",
            TagKind::Sha => "sha",
            TagKind::Latest => "latest",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testing::{commit, git, repo};

    const NOW: u64 = 1_700_000_000;

    fn resolve(dir: &Path, explicit: Option<&str>, allow_dirty: bool) -> Result<ReleaseVersion, VersionError> {
        let request = Request { explicit, allow_dirty, notes: true };
        resolve_at(&Repo::snapshot(dir, "v")?, request, &GithubEvent::default(), &[], NOW).map(|r| r.release)
    }

    #[test]
    fn conventional_commit_bump_table() {
        let cases: &[(&str, Option<Bump>)] = &[
            ("feat: add x", Some(Bump::Minor)),
            ("feat(api): add x", Some(Bump::Minor)),
            ("Feat: add x", Some(Bump::Minor)),
            ("fix: y", Some(Bump::Patch)),
            ("fix(db): y", Some(Bump::Patch)),
            ("perf: faster", Some(Bump::Patch)),
            ("feat!: drop v1 api", Some(Bump::Major)),
            ("fix(api)!: change status", Some(Bump::Major)),
            ("refactor!: rename", Some(Bump::Major)),
            ("fix: y\n\nBREAKING CHANGE: the flag is gone", Some(Bump::Major)),
            ("chore: deps\n\nBREAKING-CHANGE: node 20", Some(Bump::Major)),
            ("chore: deps", None),
            ("docs: readme", None),
            ("Merge branch 'main'", None),
            ("feature: not a type we know", None),
            ("fix (space): not conventional", None),
            ("feat(scope: unclosed", None),
            ("fix: mentions BREAKING CHANGE: in the subject only", Some(Bump::Patch)),
        ];
        for (message, expected) in cases {
            assert_eq!(commit_bump(message), *expected, "{message:?}");
        }
        assert_eq!(level(&["chore: a", "docs: b"]), Bump::Patch);
        assert_eq!(level(&["fix: a", "feat: b"]), Bump::Minor);
        assert_eq!(level::<&str>(&[]), Bump::Patch);
    }

    #[test]
    fn bumps_follow_semver_and_pre_1_0_convention() {
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(bump(&v("1.2.3"), Bump::Patch), v("1.2.4"));
        assert_eq!(bump(&v("1.2.3"), Bump::Minor), v("1.3.0"));
        assert_eq!(bump(&v("1.2.3"), Bump::Major), v("2.0.0"));
        assert_eq!(bump(&v("0.2.3"), Bump::Major), v("0.3.0"));
        assert_eq!(bump(&v("0.2.3"), Bump::Minor), v("0.3.0"));
        assert_eq!(bump(&v("0.0.0"), Bump::Patch), v("0.0.1"));
    }

    #[test]
    fn tags_follow_the_policy() {
        let clean = ReleaseVersion {
            version: Version::new(1, 4, 0),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            dirty: false,
            timestamp: NOW,
        };
        assert_eq!(clean.version_tag(), "v1.4.0");
        assert_eq!(clean.sha_tag(), "sha-0123456789ab");
        assert_eq!(
            clean.tags(&[TagKind::Semver, TagKind::Sha, TagKind::Latest]),
            vec!["v1.4.0", "sha-0123456789ab", "latest"]
        );
        let dirty = ReleaseVersion { dirty: true, ..clean };
        assert_eq!(dirty.sha_tag(), format!("sha-0123456789ab-dirty-{NOW}"));
        assert_eq!(dirty.tags(&[TagKind::Sha, TagKind::Latest]), vec![format!("sha-0123456789ab-dirty-{NOW}")]);
    }

    #[test]
    fn no_tags_starts_from_0_0_0() {
        let dir = repo();
        commit(dir.path(), "feat: first feature");
        let release = resolve(dir.path(), None, false).unwrap();
        assert_eq!(release.version, Version::new(0, 1, 0));
        assert_eq!(release.commit, git(dir.path(), &["rev-parse", "HEAD"]));
        assert!(!release.dirty);
    }

    #[test]
    fn latest_tag_is_bumped_by_commits_since_it() {
        let dir = repo();
        git(dir.path(), &["tag", "v1.2.3"]);
        // Pre-releases are not "the latest release".
        commit(dir.path(), "chore: x");
        git(dir.path(), &["tag", "v9.0.0-rc.1"]);
        // Not version tags at all.
        git(dir.path(), &["tag", "vnext"]);
        commit(dir.path(), "fix: a");
        assert_eq!(resolve(dir.path(), None, false).unwrap().version, Version::new(1, 2, 4));
        commit(dir.path(), "feat: b");
        assert_eq!(resolve(dir.path(), None, false).unwrap().version, Version::new(1, 3, 0));
        commit(dir.path(), "feat!: c");
        assert_eq!(resolve(dir.path(), None, false).unwrap().version, Version::new(2, 0, 0));
    }

    #[test]
    fn irrelevant_commits_bump_patch() {
        let dir = repo();
        git(dir.path(), &["tag", "v1.2.3"]);
        commit(dir.path(), "docs: readme");
        assert_eq!(resolve(dir.path(), None, false).unwrap().version, Version::new(1, 2, 4));
    }

    #[test]
    fn head_at_a_release_tag_is_that_release() {
        let dir = repo();
        commit(dir.path(), "feat: x");
        git(dir.path(), &["tag", "-a", "v1.2.3", "-m", "release"]);
        assert_eq!(resolve(dir.path(), None, false).unwrap().version, Version::new(1, 2, 3));
    }

    #[test]
    fn explicit_version_with_or_without_v() {
        let dir = repo();
        git(dir.path(), &["tag", "v1.2.3"]);
        commit(dir.path(), "fix: a");
        assert_eq!(resolve(dir.path(), Some("v2.0.0"), false).unwrap().version, Version::new(2, 0, 0));
        assert_eq!(resolve(dir.path(), Some("1.5.0"), false).unwrap().version, Version::new(1, 5, 0));
    }

    #[test]
    fn invalid_semver_is_refused() {
        let dir = repo();
        let err = resolve(dir.path(), Some("1.2"), false).unwrap_err();
        assert!(matches!(err, VersionError::Invalid { .. }), "{err:?}");
        assert!(err.to_string().starts_with("`1.2` is not a semantic version: "), "{err}");
    }

    #[test]
    fn lower_semver_is_refused() {
        let dir = repo();
        git(dir.path(), &["tag", "v1.2.3"]);
        commit(dir.path(), "fix: a");
        let err = resolve(dir.path(), Some("1.2.0"), false).unwrap_err();
        assert_eq!(err.to_string(), "version 1.2.0 is lower than the latest release v1.2.3");
    }

    #[test]
    fn tag_that_would_move_is_refused() {
        let dir = repo();
        let tagged = commit(dir.path(), "feat: a");
        git(dir.path(), &["tag", "v1.2.3"]);
        let head = commit(dir.path(), "fix: b");
        let err = resolve(dir.path(), Some("v1.2.3"), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("tag v1.2.3 already exists on commit {tagged}; releasing it from commit {head} would move it")
        );
        // Re-releasing the tagged commit itself is fine.
        git(dir.path(), &["checkout", "-q", &tagged]);
        assert_eq!(resolve(dir.path(), Some("1.2.3"), false).unwrap().version, Version::new(1, 2, 3));
    }

    #[test]
    fn dirty_tree_is_refused_unless_allowed() {
        let dir = repo();
        git(dir.path(), &["tag", "v1.0.0"]);
        for i in 0..7 {
            std::fs::write(dir.path().join(format!("f{i}.txt")), "x").unwrap();
        }
        let err = resolve(dir.path(), None, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the work tree has uncommitted changes: f0.txt, f1.txt, f2.txt, f3.txt, f4.txt (and 2 more)"
        );
        let release = resolve(dir.path(), None, true).unwrap();
        assert!(release.dirty);
        assert_eq!(release.version.to_string(), format!("1.0.0-dirty.{NOW}"));
        assert!(release.sha_tag().ends_with(&format!("-dirty-{NOW}")));
    }

    #[test]
    fn shallow_clone_needs_an_explicit_version() {
        let origin = repo();
        git(origin.path(), &["tag", "v1.0.0"]);
        commit(origin.path(), "feat: x");
        let clone = tempfile::tempdir().unwrap();
        let url = format!("file://{}", origin.path().display());
        git(clone.path(), &["clone", "-q", "--depth", "1", &url, "."]);
        let err = resolve(clone.path(), None, false).unwrap_err();
        assert!(matches!(err, VersionError::Shallow), "{err:?}");
        assert_eq!(resolve(clone.path(), Some("1.1.0"), false).unwrap().version, Version::new(1, 1, 0));
    }

    #[test]
    fn pull_request_head_is_released_not_the_merge_commit() {
        let dir = repo();
        git(dir.path(), &["tag", "v1.0.0"]);
        let head = commit(dir.path(), "feat: pr work");
        // Stand-in for the merge commit GitHub checks out.
        git(dir.path(), &["checkout", "-q", "-b", "merge", "v1.0.0"]);
        let merge = commit(dir.path(), "Merge abc into def");
        assert_ne!(merge, head);
        let event = dir.path().join("event.json");
        std::fs::write(&event, format!(r#"{{"pull_request": {{"head": {{"sha": "{head}"}}}}}}"#)).unwrap();
        // The event file lives in the work tree here; tell git to ignore it so the tree stays clean.
        std::fs::write(dir.path().join(".git/info/exclude"), "event.json\n").unwrap();
        let github = GithubEvent { name: Some("pull_request".into()), path: Some(event) };
        let tree = Repo::snapshot(dir.path(), "v").unwrap();
        let request = Request { explicit: None, allow_dirty: false, notes: true };
        let release = resolve_at(&tree, request, &github, &[], NOW).unwrap().release;
        assert_eq!(release.commit, head);
        assert_eq!(release.version, Version::new(1, 1, 0));
        assert_eq!(release.sha_tag(), format!("sha-{}", &head[..12]));
    }

    #[test]
    fn pull_request_event_without_a_head_is_an_error() {
        let dir = repo();
        let event = dir.path().join("event.json");
        std::fs::write(&event, r#"{"pull_request": {}}"#).unwrap();
        let github = GithubEvent { name: Some("pull_request_target".into()), path: Some(event) };
        let err = github.pull_request_head().unwrap_err();
        assert!(err.to_string().contains("has no pull_request.head.sha"), "{err}");
        let push = GithubEvent { name: Some("push".into()), path: None };
        assert_eq!(push.pull_request_head().unwrap(), None);
    }

    fn ecr(version: &str, commit: Option<&str>) -> Released {
        Released {
            version: Version::parse(version).unwrap(),
            commit: commit.map(str::to_owned),
            source: Source::Registry { repository: "web".into() },
        }
    }

    fn resolve_with(dir: &Path, explicit: Option<&str>, registry: &[Released]) -> Result<Resolution, VersionError> {
        let request = Request { explicit, allow_dirty: false, notes: true };
        resolve_at(&Repo::snapshot(dir, "v")?, request, &GithubEvent::default(), registry, NOW)
    }

    #[test]
    fn releases_in_ecr_advance_the_version_without_git_tags() {
        let dir = repo();
        let first = commit(dir.path(), "feat: a");
        // The registry names the commit by its sha tag (12 hex), resolved in the clone.
        let registry = [ecr("0.1.0", Some(&first[..12]))];
        assert_eq!(resolve_with(dir.path(), None, &registry).unwrap().release.version, Version::new(0, 1, 0));
        let second = commit(dir.path(), "fix: b");
        let resolved = resolve_with(dir.path(), None, &registry).unwrap();
        assert_eq!(resolved.release.version, Version::new(0, 1, 1));
        assert_eq!(resolved.previous.as_ref().and_then(|p| p.commit.as_deref()), Some(first.as_str()));
        assert_eq!(resolved.commits, vec![Commit { hash: second, message: "fix: b".into() }]);
    }

    #[test]
    fn the_commits_are_read_only_when_the_version_or_the_notes_need_them() {
        let dir = repo();
        let first = commit(dir.path(), "feat: a");
        let second = commit(dir.path(), "fix: b");
        let registry = [ecr("0.1.0", Some(&first[..12]))];
        let tree = Repo::snapshot(dir.path(), "v").unwrap();
        let resolve = |explicit, notes| {
            let request = Request { explicit, allow_dirty: false, notes };
            resolve_at(&tree, request, &GithubEvent::default(), &registry, NOW).unwrap()
        };
        let since = vec![Commit { hash: second, message: "fix: b".into() }];
        // A computed version is bumped by the commits since the previous release, notes or not.
        assert_eq!(resolve(None, false).commits, since);
        // `--version` and no notes wanted (a push): git's log is not read.
        assert_eq!(resolve(Some("0.2.0"), false).commits, []);
        assert_eq!(resolve(Some("0.2.0"), true).commits, since);
    }

    #[test]
    fn an_explicit_release_in_ecr_is_the_base_of_the_next_one() {
        // The issue: after `--version 1.0.0`, the next automatic version was 0.1.0.
        let dir = repo();
        let released = commit(dir.path(), "feat: a");
        commit(dir.path(), "feat: b");
        let registry = [ecr("1.0.0", Some(&released))];
        assert_eq!(resolve_with(dir.path(), None, &registry).unwrap().release.version, Version::new(1, 1, 0));
    }

    #[test]
    fn a_lower_version_than_in_ecr_is_refused_naming_the_release() {
        let dir = repo();
        let released = commit(dir.path(), "feat: a");
        commit(dir.path(), "fix: b");
        let registry = [ecr("1.2.0", Some(&released[..12]))];
        let err = resolve_with(dir.path(), Some("1.1.0"), &registry).unwrap_err();
        assert_eq!(err.to_string(), "version 1.1.0 is lower than the latest release v1.2.0");
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains(&format!("ECR web:v1.2.0 on commit {}", &released[..12])), "{help}");
        assert!(matches!(crate::Error::from(err).exit_code(), crate::ExitCode::Usage));
    }

    #[test]
    fn the_same_release_of_the_same_commit_may_run_again_below_the_latest() {
        // Production catching up with a version staging released before a newer one.
        let dir = repo();
        let older = commit(dir.path(), "feat: a");
        let newer = commit(dir.path(), "feat: b");
        git(dir.path(), &["checkout", "-q", &older]);
        let registry = [ecr("0.1.0", Some(&older)), ecr("0.2.0", Some(&newer))];
        let resolved = resolve_with(dir.path(), Some("0.1.0"), &registry).unwrap();
        assert_eq!(resolved.release.version, Version::new(0, 1, 0));
        assert_eq!(resolve_with(dir.path(), None, &registry).unwrap().release.version, Version::new(0, 1, 0));
    }

    #[test]
    fn a_computed_version_not_above_an_unreachable_release_is_refused() {
        let dir = repo();
        let base = commit(dir.path(), "feat: a");
        git(dir.path(), &["checkout", "-q", "-b", "other"]);
        let other = commit(dir.path(), "feat: elsewhere");
        git(dir.path(), &["checkout", "-q", "main"]);
        commit(dir.path(), "fix: here");
        let registry = [ecr("0.1.0", Some(&base)), ecr("0.2.0", Some(&other)), ecr("0.5.0", None)];
        let err = resolve_with(dir.path(), None, &registry).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the commits since v0.1.0 make version 0.1.1, which is not above the release v0.5.0 (ECR web:v0.5.0, commit unknown)"
        );
        // An explicit version above everything is fine.
        assert_eq!(resolve_with(dir.path(), Some("0.6.0"), &registry).unwrap().release.version, Version::new(0, 6, 0));
    }

    #[test]
    fn git_tags_and_ecr_tags_count_together() {
        let dir = repo();
        git(dir.path(), &["tag", "v1.0.0"]);
        let second = commit(dir.path(), "feat: a");
        commit(dir.path(), "perf: b");
        // ECR knows a newer release than the clone's tags.
        let registry = [ecr("1.1.0", Some(&second[..12]))];
        let resolved = resolve_with(dir.path(), None, &registry).unwrap();
        assert_eq!(resolved.release.version, Version::new(1, 1, 1));
        assert_eq!(resolved.previous.map(|p| p.version), Some(Version::new(1, 1, 0)));
    }
}
