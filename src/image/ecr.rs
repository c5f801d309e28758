//! What the image half asks ECR: does the repository exist, which tags exist with which digest,
//! registry credentials, and retagging an existing manifest (REFERENCE section 1).

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{
    ImageIdentifier, ImageTagMutability, ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType,
};
use base64::Engine;
use secrecy::SecretString;

use super::reference::{Digest, RegistryAuth, Repository};
use super::tag_policy::{Mode, Mutability};
use crate::Error;

/// Media types we accept back from BatchGetImage, so a stored manifest (or index) returns unchanged.
const MANIFEST_TYPES: [&str; 5] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// An image manifest exactly as ECR stores it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Manifest {
    pub digest: Digest,
    #[serde(skip)]
    pub body: String,
    pub media_type: Option<String>,
}

/// Finds the repository; creates it (IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION of the moving tags,
/// and the lifecycle policy, if any) when allowed.
pub async fn ensure_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    create: bool,
    lifecycle_policy: Option<&str>,
    mutability: &Mutability,
) -> Result<Repository, Error> {
    if let Some(repo) = find_repository(ecr, name).await? {
        return Ok(repo);
    }
    if !create {
        return Err(Error::RepositoryMissing { repository: name.to_owned() });
    }
    let mut request = ecr
        .create_repository()
        .repository_name(name)
        .image_tag_mutability(ImageTagMutability::from(mutability.mode.as_str()));
    for filter in &mutability.exclusions {
        let filter = ImageTagMutabilityExclusionFilter::builder()
            .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
            .filter(filter)
            .build()
            .map_err(|e| Error::Aws {
                operation: "CreateRepository",
                resource: name.to_owned(),
                code: "InvalidParameter".into(),
                message: e.to_string(),
                help: "check `moving-tags` in the config".into(),
            })?;
        request = request.image_tag_mutability_exclusion_filters(filter);
    }
    let repo = match request.send().await {
        Ok(out) => out.repository.and_then(|r| r.repository_uri).map(|uri| from_uri(name, &uri)),
        // Someone created it between our look and our create: fine, use theirs.
        Err(e) if e.as_service_error().is_some_and(|e| e.is_repository_already_exists_exception()) => {
            find_repository(ecr, name).await?
        }
        Err(e) => return Err(Error::aws("CreateRepository", name, e)),
    };
    let repo = repo.ok_or_else(|| missing_uri(name))?;
    if let Some(policy) = lifecycle_policy {
        ecr.put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(policy)
            .send()
            .await
            .map_err(|e| Error::aws("PutLifecyclePolicy", name, e))?;
    }
    Ok(repo)
}

pub async fn find_repository(ecr: &aws_sdk_ecr::Client, name: &str) -> Result<Option<Repository>, Error> {
    Ok(describe_repository(ecr, name).await?.map(|(repo, _)| repo))
}

/// The repository and its tag mutability, if it exists.
pub async fn describe_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
) -> Result<Option<(Repository, Mutability)>, Error> {
    match ecr.describe_repositories().repository_names(name).send().await {
        Ok(out) => {
            let found = out.repositories().first();
            let uri = found.and_then(|r| r.repository_uri()).ok_or_else(|| missing_uri(name))?;
            let mutability = Mutability {
                mode: Mode::parse(found.and_then(|r| r.image_tag_mutability()).map_or("MUTABLE", |m| m.as_str())),
                exclusions: found
                    .map(|r| r.image_tag_mutability_exclusion_filters().iter().map(|f| f.filter().to_owned()).collect())
                    .unwrap_or_default(),
            };
            Ok(Some((from_uri(name, uri), mutability)))
        }
        Err(e) if e.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()) => Ok(None),
        Err(e) => Err(Error::aws("DescribeRepositories", name, e)),
    }
}

fn from_uri(name: &str, uri: &str) -> Repository {
    let registry = uri.strip_suffix(&format!("/{name}")).unwrap_or(uri).to_owned();
    Repository { name: name.to_owned(), registry }
}

fn missing_uri(name: &str) -> Error {
    Error::Aws {
        operation: "DescribeRepositories",
        resource: name.to_owned(),
        code: "MalformedResponse".into(),
        message: "the repository has no repositoryUri".into(),
        help: "this is a bug in the AWS endpoint; report it".into(),
    }
}

/// The manifests of those `tags` that exist; a missing tag is simply absent (BatchGetImage
/// reports it in `failures`, it does not fail the call).
pub async fn existing(
    ecr: &aws_sdk_ecr::Client,
    repo: &Repository,
    tags: &[String],
) -> Result<BTreeMap<String, Manifest>, Error> {
    if tags.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids = tags.iter().map(|t| ImageIdentifier::builder().image_tag(t).build()).collect();
    let out = ecr
        .batch_get_image()
        .repository_name(&repo.name)
        .set_image_ids(Some(ids))
        .set_accepted_media_types(Some(MANIFEST_TYPES.iter().map(|s| s.to_string()).collect()))
        .send()
        .await
        .map_err(|e| Error::aws("BatchGetImage", &repo.name, e))?;
    let mut found = BTreeMap::new();
    for image in out.images() {
        let id = image.image_id();
        let (Some(tag), Some(digest), Some(body)) = (
            id.and_then(|i| i.image_tag()),
            id.and_then(|i| i.image_digest()).and_then(Digest::parse),
            image.image_manifest(),
        ) else {
            continue;
        };
        let manifest = Manifest {
            digest,
            body: body.to_owned(),
            media_type: image.image_manifest_media_type().map(str::to_owned),
        };
        found.insert(tag.to_owned(), manifest);
    }
    Ok(found)
}

/// Adds `tag` to an image already in ECR by putting its manifest again (no layers move).
/// The same manifest under the same tag is a no-op; the tag on another digest is a conflict, found
/// before writing when the repository would let the write through (`overwritable`), and in any
/// mode by reading the tag back after writing it.
pub async fn retag(
    ecr: &aws_sdk_ecr::Client,
    repo: &Repository,
    manifest: &Manifest,
    tag: &str,
    overwritable: bool,
) -> Result<(), Error> {
    if overwritable {
        match tag_digest(ecr, repo, tag).await? {
            Some(theirs) if theirs == manifest.digest => return Ok(()),
            Some(theirs) => return Err(conflict(repo, tag, &theirs, &manifest.digest)),
            None => {}
        }
    }
    match put(ecr, repo, manifest, tag).await {
        Ok(()) => {}
        Err(PutError::Exists) => {
            let theirs = tag_digest(ecr, repo, tag).await?;
            let theirs = theirs.map(|d| d.to_string()).unwrap_or_else(|| "unknown".into());
            return Err(Error::TagConflict {
                repository: repo.name.clone(),
                tag: tag.to_owned(),
                existing: theirs,
                ours: manifest.digest.to_string(),
            });
        }
        Err(PutError::Other(e)) => return Err(e),
    }
    read_back(ecr, repo, tag, &manifest.digest).await
}

/// Moves a moving tag (`latest`) to `manifest`. Returns the digest the tag names after the write when
/// that is not ours (another release moved it at the same moment).
pub async fn move_tag(
    ecr: &aws_sdk_ecr::Client,
    repo: &Repository,
    manifest: &Manifest,
    tag: &str,
) -> Result<Option<Digest>, Error> {
    match put(ecr, repo, manifest, tag).await {
        Ok(()) => {}
        Err(PutError::Exists) => {
            return Err(Error::Aws {
                operation: "PutImage",
                resource: format!("{}:{tag}", repo.name),
                code: "ImageTagAlreadyExistsException".into(),
                message: format!("the repository refuses to move `{tag}`"),
                help: format!("exclude `{tag}` from tag immutability (`pipeline plan` prints the command)"),
            });
        }
        Err(PutError::Other(e)) => return Err(e),
    }
    Ok(tag_digest(ecr, repo, tag).await?.filter(|d| *d != manifest.digest))
}

/// Fails loudly, naming both digests, unless `tag` names `ours`.
pub async fn read_back(ecr: &aws_sdk_ecr::Client, repo: &Repository, tag: &str, ours: &Digest) -> Result<(), Error> {
    match tag_digest(ecr, repo, tag).await? {
        Some(theirs) if theirs == *ours => Ok(()),
        Some(theirs) => Err(race(repo, tag, &theirs, ours)),
        None => {
            Err(Error::Push { image: repo.tagged(tag), message: "the tag was written but ECR does not list it".into() })
        }
    }
}

/// The digest `tag` names now, if it exists.
pub async fn tag_digest(ecr: &aws_sdk_ecr::Client, repo: &Repository, tag: &str) -> Result<Option<Digest>, Error> {
    Ok(existing(ecr, repo, &[tag.to_owned()]).await?.remove(tag).map(|m| m.digest))
}

/// The tag names another image right after this run wrote it.
pub fn race(repo: &Repository, tag: &str, theirs: &Digest, ours: &Digest) -> Error {
    Error::TagRace {
        repository: repo.name.clone(),
        tag: tag.to_owned(),
        existing: theirs.to_string(),
        ours: ours.to_string(),
    }
}

fn conflict(repo: &Repository, tag: &str, theirs: &Digest, ours: &Digest) -> Error {
    Error::TagConflict {
        repository: repo.name.clone(),
        tag: tag.to_owned(),
        existing: theirs.to_string(),
        ours: ours.to_string(),
    }
}

enum PutError {
    /// ImageTagAlreadyExistsException: an immutable tag names another image.
    Exists,
    Other(Error),
}

async fn put(ecr: &aws_sdk_ecr::Client, repo: &Repository, manifest: &Manifest, tag: &str) -> Result<(), PutError> {
    let result = ecr
        .put_image()
        .repository_name(&repo.name)
        .image_manifest(&manifest.body)
        .set_image_manifest_media_type(manifest.media_type.clone())
        .image_tag(tag)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_image_already_exists_exception()) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_image_tag_already_exists_exception()) => {
            Err(PutError::Exists)
        }
        Err(e) => Err(PutError::Other(Error::aws("PutImage", format!("{}:{tag}", repo.name), e))),
    }
}

/// Registry credentials from GetAuthorizationToken (`base64("AWS:<password>")`), kept in memory.
pub async fn registry_auth(ecr: &aws_sdk_ecr::Client) -> Result<RegistryAuth, Error> {
    let out = ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| Error::aws("GetAuthorizationToken", "the default registry", e))?;
    let data = out.authorization_data().first();
    let token = data.and_then(|d| d.authorization_token()).unwrap_or_default();
    let endpoint = data.and_then(|d| d.proxy_endpoint()).unwrap_or_default();
    let server = endpoint.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    let Some((username, password)) = decoded.split_once(':') else {
        return Err(Error::RegistryAuth {
            registry: server,
            message: "GetAuthorizationToken returned a token that is not base64(user:password)".into(),
        });
    };
    Ok(RegistryAuth { server, username: username.to_owned(), password: SecretString::from(password.to_owned()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_the_uri_without_the_name() {
        let repo = from_uri("team/web", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/web");
        assert_eq!(repo.registry, "111122223333.dkr.ecr.eu-west-1.amazonaws.com");
        assert_eq!(repo.uri(), "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/web");
    }
}
