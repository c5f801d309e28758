//! Pushing a built image through the Docker engine, with ECR credentials handed over in memory.

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;
use secrecy::ExposeSecret;

use super::reference::{Digest, RegistryAuth, Repository};
use crate::Error;

/// Pushes `repo:tag` (already tagged locally) and returns the digest the registry reported.
/// `on_progress` gets one line per layer state change ("Pushed", "Layer already exists").
pub async fn push(
    docker: &Docker,
    repo: &Repository,
    tag: &str,
    auth: &RegistryAuth,
    on_progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Digest, Error> {
    let image = repo.tagged(tag);
    // The credentials travel in the X-Registry-Auth header of this one request; nothing is written
    // to a docker config file.
    let credentials = DockerCredentials {
        username: Some(auth.username.clone()),
        password: Some(auth.password.expose_secret().to_owned()),
        serveraddress: Some(auth.server.clone()),
        ..Default::default()
    };
    // The engine may speak an older API than bollard's default (20.10 speaks 1.41).
    let docker = docker
        .clone()
        .negotiate_version()
        .await
        .map_err(|e| Error::Push { image: image.clone(), message: e.to_string() })?;
    let options = PushImageOptionsBuilder::new().tag(tag).build();
    let mut stream = docker.push_image(&repo.uri(), Some(options), Some(credentials));
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| classify(&image, &auth.server, e))?;
        if let Some(status) = info.status.as_deref() {
            if let Some(d) = digest_in_status(status) {
                digest = Some(d);
            }
            if !status.starts_with("Pushing") && !status.starts_with("Waiting") {
                on_progress(status);
            }
        }
    }
    digest.ok_or_else(|| Error::Push { image, message: "the engine did not report a digest for the push".into() })
}

/// Checks the credentials against the registry's `/v2/` before handing them to the engine: the
/// engine retries a refused push for a long time, this answers in one request. Only a clear 401
/// fails; anything else is left for the push itself to report.
pub async fn verify_auth(auth: &RegistryAuth) -> Result<(), Error> {
    let url = format!("{}/v2/", registry_url(&auth.server));
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build();
    let Ok(client) = client else { return Ok(()) };
    let response = client.get(&url).basic_auth(&auth.username, Some(auth.password.expose_secret())).send().await;
    match response {
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => Err(Error::RegistryAuth {
            registry: auth.server.clone(),
            message: "the registry answered 401 Unauthorized to the ECR authorization token".into(),
        }),
        _ => Ok(()),
    }
}

/// `scheme://host` of a registry: Docker talks plain HTTP to loopback registries (the sandbox) and
/// HTTPS to everything else.
pub fn registry_url(host: &str) -> String {
    let local = host.starts_with("127.") || host.starts_with("localhost");
    format!("{}://{host}", if local { "http" } else { "https" })
}

/// The engine ends a push with `<tag>: digest: sha256:... size: N`.
fn digest_in_status(status: &str) -> Option<Digest> {
    let (_, rest) = status.split_once("digest: ")?;
    Digest::parse(rest.split_whitespace().next()?)
}

fn classify(image: &str, registry: &str, e: bollard::errors::Error) -> Error {
    let message = match &e {
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    };
    let lower = message.to_ascii_lowercase();
    if lower.contains("unauthorized") || lower.contains("authentication required") || lower.contains("no basic auth") {
        return Error::RegistryAuth { registry: registry.to_owned(), message };
    }
    Error::Push { image: image.to_owned(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_read_from_the_final_status_line() {
        let line = format!("sha-0123456789ab: digest: sha256:{} size: 528", "c".repeat(64));
        assert_eq!(digest_in_status(&line).map(|d| d.to_string()), Some(format!("sha256:{}", "c".repeat(64))));
        assert_eq!(digest_in_status("Pushed"), None);
    }
}
