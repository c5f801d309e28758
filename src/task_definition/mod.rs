//! Task definitions: load the repository's file (or the live revision), render it for a release, normalise and
//! diff it against the latest revision, and map it to and from the AWS SDK. Pure: the AWS calls are the caller's.

mod diff;
mod document;
mod error;
mod fields;
mod locate;
mod normalize;
mod render;
mod sdk;
mod sdk_reader;
mod shape;
mod validate;

pub use diff::{Change, ChangeKind, TaskDefinitionDiff, diff};
pub use document::{Format, Loaded, TaskDefinitionDoc};
pub use error::{InvalidDocument, PlacedProblem, SyntaxError, TaskDefinitionError};
pub use normalize::normalize;
pub use render::{RenderInput, render};
pub use sdk::{SdkInput, from_sdk, tags_from_sdk};
pub use validate::{FieldPath, Problem, ProblemKind, Segment};

#[cfg(test)]
mod fixtures;
