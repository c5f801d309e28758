//! What was released before: `v*` git tags and the registry's `v*` tags, each with the commit it was
//! released from when that is known. The decisions here are pure; git and ECR supply the facts.

use std::fmt;

use semver::Version;

/// One release someone made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Released {
    pub version: Version,
    /// The full commit hash; `None` when the release does not say, or names a commit this clone lacks.
    pub commit: Option<String>,
    pub source: Source,
}

/// Where a release was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    GitTag,
    /// A `v*` tag in the ECR repository.
    Registry {
        repository: String,
    },
}

impl fmt::Display for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::GitTag => write!(f, "git tag v{}", self.version)?,
            Source::Registry { repository } => write!(f, "ECR {repository}:v{}", self.version)?,
        }
        match &self.commit {
            Some(commit) => write!(f, " on commit {}", short(commit)),
            None => f.write_str(", commit unknown"),
        }
    }
}

/// The first 12 hex digits, as the `sha-` tags show a commit.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// A final release (pre-releases such as dirty builds never count as "released").
fn is_final(r: &Released) -> bool {
    r.version.pre.is_empty()
}

/// The newest final release, wherever it came from.
pub fn newest(releases: &[Released]) -> Option<&Released> {
    releases.iter().filter(|r| is_final(r)).max_by(|a, b| a.version.cmp(&b.version))
}

/// The newest final release of exactly `commit`: releasing that commit again is that release.
pub fn of_commit<'a>(releases: &'a [Released], commit: &str) -> Option<&'a Released> {
    releases
        .iter()
        .filter(|r| is_final(r) && r.commit.as_deref() == Some(commit))
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// The newest final release whose commit `reachable` says HEAD contains: the base the commits since
/// it are counted from. Asks in descending version order and stops at the first yes.
pub fn base<E>(
    releases: &[Released],
    mut reachable: impl FnMut(&str) -> Result<bool, E>,
) -> Result<Option<&Released>, E> {
    let mut candidates: Vec<&Released> = releases.iter().filter(|r| is_final(r) && r.commit.is_some()).collect();
    candidates.sort_by(|a, b| b.version.cmp(&a.version));
    for candidate in candidates {
        if let Some(commit) = &candidate.commit
            && reachable(commit)?
        {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Merges releases found twice (a git tag and an ECR tag of one version): the one that knows its
/// commit wins, then the git tag.
pub fn merge(mut releases: Vec<Released>) -> Vec<Released> {
    releases.sort_by(|a, b| {
        a.version
            .cmp(&b.version)
            .then(b.commit.is_some().cmp(&a.commit.is_some()))
            .then((a.source != Source::GitTag).cmp(&(b.source != Source::GitTag)))
    });
    releases.dedup_by(|later, kept| {
        later.version == kept.version && (later.commit == kept.commit || later.commit.is_none())
    });
    releases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(v: &str, commit: Option<&str>, source: Source) -> Released {
        Released { version: Version::parse(v).unwrap(), commit: commit.map(str::to_owned), source }
    }

    fn ecr() -> Source {
        Source::Registry { repository: "web".into() }
    }

    #[test]
    fn the_base_is_the_newest_reachable_release() {
        let releases = vec![
            rel("1.0.0", Some("a"), Source::GitTag),
            rel("1.1.0", Some("b"), ecr()),
            rel("2.0.0", Some("z"), ecr()), // on another branch
            rel("3.0.0", None, ecr()),      // commit unknown
            rel("9.0.0-dirty.1", Some("b"), ecr()),
        ];
        let mut asked = Vec::new();
        let base = base(&releases, |c: &str| {
            asked.push(c.to_owned());
            Ok::<_, ()>(c != "z")
        })
        .unwrap();
        assert_eq!(base.map(|r| r.version.to_string()), Some("1.1.0".into()));
        assert_eq!(asked, ["z", "b"], "newest first, stopping at the first reachable one");
        assert_eq!(newest(&releases).map(|r| r.version.to_string()), Some("3.0.0".into()));
        assert_eq!(of_commit(&releases, "b").map(|r| r.version.to_string()), Some("1.1.0".into()));
        assert_eq!(of_commit(&releases, "c"), None);
    }

    #[test]
    fn a_release_found_twice_is_kept_once_with_its_commit() {
        let merged = merge(vec![
            rel("1.0.0", None, ecr()),
            rel("1.0.0", Some("a"), Source::GitTag),
            rel("1.0.0", Some("a"), ecr()),
            rel("0.9.0", Some("x"), ecr()),
        ]);
        assert_eq!(merged, vec![rel("0.9.0", Some("x"), ecr()), rel("1.0.0", Some("a"), Source::GitTag)]);
    }

    #[test]
    fn releases_say_where_they_come_from() {
        let r = rel("1.2.0", Some("0123456789abcdef0123456789abcdef01234567"), ecr());
        assert_eq!(r.to_string(), "ECR web:v1.2.0 on commit 0123456789ab");
        assert_eq!(rel("1.2.0", None, Source::GitTag).to_string(), "git tag v1.2.0, commit unknown");
    }
}
