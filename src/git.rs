//! The few git facts a release needs, read through the `git` CLI (the user's own git: same config, same auth, same
//! safe.directory rules as their other tools).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

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
        match repo.run(&["rev-parse", "--is-inside-work-tree"]) {
            Ok(out) if out.trim() == "true" => Ok(repo),
            Ok(_) => Err(GitError::NotARepository { dir: dir.to_path_buf() }),
            Err(GitError::Failed { stderr, .. }) if stderr.contains("not a git repository") => {
                Err(GitError::NotARepository { dir: dir.to_path_buf() })
            }
            Err(e) => Err(e),
        }
    }

    /// The full hash of HEAD.
    pub fn head(&self) -> Result<String, GitError> {
        self.commit("HEAD")
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

    /// Tags whose names start with `prefix`, with the commits they point at.
    pub fn tags(&self, prefix: &str) -> Result<Vec<Tag>, GitError> {
        let pattern = format!("refs/tags/{prefix}*");
        // %(*objectname) is the peeled commit of an annotated tag, empty for a lightweight one.
        let out =
            self.run(&["for-each-ref", "--format=%(refname:short)%09%(objectname)%09%(*objectname)", &pattern])?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let name = fields.next()?.to_string();
                let object = fields.next()?;
                let peeled = fields.next().unwrap_or_default();
                let commit = if peeled.is_empty() { object } else { peeled };
                Some(Tag { name, commit: commit.to_string() })
            })
            .collect())
    }

    /// Full messages (subject and body) of the commits reachable from `to` but not from `from`, newest first.
    pub fn messages(&self, from: Option<&str>, to: &str) -> Result<Vec<String>, GitError> {
        let range = match from {
            Some(from) => format!("{from}..{to}"),
            None => to.to_string(),
        };
        // NUL-separated: messages contain newlines.
        let out = self.run(&["log", "--format=%B%x00", &range])?;
        Ok(out.split('\0').map(str::trim).filter(|m| !m.is_empty()).map(str::to_string).collect())
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

    /// A shallow clone (CI's default `fetch-depth: 1`) lacks the history and tags a version is computed from.
    pub fn is_shallow(&self) -> Result<bool, GitError> {
        Ok(self.run(&["rev-parse", "--is-shallow-repository"])?.trim() == "true")
    }

    /// Paths with uncommitted changes, untracked files included.
    pub fn dirty_paths(&self) -> Result<Vec<String>, GitError> {
        let out = self.run(&["status", "--porcelain", "--untracked-files=normal"])?;
        // Porcelain v1 lines are "XY path"; the status letters are not needed, only which paths.
        Ok(out.lines().filter_map(|l| l.get(3..)).map(str::to_string).collect())
    }

    /// The text of `path` (relative to the repository's directory) at `rev`; `None` when it did not exist there.
    pub fn show(&self, rev: &str, path: &str) -> Result<Option<String>, GitError> {
        if self.run(&["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]).is_err() {
            return Ok(None);
        }
        Ok(self.run(&["show", &format!("{rev}:./{path}")]).ok())
    }

    fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            // Paths as they are, not octal-escaped, in messages.
            .args(["-c", "core.quotepath=off"])
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => GitError::NotInstalled,
                _ => GitError::Failed { command: format!("git {}", args.join(" ")), stderr: e.to_string() },
            })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(GitError::Failed {
                command: format!("git {}", args.join(" ")),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }
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
    fn reads_head_tags_messages_and_dirt() {
        let dir = repo();
        let first = commit(dir.path(), "feat: one\n\nbody line");
        git(dir.path(), &["tag", "v1.0.0"]);
        git(dir.path(), &["tag", "-a", "v1.1.0-rc.1", "-m", "annotated"]);
        let second = commit(dir.path(), "fix: two");
        let repo = Repo::open(dir.path()).unwrap();
        assert_eq!(repo.head().unwrap(), second);
        assert_eq!(repo.head().unwrap().len(), 40);
        let mut tags = repo.tags("v").unwrap();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(tags[0], Tag { name: "v1.0.0".into(), commit: first.clone() });
        // The annotated tag is peeled to its commit.
        assert_eq!(tags[1], Tag { name: "v1.1.0-rc.1".into(), commit: first });
        assert_eq!(repo.messages(Some("v1.0.0"), "HEAD").unwrap(), vec!["fix: two"]);
        assert_eq!(
            repo.commits(Some("v1.0.0"), "HEAD").unwrap(),
            vec![Commit { hash: second.clone(), message: "fix: two".into() }]
        );
        assert!(repo.is_ancestor(&tags[0].commit, &second).unwrap());
        assert!(!repo.is_ancestor(&second, &tags[0].commit).unwrap());
        assert!(repo.dirty_paths().unwrap().is_empty());
        std::fs::write(dir.path().join("new.txt"), "x").unwrap();
        assert_eq!(repo.dirty_paths().unwrap(), vec!["new.txt"]);
    }

    #[test]
    fn shallow_clones_are_detected() {
        let origin = repo();
        commit(origin.path(), "feat: two");
        assert!(!Repo::open(origin.path()).unwrap().is_shallow().unwrap());
        let clone = tempfile::tempdir().unwrap();
        let url = format!("file://{}", origin.path().display());
        git(clone.path(), &["clone", "-q", "--depth", "1", &url, "."]);
        assert!(Repo::open(clone.path()).unwrap().is_shallow().unwrap());
    }

    #[test]
    fn not_a_repository_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Repo::open(dir.path()).unwrap_err();
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
        assert!(err.to_string().contains("is not inside a git repository"), "{err}");
    }

    #[test]
    fn unknown_commit_is_named() {
        let dir = repo();
        let err = Repo::open(dir.path()).unwrap().commit(&"a".repeat(40)).unwrap_err();
        assert!(matches!(err, GitError::UnknownCommit { .. }), "{err:?}");
    }
}
