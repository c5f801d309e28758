//! `pipeline push`: the image half of a release. Build unless ECR has this commit, push, tag.

use super::release::{self, publish_image};
use super::{Run, planning};
use crate::Error;
use crate::request::VersionRequest;

pub async fn plan(run: &mut Run<'_>, request: &VersionRequest) -> Result<release::Planned, Error> {
    let config = run.load_config()?;
    let (aws, image) = planning::release(run, &config, request, false).await?;
    Ok(release::Planned { config, aws, image })
}

pub async fn execute(run: &mut Run<'_>, planned: release::Planned) -> Result<(), Error> {
    // No deployment verifies a push: moving tags stay where they are.
    publish_image(run, &planned.aws, &planned.config, &planned.image).await.map(drop)
}
