//! ECR conformance (REFERENCE section 1) with the real Rust SDK, plus the registry (`/v2`) that shares its image
//! store, driven by a small hand-written HTTP client.

mod common;

use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{
    ImageIdentifier, ImageTagMutability, ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType,
};
use base64::Engine;
use pipeline_sandbox::SandboxOptions;
use sha2::{Digest, Sha256};

const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn error_code<E: ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<no code>").to_owned()
}

fn exclusion(filter: &str) -> ImageTagMutabilityExclusionFilter {
    ImageTagMutabilityExclusionFilter::builder()
        .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
        .filter(filter)
        .build()
        .expect("filter")
}

fn tag(tag: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_tag(tag).build()
}

async fn create_repo(sb: &common::TestSandbox, name: &str, mode: ImageTagMutability, filters: &[&str]) {
    let mut request = sb.ecr().create_repository().repository_name(name).image_tag_mutability(mode);
    for f in filters {
        request = request.image_tag_mutability_exclusion_filters(exclusion(f));
    }
    request.send().await.unwrap_or_else(|e| panic!("CreateRepository {name}: {e:?}"));
}

/// What the tiny HTTP client got back.
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A dependency-free HTTP/1.1 request with `Connection: close` (the sandbox always sends `Content-Length`).
async fn http(method: &str, host: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    HttpResponse { status, headers, body: raw[split + 4..].to_vec() }
}

/// A registry client logged in with the password from GetAuthorizationToken.
struct Registry {
    host: String,
    auth: String,
}

impl Registry {
    async fn login(sb: &common::TestSandbox) -> Self {
        let token = sb.ecr().get_authorization_token().send().await.expect("GetAuthorizationToken");
        let token = token.authorization_data()[0].authorization_token().expect("token").to_owned();
        Self { host: sb.running.registry_host(), auth: format!("Basic {token}") }
    }

    async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        let mut all = vec![("Authorization", self.auth.as_str())];
        all.extend_from_slice(headers);
        http(method, &self.host, path, &all, body).await
    }

    /// The chunked upload `docker push` does: POST, PATCH the bytes, PUT with the digest.
    async fn upload_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let start = self.request("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"").await;
        assert_eq!(start.status, 202, "{}", start.text());
        let location = start.header("Location").expect("Location").to_owned();
        let patch = self.request("PATCH", &location, &[("Content-Type", "application/octet-stream")], data).await;
        assert_eq!(patch.status, 202, "{}", patch.text());
        assert_eq!(patch.header("Range"), Some(format!("0-{}", data.len() - 1).as_str()));
        let location = patch.header("Location").expect("Location").to_owned();
        let put = self.request("PUT", &format!("{location}?digest={digest}"), &[], b"").await;
        assert_eq!(put.status, 201, "{}", put.text());
        assert_eq!(put.header("Docker-Content-Digest"), Some(digest.as_str()));
        digest
    }

    /// Uploads a config and one layer and returns the schema 2 manifest referencing them.
    async fn upload_image_blobs(&self, repo: &str, content: &str) -> String {
        let layer = format!("layer bytes: {content}").into_bytes();
        let config = format!(r#"{{"architecture":"amd64","os":"linux","content":"{content}"}}"#).into_bytes();
        let layer_digest = self.upload_blob(repo, &layer).await;
        let config_digest = self.upload_blob(repo, &config).await;
        manifest(&config_digest, config.len(), &layer_digest, layer.len())
    }

    async fn put_manifest(&self, repo: &str, reference: &str, manifest: &str) -> HttpResponse {
        let path = format!("/v2/{repo}/manifests/{reference}");
        self.request("PUT", &path, &[("Content-Type", MANIFEST_V2)], manifest.as_bytes()).await
    }

    /// Pushes a one-layer image under `tag` and returns (digest, manifest text).
    async fn push(&self, repo: &str, tag: &str, content: &str) -> (String, String) {
        let manifest = self.upload_image_blobs(repo, content).await;
        let response = self.put_manifest(repo, tag, &manifest).await;
        assert_eq!(response.status, 201, "{}", response.text());
        let digest = response.header("Docker-Content-Digest").expect("digest").to_owned();
        assert_eq!(digest, sha256(manifest.as_bytes()));
        (digest, manifest)
    }
}

fn manifest(config_digest: &str, config_size: usize, layer_digest: &str, layer_size: usize) -> String {
    // Deliberately not serde's formatting: the registry must keep these exact bytes.
    format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{MANIFEST_V2}\",\n   \"config\": {{\"mediaType\": \
         \"application/vnd.docker.container.image.v1+json\", \"size\": {config_size}, \"digest\": \"{config_digest}\"}},\n   \
         \"layers\": [{{\"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"size\": {layer_size}, \
         \"digest\": \"{layer_digest}\"}}]\n}}"
    )
}

/// REFERENCE 1.1: all four `imageTagMutability` values are accepted and echoed; a second create of the same name is
/// `RepositoryAlreadyExistsException`; the URI is `<registry host>/<name>`.
#[tokio::test]
async fn create_repository_in_each_mutability_mode_and_refuse_duplicates() {
    let sb = common::TestSandbox::start().await;
    let modes = [
        ("mutable", ImageTagMutability::Mutable, vec![]),
        ("immutable", ImageTagMutability::Immutable, vec![]),
        ("team/immutable-excl", ImageTagMutability::ImmutableWithExclusion, vec!["latest", "dev-*"]),
        ("mutable-excl", ImageTagMutability::MutableWithExclusion, vec!["release-*"]),
    ];
    for (name, mode, filters) in &modes {
        let mut request = sb.ecr().create_repository().repository_name(*name).image_tag_mutability(mode.clone());
        for f in filters {
            request = request.image_tag_mutability_exclusion_filters(exclusion(f));
        }
        let repo = request.send().await.expect("CreateRepository").repository.expect("repository");
        assert_eq!(repo.image_tag_mutability(), Some(mode));
        assert_eq!(repo.repository_uri(), Some(format!("{}/{name}", sb.running.registry_host()).as_str()));
        assert_eq!(
            repo.repository_arn(),
            Some(format!("arn:aws:ecr:us-east-1:000000000000:repository/{name}").as_str())
        );
        let echoed: Vec<&str> = repo.image_tag_mutability_exclusion_filters().iter().map(|f| f.filter()).collect();
        assert_eq!(&echoed, filters);
        assert!(repo.created_at().is_some());
    }
    let err = sb.ecr().create_repository().repository_name("mutable").send().await.expect_err("duplicate");
    assert_eq!(error_code(&err), "RepositoryAlreadyExistsException");
}

/// REFERENCE 1.1: exclusion filters are required by the `*_WITH_EXCLUSION` modes, refused by the others, and must
/// match `^[0-9a-zA-Z._*-]{1,128}$` (1-5 of them).
#[tokio::test]
async fn exclusion_filters_are_validated_against_the_mode() {
    let sb = common::TestSandbox::start().await;
    let ecr = sb.ecr();
    let without = ecr
        .create_repository()
        .repository_name("a1")
        .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
        .send()
        .await
        .expect_err("filters required");
    assert_eq!(error_code(&without), "InvalidParameterException");
    let with_plain_mode = ecr
        .create_repository()
        .repository_name("a2")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .image_tag_mutability_exclusion_filters(exclusion("latest"))
        .send()
        .await
        .expect_err("filters refused");
    assert_eq!(error_code(&with_plain_mode), "InvalidParameterException");
    let bad_pattern = ecr
        .create_repository()
        .repository_name("a3")
        .image_tag_mutability(ImageTagMutability::MutableWithExclusion)
        .image_tag_mutability_exclusion_filters(exclusion("no/slashes"))
        .send()
        .await
        .expect_err("bad filter");
    assert_eq!(error_code(&bad_pattern), "InvalidParameterException");
    let mut six =
        ecr.create_repository().repository_name("a4").image_tag_mutability(ImageTagMutability::MutableWithExclusion);
    for i in 0..6 {
        six = six.image_tag_mutability_exclusion_filters(exclusion(&format!("f{i}")));
    }
    assert_eq!(error_code(&six.send().await.expect_err("too many")), "InvalidParameterException");
    let listed = ecr.describe_repositories().send().await.expect("DescribeRepositories");
    assert!(listed.repositories().is_empty(), "no invalid repository may be created");
}

/// REFERENCE 1.1: DescribeRepositories filters by name; a missing name is `RepositoryNotFoundException`; DeleteRepository
/// refuses a repository with images unless forced; PutImageTagMutability changes the mode.
#[tokio::test]
async fn describe_delete_and_change_mutability_of_repositories() {
    let sb = common::TestSandbox::start().await;
    let ecr = sb.ecr();
    create_repo(&sb, "one", ImageTagMutability::Mutable, &[]).await;
    create_repo(&sb, "two", ImageTagMutability::Mutable, &[]).await;
    let one = ecr.describe_repositories().repository_names("one").send().await.expect("describe one");
    assert_eq!(one.repositories().len(), 1);
    assert_eq!(one.repositories()[0].repository_name(), Some("one"));
    let missing = ecr.describe_repositories().repository_names("nope").send().await.expect_err("missing");
    assert_eq!(error_code(&missing), "RepositoryNotFoundException");

    let changed = ecr
        .put_image_tag_mutability()
        .repository_name("one")
        .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
        .image_tag_mutability_exclusion_filters(exclusion("latest"))
        .send()
        .await
        .expect("PutImageTagMutability");
    assert_eq!(changed.image_tag_mutability(), Some(&ImageTagMutability::ImmutableWithExclusion));
    let one = ecr.describe_repositories().repository_names("one").send().await.expect("describe one");
    assert_eq!(one.repositories()[0].image_tag_mutability(), Some(&ImageTagMutability::ImmutableWithExclusion));

    let registry = Registry::login(&sb).await;
    registry.push("one", "v1", "a").await;
    let not_empty = ecr.delete_repository().repository_name("one").send().await.expect_err("has images");
    assert_eq!(error_code(&not_empty), "RepositoryNotEmptyException");
    ecr.delete_repository().repository_name("one").force(true).send().await.expect("forced delete");
    ecr.delete_repository().repository_name("two").send().await.expect("delete empty");
    let gone = ecr.delete_repository().repository_name("two").send().await.expect_err("already gone");
    assert_eq!(error_code(&gone), "RepositoryNotFoundException");
}

/// REFERENCE 1.3: the token decodes to `AWS:<password>`, expires in about 12 h, and is what the registry accepts as
/// HTTP Basic credentials; without them `/v2/` answers 401 with a Basic challenge.
#[tokio::test]
async fn authorization_token_decodes_to_aws_user_and_opens_the_registry() {
    let sb = common::TestSandbox::start().await;
    let out = sb.ecr().get_authorization_token().send().await.expect("GetAuthorizationToken");
    let data = &out.authorization_data()[0];
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(data.authorization_token().expect("token")).expect("b64");
    let decoded = String::from_utf8(decoded).expect("utf8");
    let (user, password) = decoded.split_once(':').expect("user:password");
    assert_eq!(user, "AWS");
    assert!(!password.is_empty());
    assert_eq!(data.proxy_endpoint(), Some(format!("http://{}", sb.running.registry_host()).as_str()));
    let expires = data.expires_at().expect("expiresAt").secs();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    assert!((expires - now - 12 * 3600).abs() < 60, "expires in 12 h, got {}", expires - now);

    let host = sb.running.registry_host();
    let anonymous = http("GET", &host, "/v2/", &[], b"").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("WWW-Authenticate"), Some("Basic realm=\"pipeline-sandbox\""));
    assert_eq!(anonymous.json()["errors"][0]["code"], "UNAUTHORIZED");
    let wrong = base64::engine::general_purpose::STANDARD.encode("AWS:wrong");
    let wrong = http("GET", &host, "/v2/", &[("Authorization", &format!("Basic {wrong}"))], b"").await;
    assert_eq!(wrong.status, 401);
    let registry = Registry::login(&sb).await;
    let ok = registry.request("GET", "/v2/", &[], b"").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("Docker-Distribution-API-Version"), Some("registry/2.0"));
}

/// REFERENCE 1.2: an image pushed through the registry is what DescribeImages (digest = sha256 of the manifest bytes,
/// size = config + layers, media type) and BatchGetImage (exact manifest bytes) report; GET by tag and by digest
/// return the stored bytes with their media type.
#[tokio::test]
async fn pushed_images_are_described_and_served_byte_for_byte() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "team/app", ImageTagMutability::Mutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let (digest, manifest) = registry.push("team/app", "v1", "hello").await;

    let described = sb.ecr().describe_images().repository_name("team/app").image_ids(tag("v1")).send().await;
    let described = described.expect("DescribeImages");
    let detail = &described.image_details()[0];
    assert_eq!(detail.image_digest(), Some(digest.as_str()));
    assert_eq!(detail.image_tags(), ["v1".to_owned()]);
    assert_eq!(detail.image_manifest_media_type(), Some(MANIFEST_V2));
    let doc: serde_json::Value = serde_json::from_str(&manifest).expect("manifest json");
    let expected_size = doc["config"]["size"].as_i64().unwrap_or(0) + doc["layers"][0]["size"].as_i64().unwrap_or(0);
    assert_eq!(detail.image_size_in_bytes(), Some(expected_size));
    assert!(detail.image_pushed_at().is_some());

    let got = sb.ecr().batch_get_image().repository_name("team/app").image_ids(tag("v1")).send().await;
    let got = got.expect("BatchGetImage");
    assert_eq!(got.images()[0].image_manifest(), Some(manifest.as_str()));
    assert_eq!(got.images()[0].image_manifest_media_type(), Some(MANIFEST_V2));
    assert_eq!(got.images()[0].image_id().and_then(|i| i.image_digest()), Some(digest.as_str()));

    for reference in ["v1", digest.as_str()] {
        let response = registry.request("GET", &format!("/v2/team/app/manifests/{reference}"), &[], b"").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), manifest);
        assert_eq!(response.header("Content-Type"), Some(MANIFEST_V2));
        assert_eq!(response.header("Docker-Content-Digest"), Some(digest.as_str()));
    }
    let head = registry.request("HEAD", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some(manifest.len().to_string().as_str()));
    let layer = doc["layers"][0]["digest"].as_str().expect("layer digest");
    let blob = registry.request("GET", &format!("/v2/team/app/blobs/{layer}"), &[], b"").await;
    assert_eq!(blob.body, b"layer bytes: hello");
    let head = registry.request("HEAD", &format!("/v2/team/app/blobs/{layer}"), &[], b"").await;
    assert_eq!(head.header("Content-Length"), Some("18"));
    assert_eq!(head.header("Docker-Content-Digest"), Some(layer));
    let tags = registry.request("GET", "/v2/team/app/tags/list", &[], b"").await;
    assert_eq!(tags.json()["tags"], serde_json::json!(["v1"]));
}

/// REFERENCE 1.2: one missing tag among `imageIds` fails the whole DescribeImages call with `ImageNotFoundException`;
/// untagged images omit `imageTags`.
#[tokio::test]
async fn describe_images_fails_whole_call_on_a_missing_tag() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "app", ImageTagMutability::Mutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let (first, _) = registry.push("app", "v1", "one").await;
    let err = sb
        .ecr()
        .describe_images()
        .repository_name("app")
        .image_ids(tag("v1"))
        .image_ids(tag("missing"))
        .send()
        .await
        .expect_err("missing tag");
    assert_eq!(error_code(&err), "ImageNotFoundException");

    // Moving `v1` to a new image leaves the first one untagged.
    registry.push("app", "v1", "two").await;
    let by_digest = ImageIdentifier::builder().image_digest(&first).build();
    let described = sb.ecr().describe_images().repository_name("app").image_ids(by_digest).send().await;
    let described = described.expect("DescribeImages by digest");
    assert!(described.image_details()[0].image_tags.is_none(), "imageTags omitted when untagged");
    let all = sb.ecr().describe_images().repository_name("app").send().await.expect("all images");
    assert_eq!(all.image_details().len(), 2);
    let missing_repo = sb.ecr().describe_images().repository_name("nope").send().await.expect_err("no repo");
    assert_eq!(error_code(&missing_repo), "RepositoryNotFoundException");
}

/// REFERENCE 1.2: BatchGetImage lists missing tags in `failures[]` with `ImageNotFound` instead of failing.
#[tokio::test]
async fn batch_get_image_reports_missing_tags_as_failures() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "app", ImageTagMutability::Mutable, &[]).await;
    let registry = Registry::login(&sb).await;
    registry.push("app", "v1", "one").await;
    let out = sb
        .ecr()
        .batch_get_image()
        .repository_name("app")
        .image_ids(tag("v1"))
        .image_ids(tag("v9"))
        .accepted_media_types(MANIFEST_V2)
        .accepted_media_types("application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .expect("BatchGetImage");
    assert_eq!(out.images().len(), 1);
    assert_eq!(out.failures().len(), 1);
    let failure = &out.failures()[0];
    assert_eq!(failure.failure_code().map(|c| c.as_str()), Some("ImageNotFound"));
    assert_eq!(failure.image_id().and_then(|i| i.image_tag()), Some("v9"));
}

/// REFERENCE 1.5 and 1.4: PutImage retags an existing manifest; the same manifest under the same tag again is
/// `ImageAlreadyExistsException`; another manifest under an existing tag of an IMMUTABLE repo is
/// `ImageTagAlreadyExistsException`.
#[tokio::test]
async fn put_image_retags_and_distinguishes_already_exists_from_tag_already_exists() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "app", ImageTagMutability::Immutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let (digest, manifest) = registry.push("app", "v1", "one").await;

    let put = |tag: &str, manifest: &str| {
        sb.ecr()
            .put_image()
            .repository_name("app")
            .image_manifest(manifest)
            .image_manifest_media_type(MANIFEST_V2)
            .image_tag(tag)
            .send()
    };
    let retagged = put("release", &manifest).await.expect("retag");
    assert_eq!(retagged.image().and_then(|i| i.image_id()).and_then(|i| i.image_digest()), Some(digest.as_str()));
    let again = put("release", &manifest).await.expect_err("same manifest, same tag");
    assert_eq!(error_code(&again), "ImageAlreadyExistsException");

    let other = registry.upload_image_blobs("app", "two").await;
    let moved = put("v1", &other).await.expect_err("immutable tag");
    assert_eq!(error_code(&moved), "ImageTagAlreadyExistsException");
    assert_eq!(
        moved.message(),
        Some(
            "The image tag 'v1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable."
        )
    );
    let described = sb.ecr().describe_images().repository_name("app").image_ids(tag("v1")).send().await;
    assert_eq!(described.expect("describe").image_details()[0].image_digest(), Some(digest.as_str()));
}

/// REFERENCE 1.1 semantics: IMMUTABLE_WITH_EXCLUSION lets tags matching a filter move; MUTABLE_WITH_EXCLUSION makes
/// only the matching tags write-once (wildcard `*`).
#[tokio::test]
async fn exclusion_filters_decide_which_tags_may_move() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "imm", ImageTagMutability::ImmutableWithExclusion, &["latest", "dev-*"]).await;
    create_repo(&sb, "mut", ImageTagMutability::MutableWithExclusion, &["release-*"]).await;
    let registry = Registry::login(&sb).await;
    let put = |repo: &'static str, tag: &'static str, manifest: String| {
        sb.ecr().put_image().repository_name(repo).image_manifest(manifest).image_tag(tag).send()
    };
    for repo in ["imm", "mut"] {
        let first = registry.upload_image_blobs(repo, "one").await;
        let second = registry.upload_image_blobs(repo, "two").await;
        for t in ["latest", "dev-1", "v1", "release-1"] {
            put(repo, t, first.clone()).await.unwrap_or_else(|e| panic!("{repo}:{t} first put: {e:?}"));
        }
        let expectations: &[(&str, bool)] = match repo {
            "imm" => &[("latest", true), ("dev-1", true), ("v1", false), ("release-1", false)],
            _ => &[("latest", true), ("dev-1", true), ("v1", true), ("release-1", false)],
        };
        for (t, may_move) in expectations {
            let result = put(repo, t, second.clone()).await;
            match (may_move, result) {
                (true, Ok(_)) => {}
                (false, Err(e)) => assert_eq!(error_code(&e), "ImageTagAlreadyExistsException", "{repo}:{t}"),
                (may_move, other) => panic!("{repo}:{t}: may_move={may_move}, got {other:?}"),
            }
        }
    }
}

/// REFERENCE 1.4: a registry push of another manifest to an existing tag of an immutable repository is refused with
/// `TAG_INVALID` and ECR's message; re-pushing the same manifest is a success.
#[tokio::test]
async fn registry_refuses_to_move_an_immutable_tag() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "app", ImageTagMutability::Immutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let (digest, manifest) = registry.push("app", "v1", "one").await;
    let same = registry.put_manifest("app", "v1", &manifest).await;
    assert_eq!(same.status, 201, "{}", same.text());

    let other = registry.upload_image_blobs("app", "two").await;
    let refused = registry.put_manifest("app", "v1", &other).await;
    assert_eq!(refused.status, 400);
    let error = &refused.json()["errors"][0];
    assert_eq!(error["code"], "TAG_INVALID");
    assert_eq!(
        error["message"],
        "The image tag 'v1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable."
    );
    let described = sb.ecr().describe_images().repository_name("app").image_ids(tag("v1")).send().await;
    assert_eq!(described.expect("describe").image_details()[0].image_digest(), Some(digest.as_str()));
}

/// REFERENCE 1.4 / 1.5 errors: a wrong `imageDigest` is `ImageDigestDoesNotMatchException`; layers never uploaded are
/// `LayersNotFoundException` (and MANIFEST_BLOB_UNKNOWN on the registry); a push to a missing repository is
/// NAME_UNKNOWN, as on ECR.
#[tokio::test]
async fn manifests_are_checked_against_digest_layers_and_repository() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "app", ImageTagMutability::Mutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let manifest = registry.upload_image_blobs("app", "one").await;
    let wrong_digest = format!("sha256:{}", "0".repeat(64));
    let err = sb
        .ecr()
        .put_image()
        .repository_name("app")
        .image_manifest(&manifest)
        .image_tag("v1")
        .image_digest(&wrong_digest)
        .send()
        .await
        .expect_err("digest mismatch");
    assert_eq!(error_code(&err), "ImageDigestDoesNotMatchException");

    let dangling = manifest.replace(&sha256(b"layer bytes: one"), &wrong_digest);
    let err = sb.ecr().put_image().repository_name("app").image_manifest(&dangling).image_tag("v1").send().await;
    assert_eq!(error_code(&err.expect_err("missing layer")), "LayersNotFoundException");
    let response = registry.put_manifest("app", "v1", &dangling).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");

    let response = registry.request("POST", "/v2/missing/blobs/uploads/", &[], b"").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["errors"][0]["code"], "NAME_UNKNOWN");
    let err = sb.ecr().put_image().repository_name("missing").image_manifest(&manifest).send().await;
    assert_eq!(error_code(&err.expect_err("no repo")), "RepositoryNotFoundException");
}

/// The blob-upload protocol docker uses: a wrong digest is DIGEST_INVALID, a monolithic `POST ?digest=` works, and a
/// cross-repository mount of a blob the source holds is 201 without any upload.
#[tokio::test]
async fn blob_uploads_verify_digests_and_mount_across_repositories() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "src", ImageTagMutability::Mutable, &[]).await;
    create_repo(&sb, "dst", ImageTagMutability::Mutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let start = registry.request("POST", "/v2/src/blobs/uploads/", &[], b"").await;
    let location = start.header("Location").expect("Location").to_owned();
    registry.request("PATCH", &location, &[], b"some bytes").await;
    let wrong = registry.request("PUT", &format!("{location}?digest={}", sha256(b"other")), &[], b"").await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["errors"][0]["code"], "DIGEST_INVALID");

    let data = b"monolithic blob";
    let digest = sha256(data);
    let mono = registry.request("POST", &format!("/v2/src/blobs/uploads/?digest={digest}"), &[], data).await;
    assert_eq!(mono.status, 201, "{}", mono.text());
    let absent = registry.request("HEAD", &format!("/v2/dst/blobs/{digest}"), &[], b"").await;
    assert_eq!(absent.status, 404, "blobs are scoped per repository");
    let mount = registry.request("POST", &format!("/v2/dst/blobs/uploads/?mount={digest}&from=src"), &[], b"").await;
    assert_eq!(mount.status, 201, "{}", mount.text());
    assert_eq!(mount.header("Docker-Content-Digest"), Some(digest.as_str()));
    let present = registry.request("GET", &format!("/v2/dst/blobs/{digest}"), &[], b"").await;
    assert_eq!(present.body, data);
    let unknown = format!("sha256:{}", "1".repeat(64));
    let fallback =
        registry.request("POST", &format!("/v2/dst/blobs/uploads/?mount={unknown}&from=src"), &[], b"").await;
    assert_eq!(fallback.status, 202, "an unmountable blob starts a normal upload");
}

/// BatchDeleteImage: deleting a tag removes it (and the image with its last tag); a missing tag is a failure entry.
#[tokio::test]
async fn batch_delete_image_removes_tags_and_images() {
    let sb = common::TestSandbox::start().await;
    create_repo(&sb, "app", ImageTagMutability::Mutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let (_, manifest) = registry.push("app", "v1", "one").await;
    sb.ecr().put_image().repository_name("app").image_manifest(&manifest).image_tag("v2").send().await.expect("retag");
    let out = sb
        .ecr()
        .batch_delete_image()
        .repository_name("app")
        .image_ids(tag("v1"))
        .image_ids(tag("nope"))
        .send()
        .await
        .expect("BatchDeleteImage");
    assert_eq!(out.image_ids().len(), 1);
    assert_eq!(out.failures()[0].failure_code().map(|c| c.as_str()), Some("ImageNotFound"));
    let left = sb.ecr().describe_images().repository_name("app").send().await.expect("describe");
    assert_eq!(left.image_details()[0].image_tags(), ["v2".to_owned()]);
    sb.ecr().batch_delete_image().repository_name("app").image_ids(tag("v2")).send().await.expect("delete last tag");
    let left = sb.ecr().describe_images().repository_name("app").send().await.expect("describe");
    assert!(left.image_details().is_empty());
}

/// REFERENCE 1.6: a policy round-trips byte for byte; Get/Delete without one is `LifecyclePolicyNotFoundException`;
/// duplicate `rulePriority` is `InvalidParameterException`.
#[tokio::test]
async fn lifecycle_policy_round_trip_and_validation() {
    let sb = common::TestSandbox::start().await;
    let ecr = sb.ecr();
    create_repo(&sb, "app", ImageTagMutability::Mutable, &[]).await;
    let missing = ecr.get_lifecycle_policy().repository_name("app").send().await.expect_err("none yet");
    assert_eq!(error_code(&missing), "LifecyclePolicyNotFoundException");
    let policy = r#"{"rules":[
 {"rulePriority":1,"description":"expire untagged after 14d",
  "selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},
  "action":{"type":"expire"}},
 {"rulePriority":2,"description":"keep 50 release images",
  "selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":50},
  "action":{"type":"expire"}}]}"#;
    ecr.put_lifecycle_policy().repository_name("app").lifecycle_policy_text(policy).send().await.expect("put policy");
    let got = ecr.get_lifecycle_policy().repository_name("app").send().await.expect("get policy");
    assert_eq!(got.lifecycle_policy_text(), Some(policy));

    let duplicate = policy.replace("\"rulePriority\":2", "\"rulePriority\":1");
    let err = ecr.put_lifecycle_policy().repository_name("app").lifecycle_policy_text(duplicate).send().await;
    assert_eq!(error_code(&err.expect_err("duplicate priority")), "InvalidParameterException");

    let deleted = ecr.delete_lifecycle_policy().repository_name("app").send().await.expect("delete policy");
    assert_eq!(deleted.lifecycle_policy_text(), Some(policy));
    let again = ecr.delete_lifecycle_policy().repository_name("app").send().await.expect_err("already deleted");
    assert_eq!(error_code(&again), "LifecyclePolicyNotFoundException");
    let no_repo = ecr.get_lifecycle_policy().repository_name("nope").send().await.expect_err("no repo");
    assert_eq!(error_code(&no_repo), "RepositoryNotFoundException");
}

/// With a state dir, pushed blobs are files under `<state_dir>/blobs/sha256/<hex>` and are served from there.
#[tokio::test]
async fn blobs_live_in_the_state_dir_when_one_is_given() {
    let dir = std::env::temp_dir().join(format!("sandbox-ecr-test-{}", std::process::id()));
    let sb =
        common::TestSandbox::with(SandboxOptions { state_dir: Some(dir.clone()), ..SandboxOptions::default() }).await;
    create_repo(&sb, "app", ImageTagMutability::Mutable, &[]).await;
    let registry = Registry::login(&sb).await;
    let digest = registry.upload_blob("app", b"on disk").await;
    let file = dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    assert_eq!(std::fs::read(&file).expect("blob file"), b"on disk");
    let served = registry.request("GET", &format!("/v2/app/blobs/{digest}"), &[], b"").await;
    assert_eq!(served.body, b"on disk");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Unemulated ECR operations are errors naming the operation, never silent successes.
#[tokio::test]
async fn an_unemulated_operation_is_an_error_naming_it() {
    let sb = common::TestSandbox::start().await;
    let err = sb.ecr().describe_registry().send().await.expect_err("not emulated");
    assert!(format!("{err:?}").contains("DescribeRegistry"), "{err:?}");
}
