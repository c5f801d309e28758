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
    MissingFamily {
        path: String,
        /// Shared, not inline: it keeps every Result of this module small.
        #[source_code]
        src: Option<std::sync::Arc<NamedSource<String>>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("{path}: `containerDefinitions` is missing or empty")]
    #[diagnostic(
        code(pipeline::task_definition::containers),
        help(
            "a task definition needs at least one container: `\"containerDefinitions\": [{{\"name\": ..., \"image\": ...}}]`"
        )
    )]
    MissingContainers {
        path: String,
        /// Shared, not inline: it keeps every Result of this module small.
        #[source_code]
        src: Option<std::sync::Arc<NamedSource<String>>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("{path}: containerDefinitions[{index}] has no `{field}`")]
    #[diagnostic(
        code(pipeline::task_definition::container),
        help("every container needs a `name` and an `image` (the image of the released container is replaced)")
    )]
    InvalidContainer {
        path: String,
        index: usize,
        field: &'static str,
        /// Shared, not inline: it keeps every Result of this module small.
        #[source_code]
        src: Option<std::sync::Arc<NamedSource<String>>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    /// Fields, types or values RegisterTaskDefinition would reject: every one of the document, each placed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(Box<InvalidDocument>),

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

/// How many problems of one document are listed; the rest are counted.
pub const MAX_PROBLEMS: usize = 20;

/// The problems of one task definition document, each with its place in the file when there is one.
#[derive(Debug)]
pub struct InvalidDocument {
    pub path: String,
    pub problems: Vec<PlacedProblem>,
    /// Problems beyond [`MAX_PROBLEMS`], not listed.
    pub more: usize,
    pub src: Option<NamedSource<String>>,
}

#[derive(Debug, Clone)]
pub struct PlacedProblem {
    pub message: String,
    /// 1-based line and column, when the document came from a file.
    pub place: Option<(usize, usize)>,
    pub offset: Option<usize>,
}

impl PlacedProblem {
    fn line(&self, path: &str) -> String {
        match self.place {
            Some((line, column)) => format!("{path}:{line}:{column}: {}", self.message),
            None => format!("{path}: {}", self.message),
        }
    }
}

impl std::fmt::Display for InvalidDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let ([only], 0) = (self.problems.as_slice(), self.more) {
            return f.write_str(&only.line(&self.path));
        }
        write!(f, "{}: {} problems in the task definition:", self.path, self.problems.len() + self.more)?;
        for problem in &self.problems {
            write!(f, "\n  {}", problem.line(&self.path))?;
        }
        if self.more > 0 {
            write!(f, "\n  (and {} more)", self.more)?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidDocument {}

impl Diagnostic for InvalidDocument {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("pipeline::task_definition::shape"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(
            "ECS's RegisterTaskDefinition rejects unknown fields and values of the wrong type; the fields it takes \
             are listed by `aws ecs register-task-definition --generate-cli-skeleton`. Nothing was changed.",
        ))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.src.as_ref()?;
        Some(Box::new(
            self.problems
                .iter()
                .filter_map(|p| p.offset.map(|o| miette::LabeledSpan::at_offset(o, short_label(&p.message)))),
        ))
    }
}

/// The label under the source line: the message without its path, which the line already shows.
fn short_label(message: &str) -> String {
    match message.strip_prefix('`').and_then(|m| m.split_once("`: ")) {
        Some((_, rest)) => rest.to_owned(),
        None => message.to_owned(),
    }
}

impl TaskDefinitionError {
    /// The file, line and column the error points at, for annotations.
    pub fn location(&self) -> Option<(String, usize, usize)> {
        match self {
            TaskDefinitionError::Syntax(s) if s.line > 0 => Some((s.path.clone(), s.line, s.column)),
            TaskDefinitionError::Invalid(doc) => {
                doc.problems.iter().find_map(|p| p.place).map(|(line, column)| (doc.path.clone(), line, column))
            }
            TaskDefinitionError::MissingFamily { path, src: Some(src), span: Some(span) }
            | TaskDefinitionError::MissingContainers { path, src: Some(src), span: Some(span) }
            | TaskDefinitionError::InvalidContainer { path, src: Some(src), span: Some(span), .. } => {
                let (line, column) = line_column(src.inner(), span.offset());
                Some((path.clone(), line, column))
            }
            _ => None,
        }
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
