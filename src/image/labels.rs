//! An image's labels, read through the registry API (manifest, then config blob): the OCI
//! `org.opencontainers.image.revision` label names the commit an image was built from. ECR's own
//! API does not return image configs.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use super::push::registry_url;
use super::reference::{Digest, RegistryAuth, Repository};

pub const REVISION: &str = "org.opencontainers.image.revision";

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, \
                      application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// The labels of the image `digest` in `repo`; `None` when the registry cannot tell (an answer
/// other than 200, a manifest without a config). For an index, the first image's labels.
pub async fn labels(repo: &Repository, auth: &RegistryAuth, digest: &Digest) -> Option<BTreeMap<String, String>> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().ok()?;
    let base = format!("{}/v2/{}", registry_url(&repo.registry), repo.name);
    let get = |url: String| {
        let request = client.get(url).basic_auth(&auth.username, Some(auth.password.expose_secret()));
        async move {
            let response = request.header("Accept", ACCEPT).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.json::<Value>().await.ok()
        }
    };
    let mut manifest = get(format!("{base}/manifests/{digest}")).await?;
    if let Some(first) = manifest.get("manifests").and_then(|m| m.get(0)).and_then(|m| m.get("digest")) {
        manifest = get(format!("{base}/manifests/{}", first.as_str()?)).await?;
    }
    let config = manifest.pointer("/config/digest")?.as_str()?;
    let blob = get(format!("{base}/blobs/{config}")).await?;
    let labels = blob.pointer("/config/Labels")?.as_object()?;
    Some(labels.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
}
