//! The Docker Registry HTTP API v2 (`/v2/...`) backing ECR: what `docker login`, `push` and `pull` use.
//!
//! Images land in the same store as the ECR API (`crate::ecr`), so DescribeImages reflects real pushes and a push of
//! an existing tag into an immutable repository fails with ECR's `TAG_INVALID` error. Authentication is HTTP Basic
//! `AWS:<password>` with the password from GetAuthorizationToken. The world lock is only taken between awaits.
//! Each account has its own registry host (the home account's is the API port) and its own image store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use serde_json::json;

use crate::ecr::{self, Blob, EcrState, PutManifestError, Upload, is_valid_digest, sha256_digest};
use crate::{Ctx, Sandbox};

/// One request's view: the sandbox and the account whose registry host was addressed.
struct Registry<'a> {
    sb: &'a Sandbox,
    ctx: Ctx,
}

impl Registry<'_> {
    /// Runs `f` on this account's ECR under the world lock.
    fn ecr<T>(&self, f: impl FnOnce(&mut EcrState) -> T) -> T {
        f(self.sb.world().ecr_of(&self.ctx))
    }
}

/// Largest blob or manifest body read in one request.
const MAX_BODY: usize = 1024 * 1024 * 1024;
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// One registry error, rendered as `{"errors":[{"code","message","detail"}]}`.
struct RegistryError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

type RegistryResult = Result<Response, RegistryError>;

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> RegistryError {
    RegistryError { status, code, message: message.into() }
}

impl RegistryError {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "code": self.code, "message": self.message, "detail": null }] });
        let mut response = build(self.status, &[("content-type", "application/json".into())], body.to_string());
        if self.status == StatusCode::UNAUTHORIZED {
            set_header(&mut response, "www-authenticate", "Basic realm=\"pipeline-sandbox\"");
        }
        response
    }
}

fn build(status: StatusCode, headers: &[(&str, String)], body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    set_header(&mut response, API_VERSION.0, API_VERSION.1);
    for (name, value) in headers {
        set_header(&mut response, name, value);
    }
    response
}

fn set_header(response: &mut Response, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) =
        (axum::http::HeaderName::from_bytes(name.as_bytes()), axum::http::HeaderValue::from_str(value))
    {
        response.headers_mut().insert(name, value);
    }
}

/// What a `/v2/...` path addresses. Repository names may contain `/`, so the kind is read from the end.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Base,
    Catalog,
    Tags { name: String },
    Manifest { name: String, reference: String },
    Blob { name: String, digest: String },
    UploadStart { name: String },
    Upload { name: String, uuid: String },
}

fn parse_route(path: &str) -> Option<Route> {
    let rest = match path {
        "/v2" | "/v2/" => return Some(Route::Base),
        "/v2/_catalog" => return Some(Route::Catalog),
        _ => path.strip_prefix("/v2/")?,
    };
    let (head, last) = rest.rsplit_once('/')?;
    let last = percent_decode(last);
    let name_before = |suffix: &str| head.strip_suffix(suffix).filter(|n| !n.is_empty()).map(str::to_owned);
    if let Some(name) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
        return (!name.is_empty()).then(|| Route::UploadStart { name: name.to_owned() });
    }
    if let Some(name) = name_before("/blobs/uploads") {
        return Some(Route::Upload { name, uuid: last });
    }
    if let Some(name) = name_before("/manifests") {
        return Some(Route::Manifest { name, reference: last });
    }
    if let Some(name) = name_before("/blobs") {
        return Some(Route::Blob { name, digest: last });
    }
    if last == "list" {
        return name_before("/tags").map(|name| Route::Tags { name });
    }
    None
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Accepts `Authorization: Basic base64(AWS:<password>)` with this sandbox's registry password.
fn authorized(ctx: &Ctx, headers: &HeaderMap) -> bool {
    let Some(encoded) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")).map(str::trim))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    decoded == format!("AWS:{}", ecr::registry_password(ctx)).as_bytes()
}

/// The home account's registry (served on the API port).
pub async fn handle(sb: Arc<Sandbox>, request: Request) -> Response {
    let home = sb.ctx.home_account.clone();
    handle_in(sb, &home, request).await
}

/// The registry of `account`.
pub async fn handle_in(sb: Arc<Sandbox>, account: &str, request: Request) -> Response {
    let r = Registry { sb: &sb, ctx: sb.ctx.for_account(account) };
    let (parts, body) = request.into_parts();
    // Fault injection on any registry request (`"operation":"request"`): throttling is the registry's 429
    // TOOMANYREQUESTS, an error its 500, latency a delay.
    let fault = sb.world().faults.check("registry", "request");
    match fault {
        Some(crate::faults::FaultAction::Fail(e)) if e.code.contains("Throttl") => {
            return error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", "Rate exceeded").into_response();
        }
        Some(crate::faults::FaultAction::Fail(e)) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", e.message).into_response();
        }
        Some(crate::faults::FaultAction::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    // Fault injection: `{"kind":"error","service":"registry","operation":"auth"}` makes the registry refuse
    // every login, as a registry with revoked credentials would.
    let refused = matches!(sb.world().faults.check("registry", "auth"), Some(crate::faults::FaultAction::Fail(_)));
    if refused || !authorized(&r.ctx, &parts.headers) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required").into_response();
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let Some(route) = parse_route(parts.uri.path()) else {
        return error(StatusCode::NOT_FOUND, "UNSUPPORTED", format!("no registry route for {}", parts.uri.path()))
            .into_response();
    };
    let method = parts.method.clone();
    // Counted in `/_sandbox/calls` as `registry:<operation>`, so tests can tell a copy from a no-op.
    sb.world().calls.record("registry", operation(&method, &route));
    let sb = &r;
    let result = match (&method, route) {
        (&Method::GET | &Method::HEAD, Route::Base) => {
            Ok(build(StatusCode::OK, &[("content-type", "application/json".into())], "{}"))
        }
        (&Method::GET, Route::Catalog) => Ok(catalog(sb)),
        (&Method::GET, Route::Tags { name }) => tags_list(sb, &name),
        (&Method::GET | &Method::HEAD, Route::Manifest { name, reference }) => {
            get_manifest(sb, &name, &reference, method == Method::HEAD)
        }
        (&Method::PUT, Route::Manifest { name, reference }) => {
            put_manifest(sb, &name, &reference, &parts.headers, body).await
        }
        (&Method::GET | &Method::HEAD, Route::Blob { name, digest }) => {
            get_blob(sb, &name, &digest, method == Method::HEAD).await
        }
        (&Method::POST, Route::UploadStart { name }) => start_upload(sb, &name, &query, body).await,
        (&Method::GET, Route::Upload { name, uuid }) => upload_status(sb, &name, &uuid),
        (&Method::PATCH, Route::Upload { name, uuid }) => patch_upload(sb, &name, &uuid, &parts.headers, body).await,
        (&Method::PUT, Route::Upload { name, uuid }) => finish_upload(sb, &name, &uuid, &query, body).await,
        (&Method::DELETE, Route::Upload { name, uuid }) => cancel_upload(sb, &name, &uuid),
        (method, route) => Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            format!("{method} is not supported on {route:?} by this registry"),
        )),
    };
    result.unwrap_or_else(RegistryError::into_response)
}

/// The name a registry request is counted under in `/_sandbox/calls`.
fn operation(method: &Method, route: &Route) -> &'static str {
    match (method, route) {
        (_, Route::Base) => "Ping",
        (_, Route::Catalog) => "Catalog",
        (_, Route::Tags { .. }) => "ListTags",
        (&Method::PUT, Route::Manifest { .. }) => "PutManifest",
        (&Method::HEAD, Route::Manifest { .. }) => "HeadManifest",
        (_, Route::Manifest { .. }) => "GetManifest",
        (&Method::HEAD, Route::Blob { .. }) => "HeadBlob",
        (_, Route::Blob { .. }) => "GetBlob",
        (_, Route::UploadStart { .. }) => "StartUpload",
        (&Method::PATCH, Route::Upload { .. }) => "PatchUpload",
        (&Method::PUT, Route::Upload { .. }) => "PutUpload",
        (_, Route::Upload { .. }) => "Upload",
    }
}

/// NAME_UNKNOWN unless the ECR repository exists: as on ECR, pushing to a repository that was never created fails.
fn require_repository(sb: &Registry<'_>, name: &str) -> Result<(), RegistryError> {
    if sb.ecr(|e| e.repositories.contains_key(name)) {
        Ok(())
    } else {
        Err(error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", ecr::repository_not_found(&sb.ctx, name).message))
    }
}

async fn read_body(body: Body) -> Result<Bytes, RegistryError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", format!("could not read the body: {e}")))
}

fn catalog(sb: &Registry<'_>) -> Response {
    let names: Vec<String> = sb.ecr(|e| e.repositories.keys().cloned().collect());
    build(StatusCode::OK, &[("content-type", "application/json".into())], json!({ "repositories": names }).to_string())
}

fn tags_list(sb: &Registry<'_>, name: &str) -> RegistryResult {
    require_repository(sb, name)?;
    let tags: Vec<String> =
        sb.ecr(|e| e.repositories.get(name).map(|r| r.tags.keys().cloned().collect()).unwrap_or_default());
    let body = json!({ "name": name, "tags": tags }).to_string();
    Ok(build(StatusCode::OK, &[("content-type", "application/json".into())], body))
}

fn get_manifest(sb: &Registry<'_>, name: &str, reference: &str, head: bool) -> RegistryResult {
    require_repository(sb, name)?;
    let image = sb.ecr(|e| e.repositories.get(name).and_then(|r| r.resolve(reference)).cloned());
    let image = image.ok_or_else(|| {
        error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", format!("Requested image not found: {name}:{reference}"))
    })?;
    let headers = [
        ("content-type", image.media_type.clone()),
        ("docker-content-digest", image.digest.clone()),
        ("etag", format!("\"{}\"", image.digest)),
        ("content-length", image.manifest.len().to_string()),
    ];
    let body = if head { Body::empty() } else { Body::from(image.manifest) };
    Ok(build(StatusCode::OK, &headers, body))
}

/// Stores the exact manifest bytes under a tag or a digest reference. Re-pushing the same manifest to the same tag is
/// a success; moving an immutable tag is ECR's `TAG_INVALID` (REFERENCE 1.4).
async fn put_manifest(
    sb: &Registry<'_>,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    body: Body,
) -> RegistryResult {
    require_repository(sb, name)?;
    let bytes = read_body(body).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", "the manifest is not UTF-8 JSON"))?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(|v| v.trim());
    let (tag, expected_digest) =
        if reference.starts_with("sha256:") { (None, Some(reference)) } else { (Some(reference), None) };
    let result = sb.ecr(|e| ecr::put_manifest(e, name, text, content_type, tag, expected_digest));
    let put = result.map_err(|e| manifest_error(&sb.ctx, name, e))?;
    let headers = [
        ("location", format!("/v2/{name}/manifests/{}", put.digest)),
        ("docker-content-digest", put.digest),
        ("content-length", "0".into()),
    ];
    Ok(build(StatusCode::CREATED, &headers, Body::empty()))
}

fn manifest_error(ctx: &Ctx, name: &str, e: PutManifestError) -> RegistryError {
    let message = e.message(ctx, name);
    let (status, code) = match e {
        PutManifestError::RepositoryNotFound => (StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        PutManifestError::Invalid(_) => (StatusCode::BAD_REQUEST, "MANIFEST_INVALID"),
        PutManifestError::DigestMismatch { .. } => (StatusCode::BAD_REQUEST, "DIGEST_INVALID"),
        PutManifestError::LayersNotFound(_) => (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"),
        PutManifestError::ReferencedImagesNotFound(_) => (StatusCode::BAD_REQUEST, "MANIFEST_UNKNOWN"),
        PutManifestError::TagImmutable { .. } => (StatusCode::BAD_REQUEST, "TAG_INVALID"),
    };
    error(status, code, message)
}

fn blob_path(state_dir: &Path, digest: &str) -> PathBuf {
    state_dir.join("blobs").join("sha256").join(digest.trim_start_matches("sha256:"))
}

async fn get_blob(sb: &Registry<'_>, name: &str, digest: &str, head: bool) -> RegistryResult {
    require_repository(sb, name)?;
    let blob = sb.ecr(|e| {
        let linked = e.repositories.get(name).is_some_and(|r| r.blobs.contains(digest));
        e.blobs.get(digest).filter(|_| linked).cloned()
    });
    let blob = blob.ok_or_else(|| error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", format!("blob unknown: {digest}")))?;
    let headers = [
        ("content-type", "application/octet-stream".to_owned()),
        ("docker-content-digest", digest.to_owned()),
        ("etag", format!("\"{digest}\"")),
        ("content-length", blob.size.to_string()),
    ];
    if head {
        return Ok(build(StatusCode::OK, &headers, Body::empty()));
    }
    let data = match (blob.data, &sb.sb.state_dir) {
        (Some(data), _) => data,
        (None, Some(dir)) => tokio::fs::read(blob_path(dir, digest))
            .await
            .map(Bytes::from)
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("reading blob {digest}: {e}")))?,
        (None, None) => return Err(error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", format!("blob unknown: {digest}"))),
    };
    Ok(build(StatusCode::OK, &headers, data))
}

/// Keeps a verified blob (in memory, or as a file under the state dir) and links it into `name`.
async fn store_blob(sb: &Registry<'_>, name: &str, digest: &str, data: Bytes) -> Result<(), RegistryError> {
    let size = data.len() as u64;
    let kept = match &sb.sb.state_dir {
        Some(dir) => {
            write_blob_file(&blob_path(dir, digest), &data).await.map_err(|e| {
                error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storing blob {digest}: {e}"))
            })?;
            None
        }
        None => Some(data),
    };
    sb.ecr(|e| {
        e.blobs.insert(digest.to_owned(), Blob { size, data: kept });
        if let Some(repo) = e.repositories.get_mut(name) {
            repo.blobs.insert(digest.to_owned());
        }
    });
    Ok(())
}

/// Writes through a temporary file and a rename, so a crash never leaves a truncated blob under its digest.
async fn write_blob_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
    tokio::fs::write(&tmp, data).await?;
    tokio::fs::rename(&tmp, path).await
}

fn blob_created(name: &str, digest: &str) -> Response {
    let headers = [
        ("location", format!("/v2/{name}/blobs/{digest}")),
        ("docker-content-digest", digest.to_owned()),
        ("content-length", "0".into()),
    ];
    build(StatusCode::CREATED, &headers, Body::empty())
}

fn upload_accepted(status: StatusCode, name: &str, uuid: &str, size: usize) -> Response {
    let headers = [
        ("location", format!("/v2/{name}/blobs/uploads/{uuid}")),
        ("docker-upload-uuid", uuid.to_owned()),
        // The registry spec reports the inclusive last byte received; an empty upload still says `0-0`.
        ("range", format!("0-{}", size.saturating_sub(1))),
        ("content-length", "0".into()),
    ];
    build(status, &headers, Body::empty())
}

/// Checks that `data` hashes to `digest`. Hashing a large layer takes a while, so it runs off the async workers.
async fn check_digest(digest: &str, data: Bytes) -> Result<Bytes, RegistryError> {
    if !is_valid_digest(digest) {
        return Err(error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", format!("invalid digest '{digest}'")));
    }
    let (computed, data) = tokio::task::spawn_blocking(move || (sha256_digest(&data), data))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("hashing failed: {e}")))?;
    if computed != digest {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("provided digest {digest} does not match uploaded content {computed}"),
        ));
    }
    Ok(data)
}

/// `POST .../blobs/uploads/`: a cross-repository mount (`?mount=&from=`), a monolithic upload (`?digest=`), or the
/// start of a chunked upload.
async fn start_upload(sb: &Registry<'_>, name: &str, query: &HashMap<String, String>, body: Body) -> RegistryResult {
    require_repository(sb, name)?;
    if let Some(digest) = query.get("mount")
        && mount(sb, name, digest, query.get("from").map(String::as_str))
    {
        return Ok(blob_created(name, digest));
    }
    if let Some(digest) = query.get("digest") {
        let data = check_digest(digest, read_body(body).await?).await?;
        store_blob(sb, name, digest, data).await?;
        return Ok(blob_created(name, digest));
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    sb.ecr(|e| e.uploads.insert(uuid.clone(), Upload { repository: name.to_owned(), data: Vec::new() }));
    Ok(upload_accepted(StatusCode::ACCEPTED, name, &uuid, 0))
}

/// Links a blob the source repository (of the same registry) already holds; false means the client must upload it.
fn mount(sb: &Registry<'_>, name: &str, digest: &str, from: Option<&str>) -> bool {
    sb.ecr(|e| {
        let in_source = from
            .and_then(|f| e.repositories.get(f))
            .is_some_and(|r| r.blobs.contains(digest) && e.blobs.contains_key(digest));
        if in_source && let Some(repo) = e.repositories.get_mut(name) {
            repo.blobs.insert(digest.to_owned());
            return true;
        }
        false
    })
}

fn upload_unknown(uuid: &str) -> RegistryError {
    error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", format!("blob upload unknown: {uuid}"))
}

fn upload_status(sb: &Registry<'_>, name: &str, uuid: &str) -> RegistryResult {
    let size = sb.ecr(|e| e.uploads.get(uuid).filter(|u| u.repository == name).map(|u| u.data.len()));
    let size = size.ok_or_else(|| upload_unknown(uuid))?;
    Ok(upload_accepted(StatusCode::NO_CONTENT, name, uuid, size))
}

/// Appends a chunk. A `Content-Range` must start where the upload stands (416 otherwise).
async fn patch_upload(sb: &Registry<'_>, name: &str, uuid: &str, headers: &HeaderMap, body: Body) -> RegistryResult {
    let chunk = read_body(body).await?;
    let start = headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split('-').next()?.trim().parse().ok());
    sb.ecr(|e| {
        let upload = e.uploads.get_mut(uuid).filter(|u| u.repository == name).ok_or_else(|| upload_unknown(uuid))?;
        if let Some(start) = start.filter(|s: &usize| *s != upload.data.len()) {
            return Err(error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID",
                format!("chunk starts at {start} but the upload has {} bytes", upload.data.len()),
            ));
        }
        upload.data.extend_from_slice(&chunk);
        Ok(upload_accepted(StatusCode::ACCEPTED, name, uuid, upload.data.len()))
    })
}

/// `PUT .../uploads/<uuid>?digest=`: appends the optional last chunk, verifies the sha256 and stores the blob.
async fn finish_upload(
    sb: &Registry<'_>,
    name: &str,
    uuid: &str,
    query: &HashMap<String, String>,
    body: Body,
) -> RegistryResult {
    let digest = query
        .get("digest")
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "the digest query parameter is required"))?
        .clone();
    let last_chunk = read_body(body).await?;
    let upload = sb.ecr(|e| match e.uploads.get(uuid) {
        Some(u) if u.repository == name => e.uploads.remove(uuid),
        _ => None,
    });
    let mut data = upload.ok_or_else(|| upload_unknown(uuid))?.data;
    data.extend_from_slice(&last_chunk);
    let data = check_digest(&digest, Bytes::from(data)).await?;
    store_blob(sb, name, &digest, data).await?;
    Ok(blob_created(name, &digest))
}

fn cancel_upload(sb: &Registry<'_>, name: &str, uuid: &str) -> RegistryResult {
    sb.ecr(|e| match e.uploads.get(uuid) {
        Some(u) if u.repository == name => {
            e.uploads.remove(uuid);
            Ok(build(StatusCode::NO_CONTENT, &[], Body::empty()))
        }
        _ => Err(upload_unknown(uuid)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_read_the_kind_from_the_end_of_nested_names() {
        let manifest = Route::Manifest { name: "team/app".into(), reference: "v1".into() };
        assert_eq!(parse_route("/v2/team/app/manifests/v1"), Some(manifest));
        let blob = Route::Blob { name: "a/b/c".into(), digest: "sha256:00".into() };
        assert_eq!(parse_route("/v2/a/b/c/blobs/sha256%3A00"), Some(blob));
        assert_eq!(parse_route("/v2/app/blobs/uploads/"), Some(Route::UploadStart { name: "app".into() }));
        let upload = Route::Upload { name: "x/app".into(), uuid: "u-1".into() };
        assert_eq!(parse_route("/v2/x/app/blobs/uploads/u-1"), Some(upload));
        assert_eq!(parse_route("/v2/app/tags/list"), Some(Route::Tags { name: "app".into() }));
        assert_eq!(parse_route("/v2/"), Some(Route::Base));
        assert_eq!(parse_route("/v2/app"), None);
    }
}
