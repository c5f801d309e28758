//! Image build through the Docker engine API (bollard): BuildKit by default, the classic builder as fallback.
//!
//! Two BuildKit routes, because bollard's `/build` session serves registry auth but not secrets:
//! - without build secrets: `POST /build?version=2` with a session, which streams BuildKit status (vertices and
//!   their logs) that `build_log` renders as `docker build --progress=plain` would;
//! - with build secrets: a BuildKit solve over the engine's `/grpc` endpoint (bollard's Moby driver), whose
//!   session does serve secrets. Each secret is handed over as a 0600 file in a private directory deleted right
//!   after the build; it never becomes a build arg, a label or a log line. That route reports no progress, only
//!   the outcome.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard::Docker;
use bollard::models::{BuildInfo, BuildInfoAux};
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures_util::StreamExt;
use miette::Diagnostic;
use secrecy::SecretString;

use super::build_log::BuildLog;
pub use super::cache::{CachePlan, INLINE_CACHE_ARG};
use super::context::{self, ContextError, ContextTar};
use super::reference::RegistryAuth;

mod secrets;

/// A build secret: mounted by `RUN --mount=type=secret,id=<id>` (BuildKit only).
#[derive(Debug, Clone)]
pub struct BuildSecret {
    pub id: String,
    pub value: SecretString,
}

#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    pub context: PathBuf,
    /// Absolute path; may be outside `context`.
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub secrets: Vec<BuildSecret>,
    pub labels: BTreeMap<String, String>,
    /// Local tags to apply, e.g. `127.0.0.1:4599/web:sha-abc`.
    pub tags: Vec<String>,
    /// e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// Images to take layer cache from (BuildKit only), and whether to write inline cache metadata.
    pub cache: CachePlan,
    /// Credentials for the registry the cache sources live in (pulls only).
    pub registry_auth: Option<RegistryAuth>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The engine's image id, `sha256:...`.
    pub id: String,
}

/// Which builder to use. `Auto` is BuildKit when the engine has it (and `DOCKER_BUILDKIT` is not `0`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Builder {
    #[default]
    Auto,
    BuildKit,
    Classic,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum BuildError {
    #[error("cannot reach the Docker engine at {host}: {reason}")]
    #[diagnostic(
        code(pipeline::build::engine_unavailable),
        help(
            "is Docker running? pipeline talks to the engine at DOCKER_HOST (default unix:///var/run/docker.sock); \
             start the daemon, or set DOCKER_HOST=unix:///path/to/docker.sock or tcp://host:2375"
        )
    )]
    EngineUnavailable { host: String, reason: String },

    #[error("the Dockerfile {} does not exist", .0.display())]
    #[diagnostic(
        code(pipeline::build::dockerfile_not_found),
        help("set `image.dockerfile` in .pipeline.yml (relative to the config file), or add a Dockerfile there")
    )]
    DockerfileNotFound(PathBuf),

    #[error("cannot pack the build context: {0}")]
    #[diagnostic(code(pipeline::build::context), help("check `image.context` in .pipeline.yml and its .dockerignore"))]
    Context(ContextError),

    #[error("the image build failed at {step}")]
    #[diagnostic(code(pipeline::build::failed), help("last lines of the build:\n{}", .tail.join("\n")))]
    Failed { step: String, tail: Vec<String> },

    #[error("build secrets ({}) need BuildKit, and this engine builds with the classic builder", .ids.join(", "))]
    #[diagnostic(
        code(pipeline::build::secrets_need_buildkit),
        help(
            "use a Docker engine with BuildKit (18.09+ on Linux, DOCKER_BUILDKIT not set to 0); the classic \
             builder could only pass secrets as build args, which end up in the image history"
        )
    )]
    SecretsNeedBuildKit { ids: Vec<String> },

    #[error("cannot build for {platform} ({from}) on the Docker engine at {host} ({engine}): {reason}")]
    #[diagnostic(
        code(pipeline::build::platform),
        help(
            "register QEMU emulation on the runner (GitHub Actions: the `docker/setup-qemu-action` step before \
             pipeline; Debian/Ubuntu: `apt-get install qemu-user-static binfmt-support`), or build on a runner of \
             that architecture; the platform follows the task definition's `runtimePlatform` (or `image.platform`)"
        )
    )]
    PlatformUnsupported { platform: String, from: String, host: String, engine: String, reason: String },

    #[error("image.platform is {configured}, but the task definition's runtimePlatform asks for {task_definition}")]
    #[diagnostic(
        code(pipeline::build::platform_conflict),
        help("remove `image.platform` from .pipeline.yml (the task definition decides), or make the two agree")
    )]
    PlatformConflict { configured: String, task_definition: String },

    #[error("the Docker engine refused the build: {0}")]
    #[diagnostic(code(pipeline::build::engine))]
    Engine(String),
}

/// Connects to `host` (`unix://`, `tcp://` or `http://`), as `DOCKER_HOST` names it ([`crate::ci::Ci::docker_host`]).
/// The connection is lazy: an engine that is down shows up at the first call, which `build` turns into
/// `EngineUnavailable`.
pub fn connect(host: &str) -> Result<Docker, BuildError> {
    Docker::connect_with_host(host)
        .map_err(|err| BuildError::EngineUnavailable { host: host.to_string(), reason: engine_reason(&err) })
}

/// Asks the engine at `host` whether it answers (read-only), so a release that will build finds out
/// before the first change rather than after creating the repository.
pub async fn ping(host: &str) -> Result<(), BuildError> {
    let docker = connect(host)?;
    docker
        .negotiate_version()
        .await
        .map(drop)
        .map_err(|err| BuildError::EngineUnavailable { host: host.to_string(), reason: engine_reason(&err) })
}

/// The engine stopped answering; [`BuildError::on_host`] names which one.
fn unavailable(reason: &str) -> BuildError {
    BuildError::EngineUnavailable { host: String::new(), reason: reason.to_string() }
}

impl BuildError {
    /// Names the engine in an `EngineUnavailable` that does not say which one yet.
    pub fn on_host(self, engine: &str) -> Self {
        match self {
            BuildError::EngineUnavailable { host, reason } if host.is_empty() => {
                BuildError::EngineUnavailable { host: engine.to_owned(), reason }
            }
            other => other,
        }
    }
}

/// Builds the image with BuildKit when the engine has it, the classic builder otherwise.
pub async fn build(
    docker: &Docker,
    req: &BuildRequest,
    on_log: &mut (dyn FnMut(&str) + Send),
) -> Result<BuiltImage, BuildError> {
    build_with(docker, req, Builder::Auto, on_log).await
}

/// `build` with an explicit builder choice.
pub async fn build_with(
    docker: &Docker,
    req: &BuildRequest,
    builder: Builder,
    on_log: &mut (dyn FnMut(&str) + Send),
) -> Result<BuiltImage, BuildError> {
    if !req.dockerfile.is_file() {
        return Err(BuildError::DockerfileNotFound(req.dockerfile.clone()));
    }
    // Before anything slow: an engine that is down should say so at once.
    let docker = docker.clone().negotiate_version().await.map_err(|err| unavailable(&engine_reason(&err)))?;
    let buildkit = match builder {
        Builder::BuildKit => true,
        Builder::Classic => false,
        Builder::Auto => engine_has_buildkit(&docker).await?,
    };
    if !buildkit && !req.secrets.is_empty() {
        return Err(BuildError::SecretsNeedBuildKit { ids: req.secrets.iter().map(|s| s.id.clone()).collect() });
    }

    let tar = pack_context(req).await?;
    on_log(&format!("sending build context: {} entries, {} bytes", tar.entries, tar.bytes.len()));

    if buildkit && !req.secrets.is_empty() {
        return secrets::build(&docker, req, tar, on_log).await;
    }
    match stream_build(&docker, req, tar, buildkit, on_log).await {
        // An engine that looked BuildKit-capable but refuses `version=2` (BuildKit disabled in its config, a
        // proxy that cannot upgrade the session): with `Auto`, the classic builder still gets the job done.
        Err(BuildError::Engine(message)) if builder == Builder::Auto && buildkit && refuses_buildkit(&message) => {
            on_log(&format!("BuildKit unavailable ({message}); building with the classic builder"));
            stream_build(&docker, req, pack_context(req).await?, false, on_log).await
        }
        // An engine whose builder takes no registry cache (e.g. a driver without cache import): said once, and
        // the same build runs without it. The cache only ever saves work, so the result is the same.
        Err(BuildError::Engine(message)) if req.cache != CachePlan::default() && refuses_cache(&message) => {
            on_log(&format!("the engine cannot use the registry layer cache ({message}): building without it"));
            let plain = BuildRequest { cache: CachePlan::default(), ..req.clone() };
            stream_build(&docker, &plain, pack_context(req).await?, buildkit, on_log).await
        }
        other => other,
    }
}

/// Engine answers that refuse the cache options themselves, as opposed to a build that failed.
fn refuses_cache(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("cache") && ["not supported", "unsupported", "unknown cache"].iter().any(|n| message.contains(n))
}

/// Packs the context off the async threads (it reads the whole tree).
async fn pack_context(req: &BuildRequest) -> Result<ContextTar, BuildError> {
    let (context, dockerfile) = (req.context.clone(), req.dockerfile.clone());
    tokio::task::spawn_blocking(move || context::pack(&context, &dockerfile))
        .await
        .map_err(|err| BuildError::Engine(format!("packing the context panicked: {err}")))?
        .map_err(|err| match err {
            ContextError::DockerfileNotFound(path) => BuildError::DockerfileNotFound(path),
            other => BuildError::Context(other),
        })
}

/// Engine answers that mean "no BuildKit here", as opposed to a build that failed.
fn refuses_buildkit(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["buildkit", "builder version", "session"].iter().any(|needle| message.contains(needle))
}

/// BuildKit when the engine is a Linux engine new enough to serve `version=2` builds (API 1.39, Docker 18.09).
/// (`DOCKER_BUILDKIT=0` is the caller's [`Builder::Classic`].)
async fn engine_has_buildkit(docker: &Docker) -> Result<bool, BuildError> {
    let version = docker.version().await.map_err(|err| unavailable(&engine_reason(&err)))?;
    let linux = version.os.as_deref().is_none_or(|os| os.eq_ignore_ascii_case("linux"));
    let api = version.api_version.as_deref().and_then(parse_api_version).unwrap_or((0, 0));
    Ok(linux && api >= (1, 39))
}

fn parse_api_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The `/build` endpoint, BuildKit (with a session) or classic, progress streamed line by line.
async fn stream_build(
    docker: &Docker,
    req: &BuildRequest,
    tar: ContextTar,
    buildkit: bool,
    on_log: &mut (dyn FnMut(&str) + Send),
) -> Result<BuiltImage, BuildError> {
    let labels: HashMap<&str, &str> = req.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut build_args: HashMap<&str, &str> = req.build_args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if buildkit && req.cache.inline {
        build_args.insert(INLINE_CACHE_ARG, "1");
    }
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&tar.dockerfile)
        .labels(&labels)
        .buildargs(&build_args)
        // Intermediate containers of the classic builder are not worth keeping around.
        .rm(true)
        .forcerm(true);
    // The engine takes several `t` values; bollard's builder takes one, so the first goes here and the others
    // are added with `tag_image` afterwards.
    if let Some(first) = req.tags.first() {
        options = options.t(first);
    }
    if let Some(target) = &req.target {
        options = options.target(target);
    }
    if let Some(platform) = &req.platform {
        options = options.platform(platform);
    }
    if buildkit {
        options = options.version(BuilderVersion::BuilderBuildKit).session(&session_id());
        if !req.cache.from.is_empty() {
            options = options.cachefrom(&req.cache.from);
        }
    } else {
        options = options.version(BuilderVersion::BuilderV1);
        if !req.cache.from.is_empty() {
            // The classic builder only reuses cache images already pulled; it cannot fetch them itself.
            on_log("the classic builder cannot take layer cache from the registry: building without it");
        }
    }
    let body = bollard::body_full(tar.bytes.into());
    // BuildKit asks the session for registry credentials when it pulls a cache source (or a base image).
    let credentials = req.registry_auth.as_ref().map(|auth| HashMap::from([(auth.server.clone(), credentials(auth))]));
    let mut stream = docker.build_image(options.build(), credentials, Some(body));

    let mut log = BuildLog::default();
    let mut image_id = None;
    loop {
        // bollard's stream also carries the BuildKit session, which the engine keeps open for seconds after the
        // build: once the image id is in (the build is done and the image named), only a short tail of lines
        // is waited for. Without this every BuildKit build took ~5 s longer than its steps.
        let item = match &image_id {
            Some(_) if buildkit => match tokio::time::timeout(SESSION_TAIL, stream.next()).await {
                Ok(item) => item,
                Err(_) => break,
            },
            _ => stream.next().await,
        };
        let Some(item) = item else { break };
        let info = match item {
            Ok(info) => info,
            Err(err) => return Err(failure(&mut log, &err, on_log)),
        };
        for line in render(&mut log, &info, &mut image_id) {
            on_log(&line);
        }
    }
    let id = match image_id {
        Some(id) => id,
        // Some engines only report the id in the classic "Successfully built" line; fall back to the tag.
        None => inspect_id(docker, req.tags.first()).await?,
    };
    apply_extra_tags(docker, &id, req.tags.iter().skip(1)).await?;
    Ok(BuiltImage { id })
}

/// The engine's form of ECR credentials (they stay in memory: the session hands them to BuildKit).
fn credentials(auth: &RegistryAuth) -> bollard::auth::DockerCredentials {
    bollard::auth::DockerCredentials {
        username: Some(auth.username.clone()),
        password: Some(secrecy::ExposeSecret::expose_secret(&auth.password).to_owned()),
        serveraddress: Some(auth.server.clone()),
        ..Default::default()
    }
}

/// How long the build's stream is read after the image id arrived (see `stream_build`).
const SESSION_TAIL: std::time::Duration = std::time::Duration::from_millis(300);

/// One progress message into lines; remembers the image id when it goes by.
fn render(log: &mut BuildLog, info: &BuildInfo, image_id: &mut Option<String>) -> Vec<String> {
    let mut lines = Vec::new();
    match &info.aux {
        Some(BuildInfoAux::BuildKit(status)) => lines.extend(log.buildkit(status)),
        Some(BuildInfoAux::Default(image)) => {
            if let Some(id) = &image.id {
                *image_id = Some(id.clone());
            }
        }
        None => {}
    }
    if let Some(text) = &info.stream {
        lines.extend(log.classic(text));
    }
    lines
}

/// A build error from the stream: a failed step when the engine reported one, an engine error otherwise.
fn failure(log: &mut BuildLog, err: &bollard::errors::Error, on_log: &mut (dyn FnMut(&str) + Send)) -> BuildError {
    let message = match err {
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    };
    if is_connection_error(err) {
        return unavailable(&message);
    }
    on_log(&format!("ERROR: {message}"));
    log.note(&format!("ERROR: {message}"));
    match log.failed_step() {
        Some(step) => BuildError::Failed { step, tail: log.tail() },
        // Nothing ran: the Dockerfile did not parse, or the engine refused the request itself.
        None if matches!(err, bollard::errors::Error::DockerStreamError { .. }) => {
            BuildError::Failed { step: "(before the first step)".to_string(), tail: log.tail() }
        }
        None => BuildError::Engine(message),
    }
}

fn is_connection_error(err: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(err, E::HyperLegacyError { .. } | E::IOError { .. } | E::SocketNotFoundError(_))
}

/// A readable reason for a failed connection (the socket path missing, refused, ...), from the error chain.
fn engine_reason(err: &bollard::errors::Error) -> String {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        reason = format!("{reason}: {inner}");
        source = inner.source();
    }
    reason
}

async fn inspect_id(docker: &Docker, tag: Option<&String>) -> Result<String, BuildError> {
    let Some(tag) = tag else {
        return Err(BuildError::Engine("the engine did not report the built image id".to_string()));
    };
    let image = docker.inspect_image(tag).await.map_err(|err| BuildError::Engine(err.to_string()))?;
    image.id.ok_or_else(|| BuildError::Engine(format!("the engine reports no id for {tag}")))
}

async fn apply_extra_tags<'a>(
    docker: &Docker,
    id: &str,
    tags: impl Iterator<Item = &'a String>,
) -> Result<(), BuildError> {
    for tag in tags {
        let (repo, tag_part) = split_tag(tag);
        let options = bollard::query_parameters::TagImageOptionsBuilder::default().repo(repo).tag(tag_part).build();
        docker.tag_image(id, Some(options)).await.map_err(|err| BuildError::Engine(format!("tagging {tag}: {err}")))?;
    }
    Ok(())
}

/// `host:port/name:tag` -> (`host:port/name`, `tag`); no tag means `latest`, as the engine assumes.
fn split_tag(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    }
}

/// A BuildKit session id: unique per build, as the engine keys the session's services by it.
fn session_id() -> String {
    format!("pipeline-{}", unique_hex())
}

/// 32 random hex digits from std's per-process random hash keys (uniqueness, not secrecy, is needed here).
fn unique_hex() -> String {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    format!("{:016x}{:016x}", state.hash_one(std::process::id()), state.hash_one(std::time::SystemTime::now()))
}

#[cfg(test)]
mod tests;
