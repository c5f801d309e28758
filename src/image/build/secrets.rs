//! The BuildKit route for builds with secrets: a solve over the engine's `/grpc` endpoint whose session serves
//! the secrets (bollard's `/build` session does not).
//!
//! bollard's secret provider reads a file or an environment variable of this process. Setting environment
//! variables is racy in a multi-threaded program, so each secret goes into a 0600 file inside a 0700 directory
//! that is removed when the build ends, however it ends.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::grpc::build::{ImageBuildFrontendOptions, ImageBuildLoadInput, ImageBuildPlatform, SecretSource};
use bollard::grpc::driver::Build;
use bollard::grpc::driver::moby::Moby;
use bollard::grpc::error::GrpcError;
use bollard::moby::buildkit::v1::CacheOptionsEntry;
use secrecy::ExposeSecret;

use super::{BuildError, BuildRequest, BuiltImage, apply_extra_tags, inspect_id, session_id, unique_hex};
use crate::image::context::ContextTar;

pub(super) async fn build(
    docker: &Docker,
    req: &BuildRequest,
    tar: ContextTar,
    on_log: &mut (dyn FnMut(&str) + Send),
) -> Result<BuiltImage, BuildError> {
    let dir = SecretDir::create().map_err(|err| BuildError::Engine(format!("preparing build secrets: {err}")))?;
    let mut options = ImageBuildFrontendOptions::builder().dockerfile(Path::new(&tar.dockerfile));
    if let Some(target) = &req.target {
        options = options.target(target);
    }
    for (key, value) in &req.build_args {
        options = options.buildarg(key, value);
    }
    for (key, value) in &req.labels {
        options = options.label(key, value);
    }
    if let Some(platform) = req.platform.as_deref().and_then(parse_platform) {
        options = options.platforms(&platform);
    }
    if req.cache.inline {
        options = options.buildarg(super::INLINE_CACHE_ARG, "1");
    }
    for source in &req.cache.from {
        let attrs = HashMap::from([("ref".to_owned(), source.clone())]);
        options = options.cachefrom(&CacheOptionsEntry { r#type: "registry".into(), attrs });
    }
    for secret in &req.secrets {
        let path = dir
            .write(&secret.id, secret.value.expose_secret())
            .map_err(|err| BuildError::Engine(format!("preparing build secret `{}`: {err}", secret.id)))?;
        options = options.set_secret(&secret.id, &SecretSource::File(path));
    }

    // The engine's image exporter names the image; without a tag of our own the image could not be found again.
    let fallback = format!("pipeline-build:{}", session_id().trim_start_matches("pipeline-"));
    let name = if req.tags.is_empty() { fallback.clone() } else { req.tags.join(",") };
    on_log(&format!(
        "building with BuildKit (secrets: {}); step output is not streamed on this route",
        req.secrets.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
    ));
    let started = std::time::Instant::now();
    let credentials =
        req.registry_auth.as_ref().map(|auth| HashMap::from([(auth.server.as_str(), super::credentials(auth))]));
    let result = Moby::new(docker)
        .docker_build(&name, options.build(), ImageBuildLoadInput::Upload(tar.bytes.into()), credentials, None)
        .await;
    drop(dir);
    if let Err(err) = result {
        return Err(failure(err, on_log));
    }
    on_log(&format!("build finished in {:.1}s", started.elapsed().as_secs_f64()));
    let first = req.tags.first().unwrap_or(&fallback);
    let id = inspect_id(docker, Some(first)).await?;
    // The exporter applies every name given; re-tagging is idempotent and covers engines that take only one.
    apply_extra_tags(docker, &id, req.tags.iter().skip(1)).await?;
    Ok(BuiltImage { id })
}

/// A solve error carries BuildKit's message, e.g. `failed to compute cache key: "/x" not found` or
/// `executor failed running [/app]: exit code: 1` (then the step is `RUN [/app]`).
fn failure(err: GrpcError, on_log: &mut (dyn FnMut(&str) + Send)) -> BuildError {
    let message = match &err {
        GrpcError::TonicStatus { err } => err.message().to_string(),
        other => other.to_string(),
    };
    on_log(&format!("ERROR: {message}"));
    let step = message
        .split_once("executor failed running ")
        .map(|(_, rest)| format!("RUN {}", rest.split(": exit code").next().unwrap_or(rest)))
        .unwrap_or_else(|| "a step BuildKit does not name on this route (see the error below)".to_string());
    BuildError::Failed { step, tail: vec![format!("ERROR: {message}")] }
}

/// `linux/amd64` or `linux/arm64/v8`.
fn parse_platform(text: &str) -> Option<ImageBuildPlatform> {
    let mut parts = text.split('/');
    let (os, architecture) = (parts.next()?.to_string(), parts.next()?.to_string());
    Some(ImageBuildPlatform { os, architecture, variant: parts.next().map(str::to_string) })
}

/// A private directory of secret files, removed on drop.
struct SecretDir(PathBuf);

impl SecretDir {
    fn create() -> std::io::Result<SecretDir> {
        let path = std::env::temp_dir().join(format!("pipeline-secrets-{}", unique_hex()));
        fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(SecretDir(path))
    }

    fn write(&self, id: &str, value: &str) -> std::io::Result<PathBuf> {
        // The id only names the file; keep it from escaping the directory.
        let file_name: String = id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let path = self.0.join(format!("{file_name}-{}", &unique_hex()[..8]));
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        file.write_all(value.as_bytes())?;
        Ok(path)
    }
}

impl Drop for SecretDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn secret_files_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = SecretDir::create().unwrap();
        let path = dir.write("../npm token", "s3cr3t").unwrap();
        assert!(path.starts_with(&dir.0));
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&dir.0).unwrap().permissions().mode() & 0o777, 0o700);
        let root = dir.0.clone();
        drop(dir);
        assert!(!root.exists());
    }

    #[test]
    fn platforms_parse() {
        let p = parse_platform("linux/arm64/v8").unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()), ("linux", "arm64", Some("v8")));
        assert!(parse_platform("linux").is_none());
    }
}
