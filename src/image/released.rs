//! The versions released into an ECR repository: its `v*` tags, each with the commit its image was
//! built from: the image's `sha-` tag, else its `org.opencontainers.image.revision` label. The
//! version decision (`version.rs`) counts these with the git tags.

use aws_sdk_ecr::types::{DescribeImagesFilter, TagStatus};

use super::labels::{self, REVISION};
use super::reference::{Digest, Repository};
use crate::Error;
use crate::version::{Released, Source, parse_tag};

/// How many images without a `sha-` tag get their labels read (newest versions first): each is
/// three registry requests.
const LABEL_LOOKUPS: usize = 20;

/// One tagged image as DescribeImages lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedImage {
    pub digest: String,
    pub tags: Vec<String>,
}

/// Every release in `repository`; none when it does not exist yet.
pub async fn releases(ecr: &aws_sdk_ecr::Client, repo: &Repository) -> Result<Vec<Released>, Error> {
    let images = tagged_images(ecr, &repo.name).await?;
    let mut releases = from_images(&repo.name, &images);
    let unknown: Vec<usize> = {
        let mut idx: Vec<usize> = (0..releases.len()).filter(|i| releases[*i].0.commit.is_none()).collect();
        idx.sort_by(|a, b| releases[*b].0.version.cmp(&releases[*a].0.version));
        idx.truncate(LABEL_LOOKUPS);
        idx
    };
    if !unknown.is_empty() {
        let auth = super::ecr::registry_auth(ecr).await?;
        for i in unknown {
            let Some(digest) = Digest::parse(&releases[i].1) else { continue };
            let revision = labels::labels(repo, &auth, &digest).await.and_then(|l| l.get(REVISION).cloned());
            releases[i].0.commit = revision.filter(|r| is_hex(r));
        }
    }
    Ok(releases.into_iter().map(|(r, _)| r).collect())
}

/// DescribeImages of every tagged image, all pages.
pub async fn tagged_images(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<Vec<TaggedImage>, Error> {
    let mut images = Vec::new();
    let mut token = None;
    loop {
        let out = ecr
            .describe_images()
            .repository_name(repository)
            .filter(DescribeImagesFilter::builder().tag_status(TagStatus::Tagged).build())
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => return Ok(images),
            Err(e) => return Err(Error::aws("DescribeImages", repository, e)),
        };
        for detail in out.image_details() {
            let Some(digest) = detail.image_digest() else { continue };
            images.push(TaggedImage { digest: digest.to_owned(), tags: detail.image_tags().to_vec() });
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(images);
        }
    }
}

/// The releases the tags say, each with its image digest; the commit is the `sha-` tag's (12 hex,
/// resolved in the clone later), when the image has one.
pub fn from_images(repository: &str, images: &[TaggedImage]) -> Vec<(Released, String)> {
    let mut out = Vec::new();
    for image in images {
        let commit = image.tags.iter().find_map(|t| sha_of_tag(t)).map(str::to_owned);
        for version in image.tags.iter().filter_map(|t| parse_tag(t)) {
            let source = Source::Registry { repository: repository.to_owned() };
            out.push((Released { version, commit: commit.clone(), source }, image.digest.clone()));
        }
    }
    out
}

/// `sha-0123456789ab` -> `0123456789ab`; dirty builds' tags (`sha-…-dirty-…`) name no clean commit.
pub fn sha_of_tag(tag: &str) -> Option<&str> {
    tag.strip_prefix("sha-").filter(|hex| hex.len() == 12 && is_hex(hex))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_take_the_commit_of_the_images_sha_tag() {
        let images = [
            TaggedImage { digest: "sha256:a".into(), tags: vec!["v1.0.0".into(), "sha-0123456789ab".into()] },
            TaggedImage { digest: "sha256:b".into(), tags: vec!["latest".into(), "v1.1.0".into(), "v1.1.1".into()] },
            TaggedImage {
                digest: "sha256:c".into(),
                tags: vec!["v2.0.0-dirty.17".into(), "sha-0123456789ab-dirty-17".into()],
            },
            TaggedImage { digest: "sha256:d".into(), tags: vec!["vnext".into(), "sha-nothex12345".into()] },
        ];
        let found: Vec<(String, Option<String>, String)> =
            from_images("web", &images).into_iter().map(|(r, d)| (r.version.to_string(), r.commit, d)).collect();
        assert_eq!(
            found,
            [
                ("1.0.0".into(), Some("0123456789ab".into()), "sha256:a".into()),
                ("1.1.0".into(), None, "sha256:b".into()),
                ("1.1.1".into(), None, "sha256:b".into()),
                ("2.0.0-dirty.17".into(), None, "sha256:c".into()),
            ]
        );
    }
}
