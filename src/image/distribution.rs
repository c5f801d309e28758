//! A small client of the registry's v2 API (the OCI distribution API ECR serves), for copying an image by
//! digest between registries: manifests by digest, blob existence, cross-repository mounts, and monolithic blob
//! uploads (POST, then PUT with the digest). Credentials are ECR's, in memory only. A transient answer (429, 5xx,
//! a network error) is retried, with the policy of every other HTTP call of the tool (`report/retry.rs`).

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use secrecy::ExposeSecret;

use super::push::registry_url;
use super::reference::{Digest, RegistryAuth};
use crate::Error;
use crate::report::retry::Retries;

/// Every manifest type a copy keeps as it is: Docker v2 and OCI images and their lists/indexes.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// A manifest exactly as the registry serves it (its sha256 is the digest).
#[derive(Debug, Clone)]
pub struct RawManifest {
    pub body: Bytes,
    pub media_type: String,
}

/// One registry host with its credentials.
pub struct Registry {
    http: reqwest::Client,
    base: String,
    auth: RegistryAuth,
}

impl Registry {
    pub fn new(auth: RegistryAuth) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| Error::RegistryAuth { registry: auth.server.clone(), message: e.to_string() })?;
        Ok(Self { http, base: registry_url(&auth.server), auth })
    }

    pub fn host(&self) -> &str {
        &self.auth.server
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url).basic_auth(&self.auth.username, Some(self.auth.password.expose_secret()))
    }

    /// Sends the request `build` makes, again while the answer is transient, so a registry hiccup does not fail
    /// a copy that a second try finishes. Every request of a copy may be repeated: reads, PUTs by digest, and
    /// the POST that opens an upload (a failed one opened nothing). The last answer, transient or not, is the
    /// caller's to judge.
    async fn send(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
        let mut retries = Retries::default();
        loop {
            let wait = match build().send().await {
                Ok(response) => match retries.after_response(response.status(), response.headers()) {
                    Some(wait) => wait,
                    None => return Ok(response),
                },
                Err(e) => retries.after_error().ok_or(e)?,
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn fail(&self, what: String, message: impl std::fmt::Display) -> Error {
        Error::Copy { image: format!("{}/{what}", self.auth.server), message: message.to_string() }
    }

    /// The manifest `reference` (a digest) names in `repo`, or `None` when the registry does not have it.
    pub async fn manifest(&self, repo: &str, reference: &Digest) -> Result<Option<RawManifest>, Error> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let what = format!("{repo}@{reference}");
        let response = self
            .send(|| self.request(reqwest::Method::GET, &url).header("Accept", MANIFEST_ACCEPT))
            .await
            .map_err(|e| self.fail(what.clone(), e))?;
        match response.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if !s.is_success() => return Err(self.fail(what, answer(response).await)),
            _ => {}
        }
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .unwrap_or_default();
        let body = response.bytes().await.map_err(|e| self.fail(what.clone(), e))?;
        // The digest is the content's: a registry that answers other bytes is not trusted with the copy.
        let actual = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)));
        if actual != reference.as_str() {
            return Err(self.fail(what, format!("the registry answered a manifest with digest {actual}")));
        }
        Ok(Some(RawManifest { body, media_type }))
    }

    /// Whether `repo` holds the blob (HEAD).
    pub async fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool, Error> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let response = self
            .send(|| self.request(reqwest::Method::HEAD, &url))
            .await
            .map_err(|e| self.fail(format!("{repo}@{digest}"), e))?;
        Ok(response.status().is_success())
    }

    pub async fn blob(&self, repo: &str, digest: &Digest) -> Result<Bytes, Error> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let what = format!("{repo}@{digest}");
        let response =
            self.send(|| self.request(reqwest::Method::GET, &url)).await.map_err(|e| self.fail(what.clone(), e))?;
        if !response.status().is_success() {
            return Err(self.fail(what, answer(response).await));
        }
        response.bytes().await.map_err(|e| self.fail(what, e))
    }

    /// Links a blob `from` (a repository of this same registry) already holds into `repo`; false when the
    /// registry wants it uploaded instead.
    pub async fn mount(&self, repo: &str, digest: &Digest, from: &str) -> Result<bool, Error> {
        let url = format!("{}/v2/{repo}/blobs/uploads/?mount={digest}&from={from}", self.base);
        let response = self
            .send(|| self.request(reqwest::Method::POST, &url).header("Content-Length", "0"))
            .await
            .map_err(|e| self.fail(format!("{repo}@{digest}"), e))?;
        if response.status() == StatusCode::ACCEPTED {
            // A registry that declines the mount opens an upload instead; close it rather than leave it dangling.
            if let Some(location) = location(&response) {
                let _ = self.request(reqwest::Method::DELETE, &self.absolute(&location)).send().await;
            }
        }
        Ok(response.status() == StatusCode::CREATED)
    }

    /// Uploads a blob in one piece: POST opens the upload, PUT with `?digest=` completes it.
    pub async fn upload(&self, repo: &str, digest: &Digest, data: Bytes) -> Result<(), Error> {
        let what = format!("{repo}@{digest}");
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        let started = self
            .send(|| self.request(reqwest::Method::POST, &url).header("Content-Length", "0"))
            .await
            .map_err(|e| self.fail(what.clone(), e))?;
        if started.status() != StatusCode::ACCEPTED {
            return Err(self.fail(what, answer(started).await));
        }
        let location = location(&started).ok_or_else(|| self.fail(what.clone(), "the upload has no Location"))?;
        let mut put = self.absolute(&location);
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest={digest}"));
        let done = self
            .send(|| {
                let put = self.request(reqwest::Method::PUT, &put);
                put.header("Content-Type", "application/octet-stream").body(data.clone())
            })
            .await
            .map_err(|e| self.fail(what.clone(), e))?;
        if done.status() != StatusCode::CREATED {
            return Err(self.fail(what, answer(done).await));
        }
        Ok(())
    }

    /// Puts the manifest bytes unchanged under their digest.
    pub async fn put_manifest(&self, repo: &str, digest: &Digest, manifest: &RawManifest) -> Result<(), Error> {
        let url = format!("{}/v2/{repo}/manifests/{digest}", self.base);
        let what = format!("{repo}@{digest}");
        let response = self
            .send(|| {
                let put = self.request(reqwest::Method::PUT, &url);
                put.header("Content-Type", &manifest.media_type).body(manifest.body.clone())
            })
            .await
            .map_err(|e| self.fail(what.clone(), e))?;
        if !response.status().is_success() {
            return Err(self.fail(what, answer(response).await));
        }
        Ok(())
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        }
    }
}

fn location(response: &reqwest::Response) -> Option<String> {
    response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The status and the registry's error text, for a message.
async fn answer(response: reqwest::Response) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    format!("{status}: {}", text.chars().take(300).collect::<String>())
}

/// The blobs and child manifests a manifest names: an image's config and layers, or an index's manifests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    pub blobs: Vec<(Digest, u64)>,
    pub manifests: Vec<Digest>,
}

pub fn references(manifest: &RawManifest) -> Result<References, String> {
    let value: serde_json::Value =
        serde_json::from_slice(&manifest.body).map_err(|e| format!("the manifest is not JSON: {e}"))?;
    let descriptor = |d: &serde_json::Value| -> Result<(Digest, u64), String> {
        let digest = d.get("digest").and_then(|v| v.as_str()).and_then(Digest::parse);
        let digest = digest.ok_or_else(|| format!("a descriptor without a sha256 digest: {d}"))?;
        Ok((digest, d.get("size").and_then(|v| v.as_u64()).unwrap_or(0)))
    };
    let mut refs = References::default();
    if let Some(children) = value.get("manifests").and_then(|m| m.as_array()) {
        for child in children {
            refs.manifests.push(descriptor(child)?.0);
        }
        return Ok(refs);
    }
    if let Some(config) = value.get("config") {
        refs.blobs.push(descriptor(config)?);
    }
    for layer in value.get("layers").and_then(|l| l.as_array()).into_iter().flatten() {
        refs.blobs.push(descriptor(layer)?);
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn an_image_names_its_config_and_layers_and_an_index_its_manifests() {
        let image = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}","size":10}},"layers":[{{"digest":"{}","size":20}}]}}"#,
            digest('a'),
            digest('b')
        );
        let refs = references(&RawManifest { body: image.into(), media_type: String::new() }).unwrap();
        assert_eq!(
            refs.blobs,
            vec![(Digest::parse(&digest('a')).unwrap(), 10), (Digest::parse(&digest('b')).unwrap(), 20)]
        );
        let index = format!(r#"{{"schemaVersion":2,"manifests":[{{"digest":"{}","size":5}}]}}"#, digest('c'));
        let refs = references(&RawManifest { body: index.into(), media_type: String::new() }).unwrap();
        assert_eq!(refs.manifests, vec![Digest::parse(&digest('c')).unwrap()]);
        assert!(refs.blobs.is_empty());
    }
}
