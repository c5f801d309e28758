//! Config errors: each one says where (file:line:column) and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// A place in the config file. Line and column are 1-based, as editors and GitHub annotations count.
#[derive(Debug, Clone)]
pub struct At {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Byte offset of the place, for the miette label.
    pub offset: usize,
    /// The file's text, so a terminal reporter can show the offending line.
    pub(crate) source: NamedSource<String>,
}

impl At {
    pub(crate) fn new(file: &Path, text: &str, line: usize, column: usize, offset: usize) -> Self {
        At {
            file: file.to_path_buf(),
            line,
            column,
            offset: offset.min(text.len()),
            source: NamedSource::new(file.display().to_string(), text.to_string()).with_language("yaml"),
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Everything that can be wrong with `.pipeline.yml`, an override, or the choice of environment/task.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no config file at {}", path.display())]
    NotFound { path: PathBuf },

    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    #[error("{at}: malformed YAML: {message}")]
    Syntax { at: Box<At>, message: String },

    #[error("{at}: unknown key `{key}` {}{}", in_section(section), did_you_mean(suggestion))]
    UnknownKey {
        at: Box<At>,
        key: String,
        /// Dotted path of the mapping holding the key (`image`, `environments.staging`); empty at the top level.
        section: String,
        suggestion: Option<String>,
        expected: Vec<String>,
    },

    #[error("{at}: missing required key `{key}` {}", in_section(section))]
    MissingKey { at: Box<At>, key: String, section: String },

    /// Wrong type, a value outside the allowed set, an unparsable duration, an unsupported version...
    #[error("{at}: `{field}`: {message}")]
    InvalidValue { at: Box<At>, field: String, message: String, help: String },

    /// A `--set key.path=value` that is malformed or that makes the config invalid.
    #[error("invalid --set `{arg}`: {message}")]
    BadOverride { arg: String, message: String },

    #[error("{}: no environments are defined", path.display())]
    NoEnvironments { path: PathBuf },

    #[error("unknown environment `{name}`{}", did_you_mean(suggestion))]
    UnknownEnvironment { name: String, known: Vec<String>, suggestion: Option<String> },

    #[error("several environments are defined ({}); choose one", known.join(", "))]
    EnvironmentRequired { known: Vec<String> },

    #[error("unknown task `{name}`{}", did_you_mean(suggestion))]
    UnknownTask { name: String, known: Vec<String>, suggestion: Option<String> },

    /// Every problem of one file, so a user fixes them in one go (at most [`MAX_PROBLEMS`], more are counted).
    #[error("{}", several(file, errors, *more))]
    Several { file: PathBuf, errors: Vec<ConfigError>, more: usize },
}

/// How many problems of one config file are listed.
pub const MAX_PROBLEMS: usize = 20;

fn several(file: &Path, errors: &[ConfigError], more: usize) -> String {
    let mut text = format!("{}: {} problems:", file.display(), errors.len() + more);
    for e in errors {
        text.push_str(&format!("\n  {e}"));
    }
    if more > 0 {
        text.push_str(&format!("\n  (and {more} more)"));
    }
    text
}

impl ConfigError {
    /// One error as it is, several as [`ConfigError::Several`]; `None` when there is none.
    pub fn from_problems(file: &Path, mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        let more = errors.len().saturating_sub(MAX_PROBLEMS);
        errors.truncate(MAX_PROBLEMS);
        match errors.len() {
            0 => None,
            1 if more == 0 => errors.pop(),
            _ => Some(ConfigError::Several { file: file.to_path_buf(), errors, more }),
        }
    }
}

fn in_section(section: &str) -> String {
    if section.is_empty() { "at the top level".to_string() } else { format!("in `{section}`") }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

impl ConfigError {
    /// Where in which file the error is, for `::error file=,line=,col=::` annotations.
    pub fn location(&self) -> Option<(PathBuf, usize, usize)> {
        self.at().map(|at| (at.file.clone(), at.line, at.column))
    }

    fn at(&self) -> Option<&At> {
        match self {
            ConfigError::Syntax { at, .. }
            | ConfigError::UnknownKey { at, .. }
            | ConfigError::MissingKey { at, .. }
            | ConfigError::InvalidValue { at, .. } => Some(at),
            ConfigError::Several { errors, .. } => errors.iter().find_map(ConfigError::at),
            _ => None,
        }
    }

    fn help_text(&self) -> String {
        match self {
            ConfigError::NotFound { .. } => {
                "run `pipeline init` to write a commented starter `.pipeline.yml`, or point --config at your file".into()
            }
            ConfigError::Read { .. } => "check that the file exists and is readable".into(),
            ConfigError::Syntax { at, .. } => format!(
                "fix the YAML near line {}: check the indentation (spaces, not tabs), a missing `:` or an unclosed quote or bracket",
                at.line
            ),
            ConfigError::UnknownKey { suggestion: Some(s), key, .. } => format!("rename `{key}` to `{s}`"),
            ConfigError::UnknownKey { expected, key, .. } if expected.is_empty() => {
                format!("remove `{key}`: this mapping takes no keys")
            }
            ConfigError::UnknownKey { expected, key, .. } => {
                format!("remove `{key}`; the keys allowed here are: {}", expected.join(", "))
            }
            ConfigError::MissingKey { key, section, .. } => {
                format!("add `{key}:` {} (`pipeline schema` describes every key)", in_section(section))
            }
            ConfigError::InvalidValue { help, .. } => help.clone(),
            ConfigError::BadOverride { .. } => {
                "write overrides as `--set key.path=value`, e.g. `--set image.target=runtime` or `--set environments.staging.cluster=blue`".into()
            }
            ConfigError::NoEnvironments { .. } => {
                "add an `environments:` section (see `pipeline init` for an example)".into()
            }
            ConfigError::UnknownEnvironment { known, .. } | ConfigError::EnvironmentRequired { known } => {
                format!("pass --env with one of: {}", known.join(", "))
            }
            ConfigError::UnknownTask { known, .. } if known.is_empty() => {
                "define the task under `tasks:` in the config".into()
            }
            ConfigError::UnknownTask { known, .. } => format!("the tasks defined under `tasks:` are: {}", known.join(", ")),
            ConfigError::Several { errors, .. } => errors
                .iter()
                .map(|e| match e.at() {
                    Some(at) => format!("line {}: {}", at.line, e.help_text()),
                    None => e.help_text(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

impl Diagnostic for ConfigError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("pipeline::config"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.help_text()))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.at().map(|at| &at.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if let ConfigError::Several { errors, .. } = self {
            let first = self.at()?.file.clone();
            // One source per diagnostic: label the problems of the file the first one is in.
            let spans = errors.iter().filter_map(ConfigError::at).filter(move |at| at.file == first);
            return Some(Box::new(spans.map(|at| LabeledSpan::at_offset(at.offset, format!("line {}", at.line)))));
        }
        let at = self.at()?;
        Some(Box::new(std::iter::once(LabeledSpan::at_offset(at.offset, "here"))))
    }
}
