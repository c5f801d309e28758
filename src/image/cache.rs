//! The layer cache a build takes from the registry, decided while planning (REFERENCE A6).
//!
//! A fresh CI runner has no local layers. With no configuration, every build writes BuildKit's inline cache
//! metadata into the image (`BUILDKIT_INLINE_CACHE=1`) and takes as cache sources the image of the parent commit
//! and the [`RELEASES`] newest released images of the repository, when ECR holds them: the engine then pulls only
//! the layers whose cache keys match and rebuilds the rest. Several releases, not one: the Docker engine's own
//! BuildKit leaves the layers it took from a cache out of the new image's inline metadata (moby/buildkit#1981,
//! #3730), so only an image built without the cache can serve as one. With one source every other cold release
//! was built from scratch (`bench/cold_runner.sh` saw it); with three, one in four is. The cache never decides *what* is built: a changed instruction
//! or file changes the cache key, and that layer (and every one after it) is built again.
//! `image.cache: false` turns it off; a list names the sources instead (a tag of the repository, or a whole
//! image reference).

use crate::config::ImageCache;

/// How many of the newest releases a build takes cache from (besides the parent commit's image).
pub const RELEASES: usize = 3;

/// The build arg that makes BuildKit write cache metadata into the image's config.
pub const INLINE_CACHE_ARG: &str = "BUILDKIT_INLINE_CACHE";

/// What the build does with the registry cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CachePlan {
    /// Write inline cache metadata into the image, so later builds can take it as a source.
    pub inline: bool,
    /// Image references to take cache from, in order of preference.
    pub from: Vec<String>,
}

impl CachePlan {
    /// The plan line.
    pub fn describe(&self) -> String {
        match (self.inline, self.from.is_empty()) {
            (false, true) => "no layer cache (image.cache: false)".to_owned(),
            (_, true) => "layer cache: no earlier image to take it from yet; writing inline cache metadata".to_owned(),
            (_, false) => format!("layer cache from {}", self.from.join(", ")),
        }
    }
}

/// What the registry holds that could serve as a cache source (tags of the repository).
#[derive(Debug, Clone, Default)]
pub struct Candidates<'a> {
    /// `host/name` of the repository; `None` while it does not exist yet.
    pub repository_uri: Option<&'a str>,
    /// The tags of the [`RELEASES`] newest releases in the repository, newest first (`v1.4.0`, `v1.3.2`).
    pub newest_releases: Vec<String>,
    /// The `sha-` tag of the parent commit's image, when ECR holds it.
    pub parent: Option<String>,
}

/// The cache sources for a build, from the config and what the registry holds.
pub fn plan(setting: &ImageCache, candidates: &Candidates<'_>) -> CachePlan {
    let qualify = |tag: &str| -> Option<String> {
        // A reference with a registry or a path is taken as written; a bare tag is one of this repository's.
        if tag.contains('/') {
            return Some(tag.to_owned());
        }
        candidates.repository_uri.map(|uri| format!("{uri}:{tag}"))
    };
    let from: Vec<String> = match setting {
        ImageCache::Enabled(false) => return CachePlan { inline: false, from: Vec::new() },
        ImageCache::Enabled(true) => {
            candidates.parent.iter().chain(&candidates.newest_releases).filter_map(|t| qualify(t)).collect()
        }
        ImageCache::From(named) => named.iter().filter_map(|t| qualify(t)).collect(),
    };
    let mut unique = Vec::new();
    for source in from {
        if !unique.contains(&source) {
            unique.push(source);
        }
    }
    CachePlan { inline: true, from: unique }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates() -> Candidates<'static> {
        Candidates {
            repository_uri: Some("1.dkr.ecr.eu-west-1.amazonaws.com/web"),
            newest_releases: vec!["v1.4.0".into(), "v1.3.2".into()],
            parent: Some("sha-0123456789ab".into()),
        }
    }

    #[test]
    fn by_default_the_parent_commit_then_the_newest_releases() {
        let plan = plan(&ImageCache::Enabled(true), &candidates());
        assert!(plan.inline);
        assert_eq!(
            plan.from,
            [
                "1.dkr.ecr.eu-west-1.amazonaws.com/web:sha-0123456789ab",
                "1.dkr.ecr.eu-west-1.amazonaws.com/web:v1.4.0",
                "1.dkr.ecr.eu-west-1.amazonaws.com/web:v1.3.2"
            ]
        );
    }

    #[test]
    fn off_means_no_source_and_no_metadata() {
        assert_eq!(plan(&ImageCache::Enabled(false), &candidates()), CachePlan { inline: false, from: vec![] });
    }

    #[test]
    fn named_sources_replace_the_defaults_and_bare_tags_belong_to_the_repository() {
        let named = ImageCache::From(vec!["main".into(), "ghcr.io/o/base:cache".into(), "main".into()]);
        let plan = plan(&named, &candidates());
        assert_eq!(plan.from, ["1.dkr.ecr.eu-west-1.amazonaws.com/web:main", "ghcr.io/o/base:cache"]);
    }

    #[test]
    fn a_repository_to_create_has_nothing_to_offer_yet() {
        let plan = plan(&ImageCache::Enabled(true), &Candidates::default());
        assert!(plan.inline && plan.from.is_empty());
        assert!(plan.describe().contains("no earlier image"), "{}", plan.describe());
    }
}
