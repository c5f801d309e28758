//! Task definitions: load the repository's file (or the live revision), render it for a release, normalise and
//! diff it against the latest revision, and map it to and from the AWS SDK. Pure: the AWS calls are the caller's.

mod diff;
mod document;
mod error;
mod fields;
mod normalize;
mod render;
mod sdk;
mod sdk_reader;

pub use diff::{Change, ChangeKind, TaskDefinitionDiff, diff};
pub use document::{Format, Loaded, TaskDefinitionDoc};
pub use error::{SyntaxError, TaskDefinitionError};
pub use normalize::normalize;
pub use render::{RenderInput, render};
pub use sdk::{SdkInput, from_sdk, tags_from_sdk};

#[cfg(test)]
mod fixtures;
