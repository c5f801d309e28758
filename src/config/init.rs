//! The starter `.pipeline.yml` written by `pipeline init`.

/// A commented starter config. It loads as is (tested), so `pipeline init` never writes a broken file.
pub const INIT_TEMPLATE: &str = include_str!("init_template.yml");

#[cfg(test)]
mod tests {
    use super::INIT_TEMPLATE;
    use crate::config::{Strategy, from_text};
    use std::path::Path;

    #[test]
    fn init_template_loads() {
        let config = from_text(Path::new("/repo/.pipeline.yml"), INIT_TEMPLATE.to_string(), &[])
            .unwrap_or_else(|e| panic!("INIT_TEMPLATE does not load: {e}"));
        let (name, env) = config.environment(None).expect("one environment");
        assert_eq!(name, "staging");
        assert_eq!(env.strategy, Strategy::Rolling);
        assert_eq!(config.image.dockerfile, Path::new("/repo/Dockerfile"));
    }
}
