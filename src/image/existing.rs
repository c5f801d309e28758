//! An image already in ECR (`pipeline deploy --image REF`): `repo@sha256:...` or `repo:tag`, looked
//! up in ECR (it must be there) and pinned by digest; its release label comes from its `v*` and
//! `sha-*` tags.

use aws_sdk_ecr::types::ImageIdentifier;

use super::reference::Digest;
use super::{ecr, labels};
use crate::Error;
use crate::version::ReleaseLabel;

#[derive(Debug, Clone)]
pub struct ExistingImage {
    /// `registry/repo@sha256:...`.
    pub pinned: String,
    pub digest: Digest,
    pub label: ReleaseLabel,
    /// Where it is, and its tags there (the version and commit tags a promotion copies).
    pub repository: super::reference::Repository,
    pub tags: Vec<String>,
}

pub async fn find(ecr_client: &aws_sdk_ecr::Client, image: &str) -> Result<ExistingImage, Error> {
    let bad = |why: &str| Error::BadImageRef { image: format!("{image} ({why})") };
    let (reference, id) = match image.split_once('@') {
        Some((repo, digest)) => (repo, ImageIdentifier::builder().image_digest(digest).build()),
        None => {
            let (repo, tag) = image
                .rsplit_once(':')
                .filter(|(r, t)| !r.is_empty() && !t.contains('/'))
                .ok_or_else(|| bad("no tag or digest"))?;
            (repo, ImageIdentifier::builder().image_tag(tag).build())
        }
    };
    // Without the registry host (a first segment with `.` or `:`), the rest is the repository name.
    let name = match reference.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') => rest,
        _ => reference,
    };
    let repo = ecr::find_repository(ecr_client, name)
        .await?
        .ok_or_else(|| Error::RepositoryMissing { repository: name.to_owned() })?;
    let described = ecr_client.describe_images().repository_name(name).image_ids(id).send().await;
    let details = match described {
        Ok(out) => out.image_details().first().cloned().ok_or_else(|| bad("not in ECR"))?,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_image_not_found_exception()) => {
            return Err(bad("not in ECR"));
        }
        Err(e) => return Err(Error::aws("DescribeImages", name, e)),
    };
    let digest = details.image_digest().and_then(Digest::parse).ok_or_else(|| bad("ECR reports no digest"))?;
    let tags = details.image_tags();
    let version = tags
        .iter()
        .find_map(|t| t.strip_prefix('v').filter(|v| semver::Version::parse(v).is_ok()))
        .map(str::to_owned)
        .unwrap_or_else(|| digest.to_string().chars().take(19).collect());
    let short = tags.iter().find_map(|t| t.strip_prefix("sha-")).unwrap_or("unknown").to_owned();
    // The full commit, for the task definition's tags and the GitHub Deployment: the image's OCI
    // revision label, when it agrees with the `sha-` tag (or there is none).
    let auth = super::ecr::registry_auth(ecr_client).await?;
    let revision = labels::labels(&repo, &auth, &digest).await.and_then(|l| l.get(labels::REVISION).cloned());
    let commit = match revision {
        Some(full) if full.len() == 40 && (short == "unknown" || full.starts_with(&short)) => full,
        _ => short,
    };
    let tags = tags.to_vec();
    Ok(ExistingImage {
        pinned: repo.pinned(&digest),
        digest,
        label: ReleaseLabel { version, commit },
        repository: repo,
        tags,
    })
}
