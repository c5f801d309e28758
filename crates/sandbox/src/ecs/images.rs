//! Image pulls: a task whose image lives in this sandbox's ECR registry only starts if that repository
//! really holds the tag or digest; otherwise it fails like ECS does (`CannotPullContainerError`). Images of
//! other registries are assumed pullable, since the sandbox runs no containers.

use crate::Ctx;
use crate::ecr::EcrState;

/// The `CannotPullContainerError` text for `image`, or `None` when it can be pulled.
pub fn pull_error(ecr: &EcrState, ctx: &Ctx, image: &str) -> Option<String> {
    let (host, rest) = image.split_once('/')?;
    let ecr_host = format!("{}.dkr.ecr.{}.amazonaws.com", ctx.account_id, ctx.region);
    if host != ctx.registry_host && host != ecr_host {
        return None;
    }
    let (repo, reference) = match rest.split_once('@') {
        Some((repo, digest)) => (repo, digest),
        None => match rest.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (rest, "latest"),
        },
    };
    let found = ecr.repository(ctx, repo).ok().and_then(|r| r.resolve(reference)).is_some();
    (!found).then(|| {
        format!(
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}: not found"
        )
    })
}
