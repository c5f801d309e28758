//! `pipeline schema`: the JSON Schema of `.pipeline.yml`, for editors.

use crate::Error;
use crate::config;

pub fn run() -> Result<(), Error> {
    crate::stdio::out(&format!("{}\n", serde_json::to_string_pretty(&config::schema()).unwrap_or_default()));
    Ok(())
}
