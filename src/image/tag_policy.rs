//! Which tags may move in a repository, and what that means for a release (REFERENCE 1.1): version
//! and commit tags must be immutable, moving tags (`latest`, opted in by config) must be excluded from
//! immutability, and a moving tag only ever follows the newest verified release. Pure decisions.

use std::fmt;

use semver::Version;

/// ECR's `imageTagMutability` with its exclusion filters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mutability {
    pub mode: Mode,
    /// WILDCARD filters of the `*_WITH_EXCLUSION` modes (`*` matches any run of characters).
    pub exclusions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Mutable,
    Immutable,
    ImmutableWithExclusion,
    MutableWithExclusion,
}

impl Mode {
    pub fn parse(s: &str) -> Self {
        match s {
            "IMMUTABLE" => Mode::Immutable,
            "IMMUTABLE_WITH_EXCLUSION" => Mode::ImmutableWithExclusion,
            "MUTABLE_WITH_EXCLUSION" => Mode::MutableWithExclusion,
            // ECR's default.
            _ => Mode::Mutable,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Mutable => "MUTABLE",
            Mode::Immutable => "IMMUTABLE",
            Mode::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
            Mode::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
        }
    }
}

impl fmt::Display for Mutability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mode.as_str())?;
        if !self.exclusions.is_empty() {
            write!(f, " (excluding {})", self.exclusions.join(", "))?;
        }
        Ok(())
    }
}

impl Mutability {
    /// What the tool creates a repository with: IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION of exactly the
    /// moving tags.
    pub fn for_new_repository(moving: &[String]) -> Self {
        if moving.is_empty() {
            Mutability { mode: Mode::Immutable, exclusions: Vec::new() }
        } else {
            Mutability { mode: Mode::ImmutableWithExclusion, exclusions: moving.to_vec() }
        }
    }

    /// Whether `tag`, once it exists, cannot be moved to another image.
    pub fn is_immutable(&self, tag: &str) -> bool {
        let excluded = || self.exclusions.iter().any(|f| wildcard_match(f, tag));
        match self.mode {
            Mode::Mutable => false,
            Mode::Immutable => true,
            Mode::ImmutableWithExclusion => !excluded(),
            Mode::MutableWithExclusion => excluded(),
        }
    }
}

/// What the repository's mode means for this release's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every tag behaves as it should.
    Fine,
    /// Version or commit tags could be overwritten by anyone: say so; pipeline still never
    /// overwrites one and reads every tag back.
    Overwritable { tags: Vec<String> },
}

/// A moving tag that the repository would refuse to move, with the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub tags: Vec<String>,
    pub fix: String,
}

/// Checks the repository's mode against the release's immutable and moving tags.
pub fn check(
    repository: &str,
    mutability: &Mutability,
    immutable: &[String],
    moving: &[String],
) -> Result<Verdict, Refusal> {
    let stuck: Vec<String> = moving.iter().filter(|t| mutability.is_immutable(t)).cloned().collect();
    if !stuck.is_empty() {
        return Err(Refusal { tags: stuck, fix: fix_command(repository, mutability, moving) });
    }
    let loose: Vec<String> = immutable.iter().filter(|t| !mutability.is_immutable(t)).cloned().collect();
    Ok(if loose.is_empty() { Verdict::Fine } else { Verdict::Overwritable { tags: loose } })
}

/// `aws ecr put-image-tag-mutability` that keeps every other tag immutable and lets the moving tags move
/// (the filters an IMMUTABLE_WITH_EXCLUSION repository already has are kept).
pub fn fix_command(repository: &str, mutability: &Mutability, moving: &[String]) -> String {
    let mut filters: Vec<String> =
        if mutability.mode == Mode::ImmutableWithExclusion { mutability.exclusions.clone() } else { Vec::new() };
    for tag in moving {
        if !filters.iter().any(|f| wildcard_match(f, tag)) {
            filters.push(tag.clone());
        }
    }
    let filters: Vec<String> = filters.iter().map(|f| format!("filterType=WILDCARD,filter={f}")).collect();
    format!(
        "aws ecr put-image-tag-mutability --repository-name {repository} --image-tag-mutability IMMUTABLE_WITH_EXCLUSION \
         --image-tag-mutability-exclusion-filters {}",
        filters.join(" ")
    )
}

/// Whether a moving tag goes to the release `ours`, given the versions of the image it names now
/// (`None`: the tag does not exist). It follows the newest verified release: never backwards, so a
/// re-release or a promotion of an older version leaves it where it is.
pub fn moves_to(ours: &Version, current: Option<&[Version]>) -> bool {
    match current {
        None => true,
        Some(versions) => versions.iter().filter(|v| v.pre.is_empty()).max().is_none_or(|newest| ours >= newest),
    }
}

/// `*` matches any run of characters, everything else matches itself (ECR's WILDCARD filter).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else { return false };
            // Try every split point for the rest of the pattern (patterns are short: at most 128 characters).
            (0..=tail.len()).filter(|i| tail.is_char_boundary(*i)).any(|i| wildcard_match(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(mode: Mode, exclusions: &[&str]) -> Mutability {
        Mutability { mode, exclusions: exclusions.iter().map(|s| s.to_string()).collect() }
    }

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_match_like_ecr_exclusion_filters() {
        assert!(wildcard_match("latest", "latest"));
        assert!(!wildcard_match("latest", "latest2"));
        assert!(wildcard_match("dev-*", "dev-123"));
        assert!(wildcard_match("*", "v1.0.0"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn a_new_repository_excludes_exactly_the_moving_tags() {
        assert_eq!(Mutability::for_new_repository(&[]), m(Mode::Immutable, &[]));
        let created = Mutability::for_new_repository(&tags(&["latest"]));
        assert_eq!(created, m(Mode::ImmutableWithExclusion, &["latest"]));
        assert!(created.is_immutable("v1.0.0") && created.is_immutable("sha-0123456789ab"));
        assert!(!created.is_immutable("latest"));
    }

    #[test]
    fn an_immutable_repository_without_the_exclusion_is_refused_with_the_fix() {
        let immutable = tags(&["v1.0.0", "sha-0123456789ab"]);
        let moving = tags(&["latest"]);
        let refusal = check("web", &m(Mode::Immutable, &[]), &immutable, &moving).unwrap_err();
        assert_eq!(refusal.tags, moving);
        assert_eq!(
            refusal.fix,
            "aws ecr put-image-tag-mutability --repository-name web --image-tag-mutability IMMUTABLE_WITH_EXCLUSION \
             --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest"
        );
        // Existing filters are kept.
        let refusal = check("web", &m(Mode::ImmutableWithExclusion, &["dev-*"]), &immutable, &moving).unwrap_err();
        assert!(refusal.fix.ends_with("filterType=WILDCARD,filter=dev-* filterType=WILDCARD,filter=latest"));
        // MUTABLE_WITH_EXCLUSION makes the excluded tags write-once.
        assert!(check("web", &m(Mode::MutableWithExclusion, &["lat*"]), &immutable, &moving).is_err());
        assert_eq!(check("web", &m(Mode::ImmutableWithExclusion, &["latest"]), &immutable, &moving), Ok(Verdict::Fine));
    }

    #[test]
    fn tags_that_anyone_could_overwrite_are_named() {
        let immutable = tags(&["v1.0.0", "sha-0123456789ab"]);
        assert_eq!(
            check("web", &m(Mode::Mutable, &[]), &immutable, &[]),
            Ok(Verdict::Overwritable { tags: immutable.clone() })
        );
        assert_eq!(
            check("web", &m(Mode::ImmutableWithExclusion, &["v*"]), &immutable, &[]),
            Ok(Verdict::Overwritable { tags: tags(&["v1.0.0"]) })
        );
        assert_eq!(check("web", &m(Mode::MutableWithExclusion, &["v*", "sha-*"]), &immutable, &[]), Ok(Verdict::Fine));
    }

    #[test]
    fn a_moving_tag_only_follows_newer_releases() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(moves_to(&v("1.0.0"), None));
        assert!(moves_to(&v("1.1.0"), Some(&[v("1.0.0")])));
        assert!(moves_to(&v("1.1.0"), Some(&[v("1.1.0")])), "a re-run keeps it where it is");
        assert!(!moves_to(&v("1.0.0"), Some(&[v("0.9.0"), v("1.1.0")])), "never backwards");
        assert!(moves_to(&v("1.0.0"), Some(&[])), "an image without a version gives way");
    }
}
