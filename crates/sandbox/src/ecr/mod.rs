//! Amazon ECR control plane (REFERENCE section 1), sharing one image store with the registry (`crate::registry`):
//! what `docker push` uploads is what DescribeImages and BatchGetImage report, and tag immutability is enforced by
//! the same function on both paths.

mod images;
mod lifecycle;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::protocol::json::{opt_str, required_str};
use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx, World};

pub use images::{ManifestPut, PutManifestError, put_manifest};

/// How long a GetAuthorizationToken result is valid (REFERENCE 1.3: 12 h).
const TOKEN_LIFETIME_SECS: f64 = 12.0 * 3600.0;

#[derive(Debug, Default)]
pub struct EcrState {
    pub repositories: BTreeMap<String, Repository>,
    /// Registry-wide, content-addressed blobs (layers and configs), keyed by `sha256:<hex>`.
    pub blobs: HashMap<String, Blob>,
    /// Blob uploads in progress, keyed by upload UUID.
    pub uploads: HashMap<String, Upload>,
    /// Orders images by push time even when two pushes share a timestamp.
    next_sequence: u64,
}

#[derive(Debug, Clone)]
pub struct Blob {
    pub size: u64,
    /// The bytes, or `None` when they live in the state dir (`<state_dir>/blobs/sha256/<hex>`).
    pub data: Option<Bytes>,
}

#[derive(Debug)]
pub struct Upload {
    pub repository: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMutability {
    Mutable,
    Immutable,
    ImmutableWithExclusion,
    MutableWithExclusion,
}

impl TagMutability {
    fn parse(s: &str) -> AwsResult<Self> {
        match s {
            "MUTABLE" => Ok(Self::Mutable),
            "IMMUTABLE" => Ok(Self::Immutable),
            "IMMUTABLE_WITH_EXCLUSION" => Ok(Self::ImmutableWithExclusion),
            "MUTABLE_WITH_EXCLUSION" => Ok(Self::MutableWithExclusion),
            other => Err(AwsError::invalid_parameter(format!(
                "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum \
                 value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]' (got '{other}')"
            ))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Mutable => "MUTABLE",
            Self::Immutable => "IMMUTABLE",
            Self::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
            Self::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
        }
    }

    fn uses_exclusions(self) -> bool {
        matches!(self, Self::ImmutableWithExclusion | Self::MutableWithExclusion)
    }
}

#[derive(Debug)]
pub struct Repository {
    pub name: String,
    pub arn: String,
    pub created_at: f64,
    pub mutability: TagMutability,
    /// The WILDCARD filters of the `*_WITH_EXCLUSION` modes.
    pub exclusion_filters: Vec<String>,
    pub resource_tags: Vec<Value>,
    pub scanning_configuration: Value,
    pub encryption_configuration: Value,
    pub images: BTreeMap<String, Image>,
    /// tag -> digest.
    pub tags: BTreeMap<String, String>,
    /// Blobs pushed to (or mounted into) this repository; ECR scopes layers per repository.
    pub blobs: BTreeSet<String>,
    pub lifecycle_policy: Option<String>,
}

impl Repository {
    /// Whether `tag`, once it exists, may not be moved to another image (REFERENCE 1.1 semantics).
    pub fn tag_is_immutable(&self, tag: &str) -> bool {
        let excluded = || self.exclusion_filters.iter().any(|f| wildcard_match(f, tag));
        match self.mutability {
            TagMutability::Mutable => false,
            TagMutability::Immutable => true,
            TagMutability::ImmutableWithExclusion => !excluded(),
            TagMutability::MutableWithExclusion => excluded(),
        }
    }

    pub fn tags_of(&self, digest: &str) -> Vec<String> {
        self.tags.iter().filter(|(_, d)| d.as_str() == digest).map(|(t, _)| t.clone()).collect()
    }

    /// Resolves a tag or a digest reference to an image digest.
    pub fn resolve(&self, reference: &str) -> Option<&Image> {
        if reference.starts_with("sha256:") {
            self.images.get(reference)
        } else {
            self.tags.get(reference).and_then(|d| self.images.get(d))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Image {
    pub digest: String,
    /// The exact manifest text as pushed; its sha256 is `digest`.
    pub manifest: String,
    pub media_type: String,
    /// The config's media type, ECR's `artifactMediaType`.
    pub artifact_media_type: Option<String>,
    pub size: u64,
    pub pushed_at: f64,
    pub sequence: u64,
}

/// `*` matches any run of characters, everything else matches itself (ECR's WILDCARD filter).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Position after the last `*` seen and the text position it was tried at, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `sha256:<hex>` of some bytes, the digest of blobs and manifests.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn is_valid_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The registry password for this sandbox. Derived from a per-process secret and the registry host, so every
/// sandbox has its own password, a token stays valid across `/_sandbox/reset`, and nothing needs storing.
pub fn registry_password(ctx: &Ctx) -> String {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    let secret = SECRET.get_or_init(rand::random);
    let mut hasher = Sha256::new();
    hasher.update(secret);
    hasher.update(ctx.registry_host.as_bytes());
    hex::encode(hasher.finalize())
}

pub fn repository_not_found(ctx: &Ctx, name: &str) -> AwsError {
    AwsError::client(
        "RepositoryNotFoundException",
        format!("The repository with name '{name}' does not exist in the registry with id '{}'", ctx.account_id),
    )
}

impl EcrState {
    pub fn repository(&self, ctx: &Ctx, name: &str) -> AwsResult<&Repository> {
        self.repositories.get(name).ok_or_else(|| repository_not_found(ctx, name))
    }

    pub fn repository_mut(&mut self, ctx: &Ctx, name: &str) -> AwsResult<&mut Repository> {
        self.repositories.get_mut(name).ok_or_else(|| repository_not_found(ctx, name))
    }

    fn next_sequence(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence
    }
}

pub fn handle(w: &mut World, ctx: &Ctx, op: &str, input: &Value) -> AwsResult<Value> {
    // Each account has its own registry: the caller's (an STS session's account, else the home account).
    let state = w.ecr_of(ctx);
    match op {
        "CreateRepository" => create_repository(state, ctx, input),
        "DescribeRepositories" => describe_repositories(state, ctx, input),
        "DeleteRepository" => delete_repository(state, ctx, input),
        "PutImageTagMutability" => put_image_tag_mutability(state, ctx, input),
        "ListTagsForResource" => list_tags_for_resource(state, ctx, input),
        "GetAuthorizationToken" => Ok(get_authorization_token(ctx)),
        "DescribeImages" => images::describe_images(state, ctx, input),
        "ListImages" => images::list_images(state, ctx, input),
        "BatchGetImage" => images::batch_get_image(state, ctx, input),
        "PutImage" => images::put_image(state, ctx, input),
        "BatchDeleteImage" => images::batch_delete_image(state, ctx, input),
        "PutLifecyclePolicy" => lifecycle::put(state, ctx, input),
        "GetLifecyclePolicy" => lifecycle::get(state, ctx, input),
        "DeleteLifecyclePolicy" => lifecycle::delete(state, ctx, input),
        _ => Err(AwsError::not_implemented("ecr", op)),
    }
}

/// Repository names: 2-256 chars, lowercase path components of alphanumerics joined by single `.`, `_` or `-`.
fn validate_repository_name(name: &str) -> AwsResult<()> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-'])
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    };
    if (2..=256).contains(&name.len()) && name.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(AwsError::invalid_parameter(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression \
             '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'' (got '{name}')"
        )))
    }
}

/// Validates `imageTagMutabilityExclusionFilters` against the mode (REFERENCE 1.1): 1-5 WILDCARD filters matching
/// `^[0-9a-zA-Z._*-]{1,128}$`, required by the `*_WITH_EXCLUSION` modes and refused by the others.
fn parse_exclusion_filters(mode: TagMutability, input: &Value) -> AwsResult<Vec<String>> {
    let filters = input.get("imageTagMutabilityExclusionFilters").and_then(Value::as_array);
    let Some(filters) = filters.filter(|f| !f.is_empty()) else {
        if mode.uses_exclusions() {
            return Err(AwsError::invalid_parameter(format!(
                "imageTagMutabilityExclusionFilters must be specified when imageTagMutability is {}",
                mode.as_str()
            )));
        }
        return Ok(Vec::new());
    };
    if !mode.uses_exclusions() {
        return Err(AwsError::invalid_parameter(format!(
            "imageTagMutabilityExclusionFilters can only be specified when imageTagMutability is \
             IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not {}",
            mode.as_str()
        )));
    }
    if filters.len() > 5 {
        return Err(AwsError::invalid_parameter(
            "imageTagMutabilityExclusionFilters must contain between 1 and 5 filters",
        ));
    }
    filters.iter().map(parse_exclusion_filter).collect()
}

fn parse_exclusion_filter(filter: &Value) -> AwsResult<String> {
    let filter_type = opt_str(filter, "filterType").unwrap_or_default();
    if filter_type != "WILDCARD" {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid parameter at 'filterType' failed to satisfy constraint: 'Member must satisfy enum value set: \
             [WILDCARD]' (got '{filter_type}')"
        )));
    }
    let text = opt_str(filter, "filter").unwrap_or_default();
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '*' | '-');
    if text.is_empty() || text.len() > 128 || !text.chars().all(valid_char) {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid parameter at 'filter' failed to satisfy constraint: 'Member must satisfy regular expression \
             pattern: ^[0-9a-zA-Z._*-]{{1,128}}' (got '{text}')"
        )));
    }
    Ok(text.to_owned())
}

fn exclusion_filters_json(repo: &Repository) -> Value {
    repo.exclusion_filters.iter().map(|f| json!({ "filterType": "WILDCARD", "filter": f })).collect()
}

fn repository_json(ctx: &Ctx, repo: &Repository) -> Value {
    let mut out = json!({
        "repositoryArn": repo.arn,
        "registryId": ctx.account_id,
        "repositoryName": repo.name,
        "repositoryUri": format!("{}/{}", ctx.registry_host, repo.name),
        "createdAt": repo.created_at,
        "imageTagMutability": repo.mutability.as_str(),
        "imageScanningConfiguration": repo.scanning_configuration,
        "encryptionConfiguration": repo.encryption_configuration,
    });
    if !repo.exclusion_filters.is_empty() {
        out["imageTagMutabilityExclusionFilters"] = exclusion_filters_json(repo);
    }
    out
}

fn create_repository(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    validate_repository_name(name)?;
    let mutability = TagMutability::parse(opt_str(input, "imageTagMutability").unwrap_or("MUTABLE"))?;
    let exclusion_filters = parse_exclusion_filters(mutability, input)?;
    let encryption_configuration = parse_encryption(input)?;
    if state.repositories.contains_key(name) {
        return Err(AwsError::client(
            "RepositoryAlreadyExistsException",
            format!("The repository with name '{name}' already exists in the registry with id '{}'", ctx.account_id),
        ));
    }
    let scan_on_push = input.pointer("/imageScanningConfiguration/scanOnPush").and_then(Value::as_bool);
    let repo = Repository {
        name: name.to_owned(),
        arn: ctx.arn("ecr", &format!("repository/{name}")),
        created_at: now_epoch(),
        mutability,
        exclusion_filters,
        resource_tags: input.get("tags").and_then(Value::as_array).cloned().unwrap_or_default(),
        scanning_configuration: json!({ "scanOnPush": scan_on_push.unwrap_or(false) }),
        encryption_configuration,
        images: BTreeMap::new(),
        tags: BTreeMap::new(),
        blobs: BTreeSet::new(),
        lifecycle_policy: None,
    };
    let out = json!({ "repository": repository_json(ctx, &repo) });
    state.repositories.insert(name.to_owned(), repo);
    Ok(out)
}

fn parse_encryption(input: &Value) -> AwsResult<Value> {
    let Some(config) = input.get("encryptionConfiguration") else {
        return Ok(json!({ "encryptionType": "AES256" }));
    };
    match opt_str(config, "encryptionType") {
        Some("AES256" | "KMS" | "KMS_DSSE") => Ok(config.clone()),
        other => Err(AwsError::invalid_parameter(format!(
            "Invalid parameter at 'encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: \
             [AES256, KMS, KMS_DSSE]' (got {other:?})"
        ))),
    }
}

/// Reads `maxResults` / `nextToken` (our tokens are plain offsets) for the paginated list operations.
pub(crate) fn page_bounds(input: &Value, default_max: usize) -> AwsResult<(usize, usize)> {
    let max = match input.get("maxResults").and_then(Value::as_u64) {
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => return Err(AwsError::invalid_parameter(format!("maxResults must be between 1 and 1000, got {n}"))),
        None => default_max,
    };
    let start = match opt_str(input, "nextToken") {
        Some(token) => token.parse().map_err(|_| AwsError::invalid_parameter("Invalid nextToken"))?,
        None => 0,
    };
    Ok((start, max))
}

/// Takes one page of `items` and adds `nextToken` to `out` when more remain.
pub(crate) fn paginate(items: Vec<Value>, start: usize, max: usize, key: &str) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(max).collect();
    let mut out = json!({ key: page });
    if start + max < total {
        out["nextToken"] = json!((start + max).to_string());
    }
    out
}

fn describe_repositories(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let (start, max) = page_bounds(input, 100)?;
    let names: Option<Vec<&str>> =
        input.get("repositoryNames").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect());
    let repos: Vec<Value> = match names {
        Some(names) => names
            .into_iter()
            .map(|n| state.repository(ctx, n).map(|r| repository_json(ctx, r)))
            .collect::<AwsResult<_>>()?,
        None => state.repositories.values().map(|r| repository_json(ctx, r)).collect(),
    };
    Ok(paginate(repos, start, max, "repositories"))
}

fn delete_repository(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let force = input.get("force").and_then(Value::as_bool).unwrap_or(false);
    let repo = state.repository(ctx, name)?;
    if !force && !repo.images.is_empty() {
        return Err(AwsError::client(
            "RepositoryNotEmptyException",
            format!(
                "The repository with name '{name}' in registry with id '{}' cannot be deleted because it still \
                 contains images",
                ctx.account_id
            ),
        ));
    }
    let out = json!({ "repository": repository_json(ctx, repo) });
    state.repositories.remove(name);
    Ok(out)
}

fn put_image_tag_mutability(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = required_str(input, "repositoryName")?;
    let mutability = TagMutability::parse(required_str(input, "imageTagMutability")?)?;
    let filters = parse_exclusion_filters(mutability, input)?;
    let repo = state.repository_mut(ctx, name)?;
    repo.mutability = mutability;
    repo.exclusion_filters = filters;
    let mut out = json!({
        "registryId": ctx.account_id,
        "repositoryName": name,
        "imageTagMutability": mutability.as_str(),
    });
    if !repo.exclusion_filters.is_empty() {
        out["imageTagMutabilityExclusionFilters"] = exclusion_filters_json(repo);
    }
    Ok(out)
}

fn list_tags_for_resource(state: &mut EcrState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let arn = required_str(input, "resourceArn")?;
    let repo = state.repositories.values().find(|r| r.arn == arn).ok_or_else(|| {
        let name = arn.rsplit_once(":repository/").map(|(_, n)| n).unwrap_or(arn);
        repository_not_found(ctx, name)
    })?;
    Ok(json!({ "tags": repo.resource_tags }))
}

/// REFERENCE 1.3: `authorizationToken` = base64(`AWS:<password>`), valid 12 h. The registry accepts the password as
/// HTTP Basic auth for user `AWS`.
fn get_authorization_token(ctx: &Ctx) -> Value {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", registry_password(ctx)));
    json!({
        "authorizationData": [{
            "authorizationToken": token,
            "expiresAt": now_epoch() + TOKEN_LIFETIME_SECS,
            "proxyEndpoint": format!("http://{}", ctx.registry_host),
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_ecr_exclusion_filters() {
        assert!(wildcard_match("latest", "latest"));
        assert!(!wildcard_match("latest", "latest2"));
        assert!(wildcard_match("dev-*", "dev-123"));
        assert!(wildcard_match("dev-*", "dev-"));
        assert!(!wildcard_match("dev-*", "prod-1"));
        assert!(wildcard_match("*-rc*", "v1-rc2"));
        assert!(wildcard_match("*", "anything"));
        assert!(!wildcard_match("a*b", "acbd"));
    }

    #[test]
    fn repository_names_follow_the_ecr_pattern() {
        assert!(validate_repository_name("team/app-1").is_ok());
        assert!(validate_repository_name("a.b_c").is_ok());
        assert!(validate_repository_name("App").is_err());
        assert!(validate_repository_name("a").is_err());
        assert!(validate_repository_name("a//b").is_err());
        assert!(validate_repository_name("a--b").is_err());
    }
}
