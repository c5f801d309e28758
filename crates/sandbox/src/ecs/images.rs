//! Image pulls: a task whose image lives in this sandbox's ECR registry only starts if that repository
//! really holds the tag or digest; otherwise it fails like ECS does (`CannotPullContainerError`). Every
//! account's registry counts (a task may pull from another account's ECR). Images of other registries are
//! assumed pullable, since the sandbox runs no containers.

use std::collections::BTreeMap;

use crate::Ctx;
use crate::ecr::EcrState;

/// The ECR of every account: the home account's and the others'.
#[derive(Clone, Copy)]
pub struct Registries<'a> {
    pub home: &'a EcrState,
    pub others: &'a BTreeMap<String, EcrState>,
}

impl<'a> Registries<'a> {
    /// The ECR behind a registry host (`127.0.0.1:PORT` or `<account>.dkr.ecr.<region>.amazonaws.com`) and the
    /// context of its account; `None` for a registry the sandbox does not serve.
    fn at(&self, ctx: &Ctx, host: &str) -> Option<(Option<&'a EcrState>, Ctx)> {
        let (account, _) = ctx.registries.iter().find(|(account, h)| {
            h.as_str() == host || format!("{account}.dkr.ecr.{}.amazonaws.com", ctx.region) == host
        })?;
        let state = if *account == ctx.home_account { Some(self.home) } else { self.others.get(account) };
        Some((state, ctx.for_account(account)))
    }
}

/// The `CannotPullContainerError` text for `image`, or `None` when it can be pulled.
pub fn pull_error(registries: Registries<'_>, ctx: &Ctx, image: &str) -> Option<String> {
    let (host, rest) = image.split_once('/')?;
    let (ecr, ctx) = registries.at(ctx, host)?;
    let ctx = &ctx;
    let (repo, reference) = match rest.split_once('@') {
        Some((repo, digest)) => (repo, digest),
        None => match rest.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (rest, "latest"),
        },
    };
    let found = ecr.and_then(|e| e.repository(ctx, repo).ok()).and_then(|r| r.resolve(reference)).is_some();
    (!found).then(|| {
        format!(
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}: not found"
        )
    })
}
