//! Where `pipeline rollback` goes: the newest verified release other than the one running, or the
//! release `--to` names (a version, a revision number, `family:revision` or an ARN), refusing one that
//! was never verified healthy unless forced. A failed release never comes here: it returns to what
//! ran before it (`DeployPlan::running`). Pure decisions.

use semver::Version;

use super::verified::RevisionInfo;

/// What `--to` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// No `--to`: the newest verified release other than the running one.
    NewestVerified,
    /// `v1.2.0` or `1.2.0`: the newest revision of that release.
    Version(Version),
    /// `42`, `web:42` or a task-definition ARN.
    Revision(String),
}

impl Wanted {
    /// Reads `--to` for the service's task-definition `family`.
    pub fn parse(to: Option<&str>, family: &str) -> Wanted {
        let Some(to) = to.map(str::trim) else { return Wanted::NewestVerified };
        if let Ok(version) = Version::parse(to.strip_prefix('v').unwrap_or(to)) {
            return Wanted::Version(version);
        }
        if !to.is_empty() && to.chars().all(|c| c.is_ascii_digit()) {
            return Wanted::Revision(format!("{family}:{to}"));
        }
        Wanted::Revision(to.to_owned())
    }
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wanted::NewestVerified => f.write_str("the newest verified release"),
            Wanted::Version(v) => write!(f, "release v{v}"),
            Wanted::Revision(r) => write!(f, "revision {r}"),
        }
    }
}

/// Why a rollback target was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No verified release besides the running one.
    NoneVerified,
    /// Nothing matches `--to`.
    NotFound,
    /// The revision never finished a release healthy; `--force` overrides.
    Unverified(RevisionInfo),
    /// A revision of another family than the service's.
    OtherFamily { found: String },
}

/// Accepts `found` (the revision the lookup for `wanted` returned) as the target, or says why not.
pub fn accept(
    wanted: &Wanted,
    found: Option<RevisionInfo>,
    family: &str,
    force: bool,
) -> Result<RevisionInfo, Refusal> {
    let Some(found) = found else {
        return Err(if *wanted == Wanted::NewestVerified { Refusal::NoneVerified } else { Refusal::NotFound });
    };
    if super::verified::family_of(&found.arn) != Some(family) {
        return Err(Refusal::OtherFamily { found: found.arn });
    }
    if !found.verified && !force {
        return Err(Refusal::Unverified(found));
    }
    Ok(found)
}

/// Whether a revision is the one `wanted` names (for a version lookup among the family's revisions;
/// the newest match wins). A verified revision of the version is preferred by the caller asking twice.
pub fn matches_version(info: &RevisionInfo, version: &Version) -> bool {
    info.version.as_deref().and_then(|v| Version::parse(v.strip_prefix('v').unwrap_or(v)).ok()).as_ref()
        == Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(arn: &str, version: Option<&str>, verified: bool) -> RevisionInfo {
        RevisionInfo {
            arn: arn.into(),
            version: version.map(Into::into),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            verified,
            verified_at: None,
        }
    }

    const ARN: &str = "arn:aws:ecs:us-east-1:000000000000:task-definition/web";

    #[test]
    fn to_reads_versions_revisions_and_arns() {
        assert_eq!(Wanted::parse(None, "web"), Wanted::NewestVerified);
        assert_eq!(Wanted::parse(Some("v1.2.0"), "web"), Wanted::Version(Version::new(1, 2, 0)));
        assert_eq!(Wanted::parse(Some("1.2.0"), "web"), Wanted::Version(Version::new(1, 2, 0)));
        assert_eq!(Wanted::parse(Some("42"), "web"), Wanted::Revision("web:42".into()));
        assert_eq!(Wanted::parse(Some("web:42"), "web"), Wanted::Revision("web:42".into()));
        assert_eq!(Wanted::parse(Some(&format!("{ARN}:3")), "web"), Wanted::Revision(format!("{ARN}:3")));
    }

    #[test]
    fn an_unverified_target_needs_force() {
        let wanted = Wanted::Version(Version::new(1, 2, 0));
        let unverified = info(&format!("{ARN}:4"), Some("1.2.0"), false);
        assert_eq!(
            accept(&wanted, Some(unverified.clone()), "web", false),
            Err(Refusal::Unverified(unverified.clone()))
        );
        assert_eq!(accept(&wanted, Some(unverified.clone()), "web", true), Ok(unverified));
        let verified = info(&format!("{ARN}:3"), Some("1.2.0"), true);
        assert_eq!(accept(&wanted, Some(verified.clone()), "web", false), Ok(verified));
    }

    #[test]
    fn missing_and_foreign_targets_are_refused() {
        assert_eq!(accept(&Wanted::NewestVerified, None, "web", false), Err(Refusal::NoneVerified));
        assert_eq!(accept(&Wanted::Revision("web:9".into()), None, "web", true), Err(Refusal::NotFound));
        let other = info("arn:aws:ecs:us-east-1:000000000000:task-definition/worker:2", None, true);
        assert_eq!(
            accept(&Wanted::Revision("worker:2".into()), Some(other), "web", true),
            Err(Refusal::OtherFamily { found: "arn:aws:ecs:us-east-1:000000000000:task-definition/worker:2".into() })
        );
    }

    #[test]
    fn versions_match_with_or_without_v() {
        let v = Version::new(1, 2, 0);
        assert!(matches_version(&info("a", Some("1.2.0"), true), &v));
        assert!(matches_version(&info("a", Some("v1.2.0"), true), &v));
        assert!(!matches_version(&info("a", Some("1.2.1"), true), &v));
        assert!(!matches_version(&info("a", None, true), &v));
    }
}
