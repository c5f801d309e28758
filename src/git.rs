//! The few git facts a release needs, read through the `git` CLI (the user's own git: same config, same auth, same
//! safe.directory rules as their other tools).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a git fact could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GitError {
    #[error("git is not installed (or not on PATH)")]
    #[diagnostic(code(pipeline::git), help("install git; pipeline reads the commit, tags and history through it"))]
    NotInstalled,

    #[error("{} is not inside a git repository", dir.display())]
    #[diagnostic(
        code(pipeline::git),
        help("run pipeline from the service's git checkout (with actions/checkout, keep the default .git directory)")
    )]
    NotARepository { dir: PathBuf },

    #[error("commit {commit} is not in this clone")]
    #[diagnostic(
        code(pipeline::git),
        help("fetch the full history and tags, e.g. actions/checkout with `fetch-depth: 0`")
    )]
    UnknownCommit { commit: String },

    #[error("`{command}` failed: {stderr}")]
    #[diagnostic(code(pipeline::git))]
    Failed { command: String, stderr: String },
}

/// A tag that names a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    /// The commit the tag points at (annotated tags peeled).
    pub commit: String,
}

/// A commit and its full message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Commit {
    pub hash: String,
    pub message: String,
}

/// A git work tree.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
}

impl Repo {
    /// Opens the repository containing `dir`, checking first that git runs and that `dir` is in a work tree.
    pub fn open(dir: &Path) -> Result<Repo, GitError> {
        let repo = Repo { dir: dir.to_path_buf() };
        let out = repo.run(&["rev-parse", "--is-inside-work-tree"]);
        repo.in_work_tree(out).map(|_| repo)
    }

    /// What a release reads of the work tree, read at once by three git processes running side by side
    /// (one after the other they were most of a re-release's time): HEAD, the uncommitted paths, whether
    /// the clone is shallow, and the tags starting with `tag_prefix`.
    pub fn snapshot(dir: &Path, tag_prefix: &str) -> Result<Snapshot, GitError> {
        let repo = Repo { dir: dir.to_path_buf() };
        let pattern = format!("refs/tags/{tag_prefix}*");
        let facts = repo.spawn(&["rev-parse", "--is-inside-work-tree", "--is-shallow-repository"])?;
        // -z: paths as they are (no quoting), renames as two records.
        let status = repo.spawn(&["status", "--porcelain=v2", "--branch", "-z", "--untracked-files=normal"])?;
        let tags = repo.spawn(&["for-each-ref", TAG_FORMAT, &pattern])?;
        let facts = repo.in_work_tree(Repo::finish(facts))?;
        let (head, dirty) = parse_status(&Repo::finish(status)?);
        Ok(Snapshot {
            shallow: facts.lines().nth(1) == Some("true"),
            head,
            dirty,
            tags: parse_tags(&Repo::finish(tags)?),
            repo,
        })
    }

    /// `rev-parse --is-inside-work-tree` (and what follows it) as an answer: the output, or why `dir` is no work tree.
    fn in_work_tree(&self, out: Result<String, GitError>) -> Result<String, GitError> {
        match out {
            Ok(out) if out.lines().next() == Some("true") => Ok(out),
            Ok(_) => Err(GitError::NotARepository { dir: self.dir.clone() }),
            Err(GitError::Failed { stderr, .. }) if stderr.contains("not a git repository") => {
                Err(GitError::NotARepository { dir: self.dir.clone() })
            }
            Err(e) => Err(e),
        }
    }

    /// The full hash of the commit `rev` names; `UnknownCommit` when this clone does not have it.
    pub fn commit(&self, rev: &str) -> Result<String, GitError> {
        let spec = format!("{rev}^{{commit}}");
        match self.run(&["rev-parse", "--verify", "--quiet", &spec]) {
            Ok(out) => Ok(out.trim().to_string()),
            Err(GitError::Failed { .. }) => Err(GitError::UnknownCommit { commit: rev.to_string() }),
            Err(e) => Err(e),
        }
    }

    /// The full hashes of the commits `revs` name (abbreviated hashes, say), in one git process; `None` for
    /// one this clone does not have (or that is ambiguous, or names no commit).
    pub fn full_commits(&self, revs: &[&str]) -> Result<Vec<Option<String>>, GitError> {
        use std::io::Write;
        if revs.is_empty() {
            return Ok(Vec::new());
        }
        let args = ["cat-file", "--batch-check=%(objectname)"];
        let mut child = self.command(&args).stdin(Stdio::piped()).spawn().map_err(|e| spawn_error(&args, e))?;
        let input: String = revs.iter().map(|rev| format!("{rev}^{{commit}}\n")).collect();
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Written from a thread: git answers line by line and could fill its stdout before reading all of stdin.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = Repo::finish(Running { child, command: format!("git {}", args.join(" ")) });
        let _ = writer.join();
        // One line per input: the hash, or "<input> missing" / "<input> ambiguous".
        Ok(out?.lines().map(|line| is_full_hash(line).then(|| line.to_owned())).collect())
    }

    /// The commits reachable from `to` but not from `from`, newest first, with their full messages.
    pub fn commits(&self, from: Option<&str>, to: &str) -> Result<Vec<Commit>, GitError> {
        let range = match from {
            Some(from) => format!("{from}..{to}"),
            None => to.to_string(),
        };
        // NUL ends each record, the first newline ends the hash: messages contain newlines.
        let out = self.run(&["log", "--format=%H%n%B%x00", &range])?;
        Ok(out
            .split('\0')
            .filter_map(|record| {
                let (hash, message) = record.trim_start().split_once('\n')?;
                Some(Commit { hash: hash.trim().to_string(), message: message.trim().to_string() })
            })
            .filter(|c| !c.hash.is_empty())
            .collect())
    }

    /// Whether `ancestor` is `commit` or one of its ancestors (`git merge-base --is-ancestor`).
    pub fn is_ancestor(&self, ancestor: &str, commit: &str) -> Result<bool, GitError> {
        match self.run(&["merge-base", "--is-ancestor", ancestor, commit]) {
            Ok(_) => Ok(true),
            // Exit 1 with nothing on stderr is git's "no"; anything else (an unknown object) is not an answer.
            Err(GitError::Failed { stderr, .. }) if stderr.is_empty() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The text of `path` (relative to the repository's directory) at `rev`; `None` when it did not exist there.
    pub fn show(&self, rev: &str, path: &str) -> Result<Option<String>, GitError> {
        if self.run(&["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]).is_err() {
            return Ok(None);
        }
        Ok(self.run(&["show", &format!("{rev}:./{path}")]).ok())
    }

    fn run(&self, args: &[&str]) -> Result<String, GitError> {
        Repo::finish(self.spawn(args)?)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            // Paths as they are, not octal-escaped, in messages.
            .args(["-c", "core.quotepath=off"])
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Starts git without waiting for it, so several can run at once.
    fn spawn(&self, args: &[&str]) -> Result<Running, GitError> {
        let child = self.command(args).spawn().map_err(|e| spawn_error(args, e))?;
        Ok(Running { child, command: format!("git {}", args.join(" ")) })
    }

    /// Waits for a git started by [`Repo::spawn`]: its output, or its error.
    fn finish(Running { child, command }: Running) -> Result<String, GitError> {
        let output = child
            .wait_with_output()
            .map_err(|e| GitError::Failed { command: command.clone(), stderr: e.to_string() })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(GitError::Failed { command, stderr: String::from_utf8_lossy(&output.stderr).trim().to_string() })
        }
    }
}

/// A git process started and not yet waited for.
struct Running {
    child: std::process::Child,
    command: String,
}

fn spawn_error(args: &[&str], e: std::io::Error) -> GitError {
    match e.kind() {
        ErrorKind::NotFound => GitError::NotInstalled,
        _ => GitError::Failed { command: format!("git {}", args.join(" ")), stderr: e.to_string() },
    }
}

/// The work tree as a release reads it: see [`Repo::snapshot`].
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub repo: Repo,
    /// HEAD's full hash; `None` before the first commit.
    pub head: Option<String>,
    /// Paths with uncommitted changes, untracked files included.
    pub dirty: Vec<String>,
    /// A shallow clone (CI's default `fetch-depth: 1`) lacks the history and tags a version is computed from.
    pub shallow: bool,
    pub tags: Vec<Tag>,
}

impl Snapshot {
    /// HEAD's full hash, or why there is none.
    pub fn head(&self) -> Result<&str, GitError> {
        self.head.as_deref().ok_or_else(|| GitError::UnknownCommit { commit: "HEAD".into() })
    }
}

/// %(*objectname) is the peeled commit of an annotated tag, empty for a lightweight one.
const TAG_FORMAT: &str = "--format=%(refname:short)%09%(objectname)%09%(*objectname)";

fn parse_tags(out: &str) -> Vec<Tag> {
    out.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.to_string();
            let object = fields.next()?;
            let peeled = fields.next().unwrap_or_default();
            let commit = if peeled.is_empty() { object } else { peeled };
            Some(Tag { name, commit: commit.to_string() })
        })
        .collect()
}

/// `git status --porcelain=v2 --branch -z`: HEAD (`# branch.oid`, "(initial)" before the first commit) and the
/// changed paths. Entries are "1 XY sub mH mI mW hH hI path", "2 … X<score> path" followed by the original path
/// as a record of its own, "u … h1 h2 h3 path", "? path" and "! path".
fn parse_status(out: &str) -> (Option<String>, Vec<String>) {
    let (mut head, mut dirty) = (None, Vec::new());
    let mut records = out.split('\0');
    while let Some(record) = records.next() {
        if let Some(oid) = record.strip_prefix("# branch.oid ") {
            head = is_full_hash(oid).then(|| oid.to_owned());
            continue;
        }
        let path = match record.split_once(' ') {
            Some(("1", rest)) => rest.splitn(8, ' ').nth(7),
            Some(("2", rest)) => {
                let path = rest.splitn(9, ' ').nth(8);
                records.next();
                path
            }
            Some(("u", rest)) => rest.splitn(10, ' ').nth(9),
            Some(("?" | "!", path)) => Some(path),
            _ => None,
        };
        dirty.extend(path.map(str::to_owned));
    }
    (head, dirty)
}

fn is_full_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Helpers to build real repositories in tests, shared with `version`'s tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;
    use std::process::Command;

    /// Runs git in `dir` with a fixed identity and dates set on the command, never in the global environment.
    pub fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// A fresh repository with one commit.
    pub fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["init", "-q", "-b", "main"]);
        commit(dir.path(), "chore: initial");
        dir
    }

    /// An empty commit with `message`; returns its hash.
    pub fn commit(dir: &Path, message: &str) -> String {
        git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
        git(dir, &["rev-parse", "HEAD"])
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{commit, git, repo};
    use super::*;

    #[test]
    fn a_snapshot_reads_head_tags_and_dirt() {
        let dir = repo();
        let first = commit(dir.path(), "feat: one\n\nbody line");
        git(dir.path(), &["tag", "v1.0.0"]);
        git(dir.path(), &["tag", "-a", "v1.1.0-rc.1", "-m", "annotated"]);
        git(dir.path(), &["tag", "other"]);
        let second = commit(dir.path(), "fix: two");
        let tree = Repo::snapshot(dir.path(), "v").unwrap();
        assert_eq!(tree.head().unwrap(), second);
        let mut tags = tree.tags.clone();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        // Only the prefix's tags; the annotated one is peeled to its commit.
        assert_eq!(
            tags,
            [
                Tag { name: "v1.0.0".into(), commit: first.clone() },
                Tag { name: "v1.1.0-rc.1".into(), commit: first.clone() }
            ]
        );
        assert!(!tree.shallow);
        assert!(tree.dirty.is_empty());
        let repo = &tree.repo;
        assert_eq!(
            repo.commits(Some("v1.0.0"), "HEAD").unwrap(),
            vec![Commit { hash: second.clone(), message: "fix: two".into() }]
        );
        assert!(repo.is_ancestor(&first, &second).unwrap());
        assert!(!repo.is_ancestor(&second, &first).unwrap());
    }

    #[test]
    fn dirty_paths_are_named_as_they_are() {
        let dir = repo();
        std::fs::write(dir.path().join("tracked.txt"), "1").unwrap();
        std::fs::write(dir.path().join("old name.txt"), "1").unwrap();
        git(dir.path(), &["add", "-A"]);
        commit(dir.path(), "chore: files");
        std::fs::write(dir.path().join("tracked.txt"), "2").unwrap();
        git(dir.path(), &["mv", "old name.txt", "new name.txt"]);
        std::fs::write(dir.path().join("untracked é.txt"), "x").unwrap();
        let mut dirty = Repo::snapshot(dir.path(), "v").unwrap().dirty;
        dirty.sort();
        assert_eq!(dirty, ["new name.txt", "tracked.txt", "untracked é.txt"]);
    }

    #[test]
    fn a_repository_without_commits_has_no_head() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        let tree = Repo::snapshot(dir.path(), "v").unwrap();
        assert_eq!(tree.head, None);
        assert!(matches!(tree.head(), Err(GitError::UnknownCommit { .. })));
    }

    #[test]
    fn abbreviated_commits_are_resolved_together() {
        let dir = repo();
        let first = commit(dir.path(), "feat: one");
        let second = commit(dir.path(), "fix: two");
        let repo = Repo::open(dir.path()).unwrap();
        let blob = git(dir.path(), &["hash-object", "-w", "--stdin"]);
        let asked = repo.full_commits(&[&second[..12], "0123456789ab", &first[..12], &blob[..12]]).unwrap();
        assert_eq!(asked, [Some(second), None, Some(first), None]);
        assert!(repo.full_commits(&[]).unwrap().is_empty());
    }

    #[test]
    fn not_a_repository_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Repo::open(dir.path()).unwrap_err();
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
        assert!(err.to_string().contains("is not inside a git repository"), "{err}");
        let err = Repo::snapshot(dir.path(), "v").unwrap_err();
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
    }

    #[test]
    fn unknown_commit_is_named() {
        let dir = repo();
        let err = Repo::open(dir.path()).unwrap().commit(&"a".repeat(40)).unwrap_err();
        assert!(matches!(err, GitError::UnknownCommit { .. }), "{err:?}");
    }
}
