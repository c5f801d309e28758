//! `pipeline build`: build the image on the local engine only, tagged with the release's tags.

use super::preflight::Scope;
use super::{Run, planning};
use crate::Error;
use crate::config::Config;
use crate::image::publish;
use crate::plan::ImageStep;
use crate::report::ImageOutcome;
use crate::request::VersionRequest;
use crate::version::ReleaseVersion;

pub struct Planned {
    config: Config,
    version: ReleaseVersion,
}

pub async fn plan(run: &mut Run<'_>, request: &VersionRequest) -> Result<Planned, Error> {
    let config = run.load_config()?;
    planning::check_locally(run, &config, &Scope { image: true, build_secrets: true, ..Scope::default() })?;
    let tree = crate::version::precheck(&config.dir, request.explicit.as_deref(), request.allow_dirty)?;
    let version = planning::version(run, &config, &tree, request, &[], false)?.release;
    crate::image::build::ping(&run.ci.docker_host()).await?;
    run.plan.image = ImageStep::Local { version: version.clone() };
    Ok(Planned { config, version })
}

pub async fn execute(run: &mut Run<'_>, Planned { config, version }: Planned) -> Result<(), Error> {
    publish::build_local(&config, &version, &run.plan.tags, run.ci, run.reporter).await?;
    run.done.image = Some(ImageOutcome::Built);
    Ok(())
}
