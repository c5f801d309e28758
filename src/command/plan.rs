//! `pipeline plan`: what a release would do, read-only; exit 2 when it would change something.

use super::{Run, planning};
use crate::Error;
use crate::request::VersionRequest;

pub async fn run(run: &mut Run<'_>, request: &VersionRequest) -> Result<(), Error> {
    let config = run.load_config()?;
    planning::release(run, &config, request, true).await?;
    run.done.changes = run.plan.changes();
    Ok(())
}
