//! The image store both faces share: manifests pushed through the registry or PutImage, tags, and the image
//! operations of the ECR API (REFERENCE 1.2, 1.4, 1.5).

use serde_json::{Value, json};

use super::{EcrState, Image, Repository, is_valid_digest, page_bounds, paginate, repository_not_found, sha256_digest};
use crate::protocol::json::{opt_str, required_str};
use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx};

const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_MANIFEST_V1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What a successful manifest put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPut {
    pub digest: String,
    pub media_type: String,
    /// False when the manifest was already stored (under that tag, if one was given): a no-op.
    pub changed: bool,
}

/// Why a manifest put was refused; each face renders it in its own error vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutManifestError {
    RepositoryNotFound,
    Invalid(String),
    DigestMismatch {
        expected: String,
        computed: String,
    },
    LayersNotFound(Vec<String>),
    ReferencedImagesNotFound(Vec<String>),
    /// The tag exists on another image and the repository makes it immutable.
    TagImmutable {
        tag: String,
    },
}

impl PutManifestError {
    pub fn message(&self, ctx: &Ctx, repository: &str) -> String {
        match self {
            Self::RepositoryNotFound => repository_not_found(ctx, repository).message,
            Self::Invalid(why) => why.clone(),
            Self::DigestMismatch { expected, computed } => {
                format!("The provided image digest '{expected}' does not match the digest of the manifest '{computed}'")
            }
            Self::LayersNotFound(digests) => format!(
                "Layers with digests '{digests:?}' required for pushing image into repository with name \
                 '{repository}' in the registry with id '{}' do not exist",
                ctx.account_id
            ),
            Self::ReferencedImagesNotFound(digests) => {
                format!(
                    "Images with digests '{digests:?}' referenced by the manifest list do not exist in '{repository}'"
                )
            }
            // ECR's exact wording (REFERENCE 1.4), shown by docker as `tag invalid: ...`.
            Self::TagImmutable { tag } => format!(
                "The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten \
                 because the repository is immutable."
            ),
        }
    }
}

/// What a manifest references and weighs.
struct ManifestInfo {
    blobs: Vec<String>,
    children: Vec<String>,
    size: u64,
    artifact_media_type: Option<String>,
}

fn descriptor(value: &Value, what: &str) -> Result<(String, u64), PutManifestError> {
    let digest = opt_str(value, "digest").or_else(|| opt_str(value, "blobSum")).unwrap_or_default();
    if !is_valid_digest(digest) {
        return Err(PutManifestError::Invalid(format!("manifest {what} has an invalid digest '{digest}'")));
    }
    Ok((digest.to_owned(), value.get("size").and_then(Value::as_u64).unwrap_or(0)))
}

fn descriptors(doc: &Value, field: &str) -> Result<Vec<(String, u64)>, PutManifestError> {
    match doc.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|d| descriptor(d, field)).collect(),
        Some(_) => Err(PutManifestError::Invalid(format!("manifest field '{field}' must be an array"))),
    }
}

/// Reads the references out of an image manifest, a manifest list / index or a schema 1 manifest.
fn analyze(media_type: &str, doc: &Value) -> Result<ManifestInfo, PutManifestError> {
    if media_type == DOCKER_MANIFEST_LIST || media_type == OCI_INDEX || doc.get("manifests").is_some() {
        let children = descriptors(doc, "manifests")?;
        return Ok(ManifestInfo {
            size: children.iter().map(|(_, s)| s).sum(),
            children: children.into_iter().map(|(d, _)| d).collect(),
            blobs: Vec::new(),
            artifact_media_type: None,
        });
    }
    if media_type == DOCKER_MANIFEST_V1 || media_type == DOCKER_MANIFEST_V1_SIGNED {
        let layers = descriptors(doc, "fsLayers")?;
        return Ok(ManifestInfo {
            size: 0,
            blobs: layers.into_iter().map(|(d, _)| d).collect(),
            children: Vec::new(),
            artifact_media_type: None,
        });
    }
    let config = doc.get("config").ok_or_else(|| PutManifestError::Invalid("manifest has no config".into()))?;
    let (config_digest, config_size) = descriptor(config, "config")?;
    let layers = descriptors(doc, "layers")?;
    Ok(ManifestInfo {
        size: config_size + layers.iter().map(|(_, s)| s).sum::<u64>(),
        blobs: std::iter::once(config_digest).chain(layers.into_iter().map(|(d, _)| d)).collect(),
        children: Vec::new(),
        artifact_media_type: opt_str(config, "mediaType").map(str::to_owned),
    })
}

/// The manifest's media type: the one declared by the client (PutImage parameter or HTTP Content-Type) and the
/// manifest's own `mediaType` must agree when both are present; one of them is required.
fn resolve_media_type(declared: Option<&str>, doc: &Value) -> Result<String, PutManifestError> {
    let declared = declared.filter(|d| !d.is_empty() && *d != "application/octet-stream" && *d != "application/json");
    let embedded = opt_str(doc, "mediaType");
    match (declared, embedded) {
        (Some(d), Some(e)) if d != e => Err(PutManifestError::Invalid(format!(
            "The manifest media type '{e}' does not match the declared media type '{d}'"
        ))),
        (Some(d), _) => Ok(d.to_owned()),
        (None, Some(e)) => Ok(e.to_owned()),
        (None, None) if doc.get("schemaVersion").and_then(Value::as_u64) == Some(1) => {
            Ok(DOCKER_MANIFEST_V1_SIGNED.to_owned())
        }
        (None, None) => Err(PutManifestError::Invalid(
            "imageManifestMediaType is required when the manifest has no mediaType field".into(),
        )),
    }
}

/// Stores a manifest (exact text; digest = its sha256) and optionally points a tag at it, enforcing the
/// repository's tag immutability (REFERENCE 1.1, 1.4). Shared by `PutImage` and the registry's manifest PUT.
pub fn put_manifest(
    state: &mut EcrState,
    repository: &str,
    manifest: &str,
    declared_media_type: Option<&str>,
    tag: Option<&str>,
    expected_digest: Option<&str>,
) -> Result<ManifestPut, PutManifestError> {
    let sequence = state.next_sequence();
    let repo = state.repositories.get_mut(repository).ok_or(PutManifestError::RepositoryNotFound)?;
    let doc: Value = serde_json::from_str(manifest)
        .map_err(|e| PutManifestError::Invalid(format!("the image manifest is not valid JSON: {e}")))?;
    if !doc.is_object() {
        return Err(PutManifestError::Invalid("the image manifest must be a JSON object".into()));
    }
    let media_type = resolve_media_type(declared_media_type, &doc)?;
    let digest = sha256_digest(manifest.as_bytes());
    if let Some(expected) = expected_digest.filter(|e| *e != digest) {
        return Err(PutManifestError::DigestMismatch { expected: expected.to_owned(), computed: digest });
    }
    let info = analyze(&media_type, &doc)?;
    check_references(repo, &info)?;

    if let Some(tag) = tag {
        match repo.tags.get(tag) {
            Some(current) if *current == digest && repo.images.contains_key(&digest) => {
                return Ok(ManifestPut { digest, media_type, changed: false });
            }
            Some(_) if repo.tag_is_immutable(tag) => {
                return Err(PutManifestError::TagImmutable { tag: tag.to_owned() });
            }
            _ => {}
        }
    }
    let is_new = !repo.images.contains_key(&digest);
    if is_new {
        repo.images.insert(
            digest.clone(),
            Image {
                digest: digest.clone(),
                manifest: manifest.to_owned(),
                media_type: media_type.clone(),
                artifact_media_type: info.artifact_media_type,
                size: info.size,
                pushed_at: now_epoch(),
                sequence,
            },
        );
    }
    if let Some(tag) = tag {
        repo.tags.insert(tag.to_owned(), digest.clone());
    }
    Ok(ManifestPut { digest, media_type, changed: is_new || tag.is_some() })
}

fn check_references(repo: &Repository, info: &ManifestInfo) -> Result<(), PutManifestError> {
    let missing_blobs: Vec<String> = info.blobs.iter().filter(|d| !repo.blobs.contains(*d)).cloned().collect();
    if !missing_blobs.is_empty() {
        return Err(PutManifestError::LayersNotFound(missing_blobs));
    }
    let missing_children: Vec<String> =
        info.children.iter().filter(|d| !repo.images.contains_key(*d)).cloned().collect();
    if !missing_children.is_empty() {
        return Err(PutManifestError::ReferencedImagesNotFound(missing_children));
    }
    Ok(())
}

/// Renders a refused PutImage in ECR's API error vocabulary.
fn put_image_error(ctx: &Ctx, repository: &str, e: PutManifestError) -> AwsError {
    let code = match &e {
        PutManifestError::RepositoryNotFound => return repository_not_found(ctx, repository),
        PutManifestError::Invalid(_) => "InvalidParameterException",
        PutManifestError::DigestMismatch { .. } => "ImageDigestDoesNotMatchException",
        PutManifestError::LayersNotFound(_) => "LayersNotFoundException",
        PutManifestError::ReferencedImagesNotFound(_) => "ReferencedImagesNotFoundException",
        PutManifestError::TagImmutable { .. } => "ImageTagAlreadyExistsException",
    };
    AwsError::client(code, e.message(ctx, repository))
}

/// REFERENCE 1.5: PutImage stores the exact manifest; re-putting what is already there is
/// `ImageAlreadyExistsException`, moving an immutable tag is `ImageTagAlreadyExistsException`.
pub fn put_image(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let repository = required_str(input, "repositoryName")?;
    let manifest = required_str(input, "imageManifest")?;
    let tag = opt_str(input, "imageTag");
    if let Some(tag) = tag {
        validate_tag(tag)?;
    }
    let expected_digest = opt_str(input, "imageDigest");
    let declared = opt_str(input, "imageManifestMediaType");
    let put = put_manifest(state, repository, manifest, declared, tag, expected_digest)
        .map_err(|e| put_image_error(ctx, repository, e))?;
    if !put.changed {
        return Err(AwsError::client(
            "ImageAlreadyExistsException",
            format!(
                "Image with digest '{}' and tag '{}' already exists in the repository with name '{repository}' in \
                 registry with id '{}'",
                put.digest,
                tag.unwrap_or("null"),
                ctx.account_id
            ),
        ));
    }
    let mut image_id = json!({ "imageDigest": put.digest });
    if let Some(tag) = tag {
        image_id["imageTag"] = json!(tag);
    }
    Ok(json!({
        "image": {
            "registryId": ctx.account_id,
            "repositoryName": repository,
            "imageId": image_id,
            "imageManifest": manifest,
            "imageManifestMediaType": put.media_type,
        }
    }))
}

fn validate_tag(tag: &str) -> AwsResult<()> {
    if tag.is_empty() || tag.len() > 300 {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid parameter at 'imageTag' failed to satisfy constraint: 'Member must have length between 1 and \
             300' (got '{tag}')"
        )));
    }
    Ok(())
}

/// Why an `imageIds` entry did not resolve, as BatchGetImage's `failureCode`.
enum LookupFailure {
    MissingDigestAndTag,
    InvalidImageDigest,
    NotFound,
}

/// Resolves one `{imageTag, imageDigest}`; when both are given the tag must point at that digest.
fn lookup<'r>(repo: &'r Repository, id: &Value) -> Result<&'r Image, LookupFailure> {
    let tag = opt_str(id, "imageTag");
    let digest = opt_str(id, "imageDigest");
    if digest.is_some_and(|d| !is_valid_digest(d)) {
        return Err(LookupFailure::InvalidImageDigest);
    }
    let image = match (tag, digest) {
        (None, None) => return Err(LookupFailure::MissingDigestAndTag),
        (Some(tag), _) => repo.tags.get(tag).and_then(|d| repo.images.get(d)),
        (None, Some(digest)) => repo.images.get(digest),
    };
    match image {
        Some(image) if digest.is_none_or(|d| d == image.digest) => Ok(image),
        _ => Err(LookupFailure::NotFound),
    }
}

fn image_ids(input: &Value) -> Option<&Vec<Value>> {
    input.get("imageIds").and_then(Value::as_array)
}

fn image_detail(ctx: &Ctx, repo: &Repository, image: &Image) -> Value {
    let mut out = json!({
        "registryId": ctx.account_id,
        "repositoryName": repo.name,
        "imageDigest": image.digest,
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
        "imageStatus": "ACTIVE",
    });
    let tags = repo.tags_of(&image.digest);
    // REFERENCE 1.2: `imageTags` is omitted, not `[]`, for untagged images.
    if !tags.is_empty() {
        out["imageTags"] = json!(tags);
    }
    if let Some(artifact) = &image.artifact_media_type {
        out["artifactMediaType"] = json!(artifact);
    }
    out
}

fn tag_status_matches(input: &Value, repo: &Repository, image: &Image) -> AwsResult<bool> {
    let tagged = repo.tags.values().any(|d| *d == image.digest);
    match input.pointer("/filter/tagStatus").and_then(Value::as_str).unwrap_or("ANY") {
        "ANY" => Ok(true),
        "TAGGED" => Ok(tagged),
        "UNTAGGED" => Ok(!tagged),
        other => Err(AwsError::invalid_parameter(format!("Invalid tagStatus '{other}'"))),
    }
}

fn images_by_push_order(repo: &Repository) -> Vec<&Image> {
    let mut images: Vec<&Image> = repo.images.values().collect();
    images.sort_by_key(|i| i.sequence);
    images
}

/// REFERENCE 1.2: any requested image that does not exist fails the whole call with `ImageNotFoundException`.
pub fn describe_images(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let repo = state.repository(ctx, name)?;
    let (start, max) = page_bounds(input, 100)?;
    let details: Vec<Value> = match image_ids(input) {
        Some(ids) => {
            let mut seen = std::collections::BTreeSet::new();
            let mut details = Vec::new();
            for id in ids {
                let image = lookup(repo, id).map_err(|_| image_not_found(ctx, name, id))?;
                if seen.insert(image.digest.clone()) {
                    details.push(image_detail(ctx, repo, image));
                }
            }
            details
        }
        None => {
            let mut details = Vec::new();
            for image in images_by_push_order(repo) {
                if tag_status_matches(input, repo, image)? {
                    details.push(image_detail(ctx, repo, image));
                }
            }
            details
        }
    };
    Ok(paginate(details, start, max, "imageDetails"))
}

fn image_not_found(ctx: &Ctx, repository: &str, id: &Value) -> AwsError {
    AwsError::client(
        "ImageNotFoundException",
        format!(
            "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with \
             name '{repository}' in the registry with id '{}'",
            opt_str(id, "imageDigest").unwrap_or("null"),
            opt_str(id, "imageTag").unwrap_or("null"),
            ctx.account_id
        ),
    )
}

pub fn list_images(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let repo = state.repository(ctx, name)?;
    let (start, max) = page_bounds(input, 100)?;
    let mut ids = Vec::new();
    for image in images_by_push_order(repo) {
        if !tag_status_matches(input, repo, image)? {
            continue;
        }
        let tags = repo.tags_of(&image.digest);
        if tags.is_empty() {
            ids.push(json!({ "imageDigest": image.digest }));
        }
        ids.extend(tags.into_iter().map(|t| json!({ "imageDigest": image.digest, "imageTag": t })));
    }
    Ok(paginate(ids, start, max, "imageIds"))
}

fn failure(id: &Value, code: &str, reason: &str) -> Value {
    json!({ "imageId": id, "failureCode": code, "failureReason": reason })
}

fn failure_for(id: &Value, why: LookupFailure) -> Value {
    match why {
        LookupFailure::MissingDigestAndTag => failure(id, "MissingDigestAndTag", "Missing image digest and tag"),
        LookupFailure::InvalidImageDigest => failure(id, "InvalidImageDigest", "Invalid image digest"),
        LookupFailure::NotFound => failure(id, "ImageNotFound", "Requested image not found"),
    }
}

fn required_image_ids(input: &Value) -> AwsResult<&Vec<Value>> {
    image_ids(input)
        .filter(|ids| (1..=100).contains(&ids.len()))
        .ok_or_else(|| AwsError::invalid_parameter("imageIds must contain between 1 and 100 items"))
}

/// REFERENCE 1.2: missing images do not fail the call; they are listed in `failures[]` with `ImageNotFound`.
/// The stored manifest is returned byte for byte whatever `acceptedMediaTypes` says (no schema conversion).
pub fn batch_get_image(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let repo = state.repository(ctx, name)?;
    let mut images = Vec::new();
    let mut failures = Vec::new();
    for id in required_image_ids(input)? {
        match lookup(repo, id) {
            Ok(image) => {
                let mut image_id = json!({ "imageDigest": image.digest });
                if let Some(tag) = opt_str(id, "imageTag") {
                    image_id["imageTag"] = json!(tag);
                }
                images.push(json!({
                    "registryId": ctx.account_id,
                    "repositoryName": name,
                    "imageId": image_id,
                    "imageManifest": image.manifest,
                    "imageManifestMediaType": image.media_type,
                }));
            }
            Err(why) => failures.push(failure_for(id, why)),
        }
    }
    Ok(json!({ "images": images, "failures": failures }))
}

/// Deleting by tag removes the tag (and the image with its last tag); deleting by digest removes the image and
/// all its tags. Missing images are reported in `failures[]`.
pub fn batch_delete_image(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let ids = required_image_ids(input)?.clone();
    let repo = state.repository_mut(ctx, name)?;
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for id in &ids {
        let digest = match lookup(repo, id) {
            Ok(image) => image.digest.clone(),
            Err(why) => {
                failures.push(failure_for(id, why));
                continue;
            }
        };
        match opt_str(id, "imageTag") {
            Some(tag) => {
                repo.tags.remove(tag);
                if repo.tags_of(&digest).is_empty() {
                    repo.images.remove(&digest);
                }
                deleted.push(json!({ "imageDigest": digest, "imageTag": tag }));
            }
            None => {
                let tags = repo.tags_of(&digest);
                repo.tags.retain(|_, d| *d != digest);
                repo.images.remove(&digest);
                if tags.is_empty() {
                    deleted.push(json!({ "imageDigest": digest }));
                }
                deleted.extend(tags.into_iter().map(|t| json!({ "imageDigest": digest, "imageTag": t })));
            }
        }
    }
    Ok(json!({ "imageIds": deleted, "failures": failures }))
}
