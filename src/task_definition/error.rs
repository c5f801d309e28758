//! What can go wrong while loading or rendering a task definition, with the fix where it is known.

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum TaskDefinitionError {
    #[error("cannot read task definition {path}: {source}")]
    #[diagnostic(code(pipeline::task_definition::io), help("check `task-definition` in .pipeline.yml"))]
    Io { path: String, source: std::io::Error },

    /// Boxed: it carries the source text for miette, and would otherwise make every Result of this module large.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Syntax(Box<SyntaxError>),

    #[error("{path}: a task definition must be an object, found {found}")]
    #[diagnostic(
        code(pipeline::task_definition::shape),
        help("expected `{{\"family\": ..., \"containerDefinitions\": [...]}}` or `{{\"taskDefinition\": {{...}}}}`")
    )]
    NotAnObject { path: String, found: &'static str },

    #[error("{path}: `family` is missing or not a non-empty string")]
    #[diagnostic(code(pipeline::task_definition::family), help("add `\"family\": \"<name>\"` at the top level"))]
    MissingFamily { path: String },

    #[error("{path}: `containerDefinitions` is missing or empty")]
    #[diagnostic(
        code(pipeline::task_definition::containers),
        help(
            "a task definition needs at least one container: `\"containerDefinitions\": [{{\"name\": ..., \"image\": ...}}]`"
        )
    )]
    MissingContainers { path: String },

    #[error("{path}: containerDefinitions[{index}] has no `{field}`")]
    #[diagnostic(
        code(pipeline::task_definition::container),
        help("every container needs a `name` and an `image` (the image of the released container is replaced)")
    )]
    InvalidContainer { path: String, index: usize, field: &'static str },

    #[error("container `{name}` is not in the task definition; it has: {available}")]
    #[diagnostic(
        code(pipeline::task_definition::unknown_container),
        help("set the container's name in .pipeline.yml to one of the task definition's containers")
    )]
    UnknownContainer { name: String, available: String },

    #[error("`{name}` is set both as an environment variable and as a secret")]
    #[diagnostic(
        code(pipeline::task_definition::env_secret_clash),
        help("ECS rejects a name that is both in `environment` and `secrets`; keep one of them in .pipeline.yml")
    )]
    EnvSecretClash { name: String },

    #[error("task definition field `{path}` is invalid: {message}")]
    #[diagnostic(code(pipeline::task_definition::field))]
    InvalidField { path: String, message: String },
}

/// A JSON or YAML syntax error, with the file's text so miette can point at the spot.
#[derive(Debug, Error, Diagnostic)]
#[error("{path}:{line}:{column}: not valid {format}: {message}")]
#[diagnostic(
    code(pipeline::task_definition::syntax),
    help(
        "the file must be the JSON (or YAML) that `aws ecs register-task-definition --cli-input-json` takes, \
         or the output of `aws ecs describe-task-definition`"
    )
)]
pub struct SyntaxError {
    pub path: String,
    pub format: &'static str,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[source_code]
    pub src: NamedSource<String>,
    #[label("here")]
    pub span: Option<SourceSpan>,
}
