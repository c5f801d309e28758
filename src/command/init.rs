//! `pipeline init`: a commented starter `.pipeline.yml`.

use crate::Error;
use crate::config;
use crate::report::Reporter;
use crate::request::Global;

pub fn run(global: &Global, force: bool, reporter: &mut Reporter) -> Result<(), Error> {
    let path = &global.config;
    if path.exists() && !force {
        return Err(Error::InitExists { path: path.display().to_string() });
    }
    std::fs::write(path, config::INIT_TEMPLATE)
        .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    reporter.progress(
        crate::report::Stage::Plan,
        format!("wrote {}: edit image.repository and the environments, then run `pipeline plan`", path.display()),
    );
    Ok(())
}
