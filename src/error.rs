//! The one error type of the core, its help text, and the exit codes, all in one place.

use aws_smithy_runtime_api::client::result::SdkError;
use miette::Diagnostic;
use thiserror::Error;

use crate::image::build::BuildError;

/// Process exit codes (documented in the README). Distinct per outcome so CI can branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    /// A build, push or AWS call failed; nothing is deploying.
    Failure = 1,
    /// `pipeline plan`: the release would change something.
    Changes = 2,
    /// The configuration, the arguments or the work tree are wrong; nothing was changed.
    Usage = 3,
    /// The deployment failed and the service was rolled back to the previous release.
    RolledBack = 4,
    /// The deployment failed and was NOT rolled back: look at the service now.
    NotRolledBack = 5,
    /// The run was cancelled (SIGINT/SIGTERM).
    Cancelled = 6,
    /// `run-task`, `status --task`: the job's own exit code (its essential container's), 1-255.
    Job(u8),
}

impl ExitCode {
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Changes => 2,
            ExitCode::Usage => 3,
            ExitCode::RolledBack => 4,
            ExitCode::NotRolledBack => 5,
            ExitCode::Cancelled => 6,
            ExitCode::Job(code) => code,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] crate::config::ConfigError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Version(#[from] crate::version::VersionError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(#[from] BuildError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    TaskDefinition(#[from] crate::task_definition::TaskDefinitionError),

    #[error("no AWS credentials found: {reason}")]
    #[diagnostic(
        code(pipeline::aws::credentials),
        help(
            "tried, in order: environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), shared profile \
             (AWS_PROFILE, ~/.aws/config, ~/.aws/credentials), web identity (AWS_WEB_IDENTITY_TOKEN_FILE + \
             AWS_ROLE_ARN, as GitHub OIDC sets up), ECS container credentials, EC2 instance metadata. In GitHub \
             Actions give the job `permissions: id-token: write` and configure a role."
        )
    )]
    Credentials { reason: String },

    #[error("cannot assume role {role} (session {session}): {reason}")]
    #[diagnostic(
        code(pipeline::aws::assume_role),
        help(
            "check the environment's `role-arn` in .pipeline.yml, that the role's trust policy lets the job's \
             identity (the credentials pipeline starts with, or the environment's `profile`) call sts:AssumeRole, \
             and that this identity is allowed sts:AssumeRole on the role. Nothing was changed"
        )
    )]
    AssumeRole { role: String, session: String, reason: String },

    #[error("no AWS region: set `region` for the environment in .pipeline.yml or AWS_REGION")]
    #[diagnostic(code(pipeline::aws::region))]
    NoRegion,

    #[error("AWS {operation} on {resource} failed: {code}: {message}")]
    #[diagnostic(code(pipeline::aws::call), help("{help}"))]
    Aws { operation: &'static str, resource: String, code: String, message: String, help: String },

    #[error("ECR repository `{repository}` does not exist")]
    #[diagnostic(
        code(pipeline::ecr::repository_missing),
        help("create it, or set `image.create-repository: true` so pipeline creates it (IMMUTABLE)")
    )]
    RepositoryMissing { repository: String },

    #[error("tag `{tag}` already exists in `{repository}` with digest {existing}, not {ours}")]
    #[diagnostic(
        code(pipeline::ecr::tag_conflict),
        help(
            "tags are immutable and nothing was overwritten. Bump the version (--version), or release the \
             commit that produced {existing}"
        )
    )]
    TagConflict { repository: String, tag: String, existing: String, ours: String },

    #[error("`{tags}` must move, but ECR repository `{repository}` is {mutability}: it would refuse to move it")]
    #[diagnostic(
        code(pipeline::ecr::moving_tag),
        help(
            "keep version and commit tags immutable and let the moving tags move:\n  {fix}\nor remove them from `tags:`/`moving-tags:` in the config; nothing was changed"
        )
    )]
    MovingTagImmutable { repository: String, mutability: String, tags: String, fix: String },

    #[error(
        "tag `{tag}` in `{repository}` names {existing}, not {ours} that this run wrote: another writer wrote it at the same moment"
    )]
    #[diagnostic(
        code(pipeline::ecr::tag_race),
        help(
            "the repository lets tags be overwritten, so two writers raced and this run lost; it stops before deploying. \
             Make the repository IMMUTABLE (pipeline creates it so) to rule this out, or re-run to release what `{tag}` names"
        )
    )]
    TagRace { repository: String, tag: String, existing: String, ours: String },

    #[error("the registry refused the credentials for {registry}: {message}")]
    #[diagnostic(
        code(pipeline::ecr::auth),
        help(
            "the ECR authorization token is fetched with GetAuthorizationToken; check ecr:GetAuthorizationToken permissions"
        )
    )]
    RegistryAuth { registry: String, message: String },

    #[error("copying {image} between registries failed: {message}")]
    #[diagnostic(
        code(pipeline::ecr::copy),
        help("a promotion copies by digest and is safe to re-run: what was copied stays and is not copied again")
    )]
    Copy { image: String, message: String },

    #[error("pushing {image} failed: {message}")]
    #[diagnostic(code(pipeline::ecr::push))]
    Push { image: String, message: String },

    #[error("build secret `{id}` needs the environment variable {var}, which is not set")]
    #[diagnostic(
        code(pipeline::build::secret),
        help(
            "export {var} (in GitHub Actions: `env: {var}: ${{{{ secrets.X }}}}`), or remove the secret from image.secrets"
        )
    )]
    MissingSecret { id: String, var: String },

    #[error("ECS service `{service}` not found in cluster `{cluster}`")]
    #[diagnostic(
        code(pipeline::service_missing),
        help("check `cluster` and `service` of the environment in .pipeline.yml")
    )]
    ServiceNotFound { cluster: String, service: String },

    #[error("{message}")]
    #[diagnostic(code(pipeline::deploy::strategy), help("{help}"))]
    StrategyMismatch { message: String, help: String },

    #[error("environment `{environment}` lists several services under `services:`; `pipeline {command}` works on one")]
    #[diagnostic(code(pipeline::services::one), help("{help}"))]
    SeveralServices { environment: String, command: &'static str, help: String },

    #[error("refusing to deploy: {reason}")]
    #[diagnostic(
        code(pipeline::guard::precheck),
        help("a guard alarm must be OK (or INSUFFICIENT_DATA) before a release starts; fix the service or wait")
    )]
    GuardBlocked { reason: String },

    #[error("the deployment failed and was rolled back: {reason}")]
    #[diagnostic(
        code(pipeline::deploy::rolled_back),
        help("the service runs {now_running}; see the diagnostics above")
    )]
    RolledBack { reason: String, now_running: String },

    /// A service of a `services:` stage stopped because another one of the stage failed: rolled back to
    /// `now_running`, or never started (`None`). The release's own error says what failed.
    #[error("stopped because `{failed}`, another service of this release, failed")]
    #[diagnostic(code(pipeline::deploy::stopped))]
    Stopped { failed: String, now_running: Option<String> },

    #[error("the deployment failed and was NOT rolled back: {reason}")]
    #[diagnostic(code(pipeline::deploy::failed), help("{help}"))]
    DeployFailed { reason: String, help: String },

    #[error("deployment group `{group}` is busy with {active}: {message}")]
    #[diagnostic(
        code(pipeline::codedeploy::busy),
        help(
            "one deployment per group at a time; set `codedeploy.on-busy: wait` to queue behind it, or stop {active}"
        )
    )]
    GroupBusy { group: String, active: String, message: String },

    #[error("task `{task}` failed: {reason}")]
    #[diagnostic(
        code(pipeline::run_task),
        help("nothing was deployed; look at the task's logs (logConfiguration of its container)")
    )]
    TaskFailed { task: String, reason: String },

    #[error("job `{task}` {reason}")]
    #[diagnostic(
        code(pipeline::job),
        help("the job's exit code is pipeline's; look at the task's logs (logConfiguration of its container)")
    )]
    JobFailed { task: String, reason: String, exit: Option<i32> },

    #[error("{message}")]
    #[diagnostic(
        code(pipeline::job::payload),
        help(
            "payload files hold one `KEY=VALUE` a line (`#` comments and blank lines are skipped; values are taken as they are)"
        )
    )]
    Payload { message: String },

    #[error("{message}")]
    #[diagnostic(code(pipeline::job::setup), help("{help}"))]
    JobSetup { message: String, help: String },

    #[error("`{image}` is not an image reference pipeline can deploy")]
    #[diagnostic(
        code(pipeline::deploy::image),
        help("give `repo@sha256:<digest>` (promotion by digest) or `repo:<tag>` of an image in ECR")
    )]
    BadImageRef { image: String },

    #[error("no verified release of {service} to roll back to (it runs {current})")]
    #[diagnostic(
        code(pipeline::rollback::none),
        help(
            "a release is verified when it finishes healthy; deploy a known-good image with `pipeline deploy --image`"
        )
    )]
    NothingToRollBackTo { service: String, current: String },

    #[error("`wait: false` in environment `{environment}`, but nothing would watch the deployment: {reason}")]
    #[diagnostic(
        code(pipeline::deploy::unwatched),
        help(
            "a deployment the tool does not wait for must be watched by AWS: for CodeDeploy keep a guard alarm \
             (the 5xx guard or `guard.alarms`); for ECS give the service deployment alarms and the circuit breaker, \
             both with rollback (`aws ecs update-service --deployment-configuration \
             'alarms={{alarmNames=[...],enable=true,rollback=true}},deploymentCircuitBreaker={{enable=true,rollback=true}}'`). \
             Or remove `wait: false`"
        )
    )]
    Unwatched { environment: String, reason: String },

    #[error("the bake ({bake}s) is longer than the termination wait of deployment group `{group}` ({wait})")]
    #[diagnostic(
        code(pipeline::codedeploy::termination_wait),
        help(
            "the bake runs while the previous revision still runs, so a rollback is a traffic flip. Give the group a \
             termination wait of at least {minutes} minutes: `aws deploy update-deployment-group --application-name \
             {application} --current-deployment-group-name {group} --blue-green-deployment-configuration \
             'terminateBlueInstancesOnDeploymentSuccess={{action=TERMINATE,terminationWaitTimeInMinutes={minutes}}},\
             deploymentReadyOption={{actionOnTimeout=CONTINUE_DEPLOYMENT}}'` (keep your deploymentReadyOption), or \
             shorten `guard.bake`"
        )
    )]
    BakeNotCovered { application: String, group: String, bake: u64, wait: String, minutes: u64 },
    #[error("no revision of `{family}` holds {wanted} (looked at the last 50 ACTIVE revisions)")]
    #[diagnostic(
        code(pipeline::rollback::not_found),
        help("`pipeline status` shows what runs; give --to a version a release verified, a revision number or an ARN")
    )]
    RollbackTargetMissing { family: String, wanted: String },

    #[error("{target} ({release}) never finished a release healthy (it has no pipeline:verified tag)")]
    #[diagnostic(
        code(pipeline::rollback::unverified),
        help("roll back to a verified release, or pass --force to deploy {target} anyway; nothing was changed")
    )]
    RollbackTargetUnverified { target: String, release: String },

    #[error("{found} is not a revision of `{family}`, the family the service runs")]
    #[diagnostic(code(pipeline::rollback::family), help("give a revision of `{family}`"))]
    RollbackTargetForeign { found: String, family: String },

    #[error("cancelled: {what}")]
    #[diagnostic(code(pipeline::cancelled))]
    Cancelled { what: String },

    #[error("`{spec}` is not CLUSTER/SERVICE")]
    #[diagnostic(
        code(pipeline::init::from_service),
        help("name the live service as `--from-service my-cluster/my-service`")
    )]
    BadServiceSpec { spec: String },

    #[error("{path} already exists")]
    #[diagnostic(code(pipeline::init::exists), help("run `pipeline init --force` to overwrite it"))]
    InitExists { path: String },

    #[error("cannot read or write {path}: {source}")]
    #[diagnostic(code(pipeline::io), help("check that the path exists and that this user may read and write it"))]
    Io { path: String, source: std::io::Error },

    /// Several problems found by the checks before the first change, reported together.
    #[error("{} problems found before any change:{}", errors.len(), list(errors))]
    #[diagnostic(code(pipeline::checks), help("nothing was changed; fix these and run again"))]
    Checks { errors: Vec<Error> },
}

/// The errors one per item, continuation lines indented under their item.
fn list(errors: &[Error]) -> String {
    errors.iter().map(|e| format!("\n  - {}", e.to_string().replace('\n', "\n    "))).collect()
}

impl Error {
    /// The problems found by a check, as one error: none is Ok, one is itself, several are [`Error::Checks`].
    pub fn from_problems(mut errors: Vec<Error>) -> Result<(), Error> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Checks { errors }),
        }
    }

    /// The file, line and column the error points at (the first one's, for several), for annotations.
    pub fn location(&self) -> Option<(String, usize, usize)> {
        match self {
            Error::Config(config) => {
                config.location().map(|(file, line, column)| (file.display().to_string(), line, column))
            }
            Error::TaskDefinition(td) => td.location(),
            Error::Checks { errors } => errors.iter().find_map(Error::location),
            _ => None,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            // The worst of them: all checks are read-only, so usually "nothing changed" (3).
            Error::Checks { errors } => {
                errors.iter().map(Error::exit_code).max_by_key(|c| c.code()).unwrap_or(ExitCode::Usage)
            }
            Error::Config(_) | Error::Version(_) | Error::TaskDefinition(_) => ExitCode::Usage,
            Error::Build(
                BuildError::DockerfileNotFound(_)
                | BuildError::Context(_)
                | BuildError::SecretsNeedBuildKit { .. }
                | BuildError::PlatformUnsupported { .. }
                | BuildError::PlatformConflict { .. },
            ) => ExitCode::Usage,
            Error::NoRegion
            | Error::RepositoryMissing { .. }
            | Error::MissingSecret { .. }
            | Error::InitExists { .. }
            | Error::BadServiceSpec { .. }
            | Error::ServiceNotFound { .. }
            | Error::StrategyMismatch { .. }
            | Error::SeveralServices { .. }
            | Error::Unwatched { .. }
            | Error::BakeNotCovered { .. }
            | Error::BadImageRef { .. }
            | Error::MovingTagImmutable { .. }
            | Error::RollbackTargetMissing { .. }
            | Error::RollbackTargetUnverified { .. }
            | Error::RollbackTargetForeign { .. }
            | Error::Payload { .. }
            | Error::JobSetup { .. } => ExitCode::Usage,
            // The job's own code when it has one that fits (1-255); pipeline's failure otherwise.
            Error::JobFailed { exit: Some(code), .. } => {
                u8::try_from(*code).ok().filter(|c| *c != 0).map_or(ExitCode::Failure, ExitCode::Job)
            }
            Error::RolledBack { .. } | Error::Stopped { .. } => ExitCode::RolledBack,
            Error::DeployFailed { .. } => ExitCode::NotRolledBack,
            Error::Cancelled { .. } => ExitCode::Cancelled,
            _ => ExitCode::Failure,
        }
    }

    /// Wraps an AWS SDK error with the operation and resource it concerns and, where known, what to do.
    pub fn aws<E, R>(operation: &'static str, resource: impl Into<String>, err: SdkError<E, R>) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let resource = resource.into();
        let (code, message) = match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                (e.code().unwrap_or("Unknown").to_owned(), e.message().unwrap_or_default().to_owned())
            }
            SdkError::DispatchFailure(d) => ("DispatchFailure".to_owned(), describe_chain(&err, d.is_io())),
            SdkError::TimeoutError(_) => ("Timeout".to_owned(), describe_chain(&err, true)),
            _ => ("RequestFailed".to_owned(), describe_chain(&err, false)),
        };
        let help = help_for(&code);
        Error::Aws { operation, resource, code, message, help }
    }
}

fn describe_chain(err: &dyn std::error::Error, network: bool) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let text = parts.join(": ");
    if network { format!("{text} (is the endpoint reachable? AWS_ENDPOINT_URL overrides it)") } else { text }
}

fn help_for(code: &str) -> String {
    match code {
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            "AWS kept throttling after retries; re-run later or raise AWS_MAX_ATTEMPTS".into()
        }
        "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException" => {
            "the credentials lack a permission; see the README's minimal IAM policy".into()
        }
        "ExpiredTokenException" | "ExpiredToken" => "the AWS session expired; refresh the credentials".into(),
        _ => "see the message above; nothing after this step was changed".into(),
    }
}
