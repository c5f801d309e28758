//! The release plan: everything a run will do, computed before the first change. `--dry-run` and
//! `pipeline plan` print it and stop; `release` executes it.

use std::collections::BTreeMap;

use super::cache::{self, CachePlan, Candidates};
use super::ecr::{self, Manifest};
use super::platform::PlatformChoice;
use super::reference::{Digest, Repository};
use super::tag_policy::{self, Mutability, Verdict};
use crate::Error;
use crate::config::ImageCache;
use crate::version::{ReleaseVersion, Released, Source};

/// The repository as found (or to be created).
#[derive(Debug, Clone, serde::Serialize)]
pub enum RepositoryState {
    Exists(Repository),
    /// Missing; `execute` creates it with [`ImagePlan::mutability`]. Nothing in it yet.
    Create {
        name: String,
    },
}

/// What happens to the image.
#[derive(Debug, Clone, serde::Serialize)]
pub enum ImageAction {
    /// No image for this commit yet: build, push `push_tag`, then add `retag` by manifest.
    Build { push_tag: String, retag: Vec<String> },
    /// ECR already has this commit's image: no build, no push; add only the `missing` tags.
    Reuse { manifest: Manifest, missing: Vec<String> },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImagePlan {
    pub version: ReleaseVersion,
    pub repository: RepositoryState,
    /// The immutable tags the image will carry, the commit tag first.
    pub tags: Vec<String>,
    pub action: ImageAction,
    /// The repository's tag mutability (for a repository to create: what it is created with).
    pub mutability: Mutability,
    /// Moving tags (`latest`), moved to the image only after a verified release.
    pub moving: Vec<String>,
    /// Immutable tags the repository would let anyone overwrite (a MUTABLE repository): pipeline never
    /// does, and reads each back after writing it.
    pub overwritable: Vec<String>,
    /// The registry layer cache of a build ([`plan_cache`]).
    pub cache: CachePlan,
    /// The build platform, when the config or the task definition names one (`image/platform.rs`).
    pub platform: Option<PlatformChoice>,
}

impl ImagePlan {
    /// Whether executing the plan would change anything.
    pub fn changes(&self) -> bool {
        match &self.action {
            ImageAction::Build { .. } => true,
            ImageAction::Reuse { missing, .. } => !missing.is_empty(),
        }
    }

    pub fn repository_name(&self) -> &str {
        match &self.repository {
            RepositoryState::Exists(r) => &r.name,
            RepositoryState::Create { name } => name,
        }
    }

    /// Human lines, in the order things will happen.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("version {} (commit {})", self.version.version, self.version.commit)];
        if let RepositoryState::Create { name } = &self.repository {
            lines.push(format!("create ECR repository {name} ({})", self.mutability));
        }
        match &self.action {
            ImageAction::Build { push_tag, retag } => {
                lines.push(format!("build the image and push {}:{push_tag}", self.repository_name()));
                lines.push(self.cache.describe());
                if let Some(platform) = &self.platform {
                    lines.push(platform.describe());
                }
                if !retag.is_empty() {
                    lines.push(format!("add tags {} to the pushed manifest", retag.join(", ")));
                }
            }
            ImageAction::Reuse { manifest, missing } => {
                lines.push(format!("reuse {} (already in ECR): no build, no push", manifest.digest));
                if missing.is_empty() {
                    lines.push("all tags already present: nothing to do".into());
                } else {
                    lines.push(format!("add tags {} by manifest", missing.join(", ")));
                }
            }
        }
        if !self.moving.is_empty() {
            lines.push(format!("after a verified release: move {} to this image", self.moving.join(", ")));
        }
        lines
    }

    /// Whether this run gives the image `tag` (it was not in ECR before).
    pub fn adds(&self, tag: &str) -> bool {
        match &self.action {
            ImageAction::Build { .. } => self.tags.iter().any(|t| t == tag),
            ImageAction::Reuse { missing, .. } => missing.iter().any(|t| t == tag),
        }
    }

    /// Whether `tag` could be overwritten by another writer (checked before and after each write).
    pub fn overwritable(&self, tag: &str) -> bool {
        !self.mutability.is_immutable(tag)
    }
}

/// Decides build-or-reuse from what ECR holds. Read-only: it creates nothing.
///
/// `existing` maps each of our tags that ECR already has to its manifest. The commit tag decides:
/// present -> reuse it, and every other existing tag must point at the same digest; absent -> build,
/// and no other tag may exist yet (it would belong to another image).
pub fn decide(
    repository: &str,
    tags: &[String],
    commit_tag: &str,
    existing: &BTreeMap<String, Manifest>,
) -> Result<ImageAction, Error> {
    let conflict = |tag: &str, theirs: &Digest, ours: String| Error::TagConflict {
        repository: repository.to_owned(),
        tag: tag.to_owned(),
        existing: theirs.to_string(),
        ours,
    };
    match existing.get(commit_tag) {
        Some(manifest) => {
            for (tag, other) in existing {
                if other.digest != manifest.digest {
                    return Err(conflict(tag, &other.digest, manifest.digest.to_string()));
                }
            }
            let missing = tags.iter().filter(|t| !existing.contains_key(*t)).cloned().collect();
            Ok(ImageAction::Reuse { manifest: manifest.clone(), missing })
        }
        None => {
            if let Some((tag, other)) = existing.iter().next() {
                return Err(conflict(tag, &other.digest, format!("a new build of commit tag {commit_tag}")));
            }
            let retag = tags.iter().filter(|t| *t != commit_tag).cloned().collect();
            Ok(ImageAction::Build { push_tag: commit_tag.to_owned(), retag })
        }
    }
}

/// Looks at ECR and plans the image half. `found` is the repository as DescribeRepositories
/// returned it (`None`: missing).
pub async fn plan_image(
    ecr_client: &aws_sdk_ecr::Client,
    repository: &str,
    found: Option<(Repository, Mutability)>,
    version: ReleaseVersion,
    tags: Vec<String>,
    moving: Vec<String>,
) -> Result<ImagePlan, Error> {
    let commit_tag = version.sha_tag();
    let (state, mutability, existing) = match found {
        Some((repo, mutability)) => {
            let existing = ecr::existing(ecr_client, &repo, &tags).await?;
            (RepositoryState::Exists(repo), mutability, existing)
        }
        None => (
            RepositoryState::Create { name: repository.to_owned() },
            Mutability::for_new_repository(&moving),
            BTreeMap::new(),
        ),
    };
    let overwritable = match tag_policy::check(repository, &mutability, &tags, &moving) {
        Ok(Verdict::Fine) => Vec::new(),
        Ok(Verdict::Overwritable { tags }) => tags,
        Err(refusal) => {
            return Err(Error::MovingTagImmutable {
                repository: repository.to_owned(),
                mutability: mutability.to_string(),
                tags: refusal.tags.join(", "),
                fix: refusal.fix,
            });
        }
    };
    let action = decide(repository, &tags, &commit_tag, &existing)?;
    let (cache, platform) = (CachePlan::default(), None);
    Ok(ImagePlan { version, repository: state, tags, action, mutability, moving, overwritable, cache, platform })
}

/// The cache sources of a build: the parent commit's image (one ECR read, made only for a build) and the
/// newest release in `registry`, or what `image.cache` names.
pub async fn plan_cache(
    ecr_client: &aws_sdk_ecr::Client,
    plan: &ImagePlan,
    setting: &ImageCache,
    parent_commit: Option<&str>,
    registry: &[Released],
) -> Result<CachePlan, Error> {
    let RepositoryState::Exists(repo) = &plan.repository else {
        return Ok(cache::plan(setting, &Candidates::default()));
    };
    let uri = repo.uri();
    let mut candidates = Candidates { repository_uri: Some(&uri), ..Candidates::default() };
    if *setting == ImageCache::Enabled(true) {
        let in_repository = |r: &&Released| matches!(&r.source, Source::Registry { .. });
        let mut versions: Vec<&semver::Version> = registry.iter().filter(in_repository).map(|r| &r.version).collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        versions.dedup();
        candidates.newest_releases = versions.into_iter().take(cache::RELEASES).map(|v| format!("v{v}")).collect();
        if let Some(parent) = parent_commit.and_then(|c| c.get(..12)) {
            let tag = format!("sha-{parent}");
            if ecr::existing(ecr_client, repo, std::slice::from_ref(&tag)).await?.contains_key(&tag) {
                candidates.parent = Some(tag);
            }
        }
    }
    Ok(cache::plan(setting, &candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(hex: char) -> Manifest {
        Manifest {
            digest: Digest::parse(&format!("sha256:{}", hex.to_string().repeat(64))).unwrap(),
            body: "{}".into(),
            media_type: None,
        }
    }

    fn tags() -> Vec<String> {
        vec!["sha-0123456789ab".into(), "v1.2.0".into()]
    }

    #[test]
    fn nothing_in_ecr_means_build_then_retag() {
        let action = decide("web", &tags(), "sha-0123456789ab", &BTreeMap::new()).unwrap();
        match action {
            ImageAction::Build { push_tag, retag } => {
                assert_eq!(push_tag, "sha-0123456789ab");
                assert_eq!(retag, vec!["v1.2.0".to_string()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_existing_commit_tag_is_reused_and_only_missing_tags_added() {
        let existing = BTreeMap::from([("sha-0123456789ab".to_string(), manifest('a'))]);
        match decide("web", &tags(), "sha-0123456789ab", &existing).unwrap() {
            ImageAction::Reuse { manifest, missing } => {
                assert_eq!(manifest.digest.as_str(), format!("sha256:{}", "a".repeat(64)));
                assert_eq!(missing, vec!["v1.2.0".to_string()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tag_on_another_digest_is_a_conflict_naming_both() {
        let existing =
            BTreeMap::from([("sha-0123456789ab".to_string(), manifest('a')), ("v1.2.0".to_string(), manifest('b'))]);
        let err = decide("web", &tags(), "sha-0123456789ab", &existing).unwrap_err().to_string();
        assert!(err.contains("v1.2.0") && err.contains(&"b".repeat(64)) && err.contains(&"a".repeat(64)), "{err}");
    }

    #[test]
    fn a_version_tag_without_the_commit_tag_belongs_to_another_image() {
        let existing = BTreeMap::from([("v1.2.0".to_string(), manifest('b'))]);
        let err = decide("web", &tags(), "sha-0123456789ab", &existing).unwrap_err().to_string();
        assert!(err.contains("v1.2.0") && err.contains("already exists"), "{err}");
    }
}
