//! Promotion of an image by digest into another registry (`pipeline deploy --image <staging>@sha256:... -e prod`):
//! the manifest (and an index's manifests) and the blobs they name are copied unchanged into the environment's
//! ECR, so the digest stays the same and nothing is rebuilt; the version and commit tags travel with it. What the
//! target already holds is not copied again, so a second promotion of the same digest writes nothing.
//! With `promote: in-place` the image is run from where it is.

use std::collections::BTreeSet;

use super::distribution::{self, RawManifest, Registry};
use super::ecr::{self, Manifest};
use super::existing::ExistingImage;
use super::reference::{Digest, Repository};
use super::tag_policy::Mutability;
use crate::Error;
use crate::config::identity::Promote;
use crate::report::{Reporter, Stage};

/// What a promotion will do, decided before any write.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Promotion {
    pub mode: Promote,
    /// `registry/repo@digest` where the image is now.
    pub source: String,
    /// What the task definition pins: the copy in the environment's ECR, or the source itself (`in-place`).
    pub pinned: String,
    pub digest: Digest,
    /// The environment's repository is created first (`image.create-repository`).
    pub create_repository: bool,
    /// Manifests to put, children before the index that names them; empty when the target has the image.
    pub manifests: Vec<Digest>,
    pub blobs: Vec<BlobCopy>,
    /// Tags added in the target (the source's version and commit tags that it lacks).
    pub tags: Vec<String>,
    #[serde(skip)]
    source_repo: Repository,
    #[serde(skip)]
    target_repo: Repository,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BlobCopy {
    pub digest: Digest,
    pub size: u64,
    /// Linked from the source repository (same registry) instead of pulled and pushed.
    pub mount: bool,
}

impl Promotion {
    pub fn changes(&self) -> bool {
        self.create_repository || !self.manifests.is_empty() || !self.blobs.is_empty() || !self.tags.is_empty()
    }

    /// The plan lines.
    pub fn describe(&self) -> Vec<String> {
        if self.mode == Promote::InPlace {
            return vec![format!("image {} runs in place (promote: in-place; no copy)", self.source)];
        }
        let mut lines = Vec::new();
        if self.create_repository {
            lines.push(format!("create ECR repository {}", self.target_repo.uri()));
        }
        if self.manifests.is_empty() && self.blobs.is_empty() {
            lines.push(format!("image {} is already in {}: nothing to copy", self.digest, self.target_repo.uri()));
        } else {
            let bytes: u64 = self.blobs.iter().map(|b| b.size).sum();
            let mounted = self.blobs.iter().filter(|b| b.mount).count();
            let how = if mounted > 0 { format!(", {mounted} mounted") } else { String::new() };
            lines.push(format!(
                "copy {} -> {}: {} manifest(s), {} blob(s) ({bytes} bytes{how}), same digest, no build",
                self.source,
                self.target_repo.uri(),
                self.manifests.len(),
                self.blobs.len()
            ));
        }
        if !self.tags.is_empty() {
            lines.push(format!("tag the copy {}", self.tags.join(", ")));
        }
        lines
    }
}

/// The tags that travel with an image: its version (`v<semver>`) and commit (`sha-...`) tags.
pub fn travelling_tags(tags: &[String]) -> Vec<String> {
    let version = |t: &str| t.strip_prefix('v').is_some_and(|v| semver::Version::parse(v).is_ok());
    tags.iter().filter(|t| version(t) || t.starts_with("sha-")).cloned().collect()
}

/// Where the image goes: the environment's ECR client and registry, its repository name, and whether it may be
/// created.
pub struct Target<'a> {
    pub ecr: &'a aws_sdk_ecr::Client,
    pub registry: &'a Registry,
    pub repository: &'a str,
    pub create: bool,
}

/// Reads both registries and decides what to copy. Fails before any write when the repository is missing (and
/// may not be created) or a travelling tag already names another image there.
pub async fn plan(
    mode: Promote,
    image: &ExistingImage,
    source: &Registry,
    target: &Target<'_>,
) -> Result<Promotion, Error> {
    let target_repo = ecr::find_repository(target.ecr, target.repository).await?;
    let create_repository = target_repo.is_none();
    let mut promotion = Promotion {
        mode,
        source: image.pinned.clone(),
        pinned: image.pinned.clone(),
        digest: image.digest.clone(),
        create_repository: false,
        manifests: Vec::new(),
        blobs: Vec::new(),
        tags: Vec::new(),
        source_repo: image.repository.clone(),
        target_repo: target_repo.clone().unwrap_or_else(|| Repository {
            name: target.repository.to_owned(),
            registry: target.registry.host().to_owned(),
        }),
    };
    if mode == Promote::InPlace {
        return Ok(promotion);
    }
    if create_repository && !target.create {
        return Err(Error::RepositoryMissing {
            repository: format!("{} (in {})", target.repository, target.registry.host()),
        });
    }
    promotion.create_repository = create_repository;
    promotion.pinned = promotion.target_repo.pinned(&image.digest);
    let same_registry = source.host() == target.registry.host();
    let mut pending = vec![image.digest.clone()];
    let mut manifests = Vec::new();
    let mut blobs: Vec<BlobCopy> = Vec::new();
    let mut seen = BTreeSet::new();
    while let Some(digest) = pending.pop() {
        if !create_repository && target.registry.manifest(target.repository, &digest).await?.is_some() {
            continue;
        }
        let manifest = source_manifest(source, &image.repository.name, &digest).await?;
        let refs = distribution::references(&manifest)
            .map_err(|message| Error::Copy { image: format!("{}@{digest}", image.repository.uri()), message })?;
        manifests.push(digest);
        pending.extend(refs.manifests);
        for (blob, size) in refs.blobs {
            if !seen.insert(blob.clone()) {
                continue;
            }
            if !create_repository && target.registry.has_blob(target.repository, &blob).await? {
                continue;
            }
            blobs.push(BlobCopy { digest: blob, size, mount: same_registry });
        }
    }
    // Children are put before the index that names them.
    manifests.reverse();
    promotion.manifests = manifests;
    promotion.blobs = blobs;
    let wanted = travelling_tags(&image.tags);
    let present = if create_repository {
        Default::default()
    } else {
        ecr::existing(target.ecr, &promotion.target_repo, &wanted).await?
    };
    for tag in wanted {
        match present.get(&tag) {
            Some(m) if m.digest == image.digest => {}
            Some(m) => {
                return Err(Error::TagConflict {
                    repository: format!("{} (in {})", target.repository, target.registry.host()),
                    tag,
                    existing: m.digest.to_string(),
                    ours: image.digest.to_string(),
                });
            }
            None => promotion.tags.push(tag),
        }
    }
    Ok(promotion)
}

async fn source_manifest(source: &Registry, repo: &str, digest: &Digest) -> Result<RawManifest, Error> {
    source.manifest(repo, digest).await?.ok_or_else(|| Error::Copy {
        image: format!("{}/{repo}@{digest}", source.host()),
        message: "the source registry no longer has this manifest".into(),
    })
}

/// Copies what the plan says, blobs first, then manifests (children first), then the tags.
pub async fn execute(
    promotion: &Promotion,
    source: &Registry,
    target: &Target<'_>,
    lifecycle_policy: Option<&str>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    if promotion.mode == Promote::InPlace || !promotion.changes() {
        return Ok(());
    }
    let repo = &promotion.target_repo;
    if promotion.create_repository {
        reporter.started(Stage::Repository, format!("creating ECR repository {}", repo.name));
        let mutability = Mutability::for_new_repository(&[]);
        ecr::ensure_repository(target.ecr, &repo.name, true, lifecycle_policy, &mutability).await?;
        reporter.finished(Stage::Repository, repo.uri());
    }
    reporter.started(Stage::Push, format!("copying {} -> {}", promotion.source, promotion.pinned));
    let from = &promotion.source_repo.name;
    for blob in &promotion.blobs {
        if blob.mount && target.registry.mount(&repo.name, &blob.digest, from).await? {
            continue;
        }
        let data = source.blob(from, &blob.digest).await?;
        target.registry.upload(&repo.name, &blob.digest, data).await?;
    }
    let mut top = None;
    for digest in &promotion.manifests {
        let manifest = source_manifest(source, from, digest).await?;
        target.registry.put_manifest(&repo.name, digest, &manifest).await?;
        if *digest == promotion.digest {
            top = Some(manifest);
        }
    }
    if !promotion.tags.is_empty() {
        let manifest = match top {
            Some(m) => m,
            None => source_manifest(source, from, &promotion.digest).await?,
        };
        let manifest = Manifest {
            digest: promotion.digest.clone(),
            body: String::from_utf8_lossy(&manifest.body).into_owned(),
            media_type: Some(manifest.media_type).filter(|m| !m.is_empty()),
        };
        for tag in &promotion.tags {
            ecr::retag(target.ecr, repo, &manifest, tag, true).await?;
        }
    }
    let copied = format!("{} manifest(s), {} blob(s)", promotion.manifests.len(), promotion.blobs.len());
    reporter.finished(Stage::Push, format!("{} ({copied}; tags {})", promotion.pinned, promotion.tags.join(", ")));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_and_commit_tags_travel_and_moving_tags_stay() {
        let tags: Vec<String> =
            ["v1.2.0", "sha-0123456789ab", "latest", "vnext", "v1.2.0-rc.1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(travelling_tags(&tags), ["v1.2.0", "sha-0123456789ab", "v1.2.0-rc.1"]);
    }
}
