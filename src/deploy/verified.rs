//! "Last known good": a release that finished healthy tags its task-definition revision, and
//! rollbacks go to the newest such revision.

use aws_sdk_ecs::types::{SortOrder, Tag, TaskDefinitionStatus};

use crate::Error;

pub const VERIFIED: &str = "pipeline:verified";
pub const VERSION: &str = "pipeline:version";
pub const COMMIT: &str = "pipeline:commit";
pub const VERIFIED_AT: &str = "pipeline:verified-at";

/// How many revisions back `newest_verified` looks before giving up.
const LOOKBACK: i32 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRevision {
    pub arn: String,
    pub version: Option<String>,
    pub commit: Option<String>,
    pub verified_at: Option<String>,
}

/// A revision and what its tags say about the release it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevisionInfo {
    pub arn: String,
    /// `pipeline:version`, e.g. `1.2.0`.
    pub version: Option<String>,
    /// `pipeline:commit`.
    pub commit: Option<String>,
    /// `pipeline:verified=true`: a release that finished healthy.
    pub verified: bool,
    pub verified_at: Option<String>,
}

pub async fn mark(ecs: &aws_sdk_ecs::Client, arn: &str, version: &str, commit: &str, at: &str) -> Result<(), Error> {
    ecs.tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key(VERIFIED).value("true").build())
        .tags(Tag::builder().key(VERSION).value(version).build())
        .tags(Tag::builder().key(COMMIT).value(commit).build())
        .tags(Tag::builder().key(VERIFIED_AT).value(at).build())
        .send()
        .await
        .map_err(|e| Error::aws("TagResource", arn, e))?;
    Ok(())
}

/// The newest verified revision of `family` other than `except` (usually what runs now).
pub async fn newest_verified(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    except: Option<&str>,
) -> Result<Option<VerifiedRevision>, Error> {
    let found = newest_where(ecs, family, |r| r.verified && Some(r.arn.as_str()) != except).await?;
    Ok(found.map(|r| VerifiedRevision { arn: r.arn, version: r.version, commit: r.commit, verified_at: r.verified_at }))
}

/// The newest ACTIVE revision of `family` (among the last [`LOOKBACK`]) that `wanted` accepts.
pub async fn newest_where(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    wanted: impl Fn(&RevisionInfo) -> bool,
) -> Result<Option<RevisionInfo>, Error> {
    let list = ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .max_results(LOOKBACK)
        .send()
        .await
        .map_err(|e| Error::aws("ListTaskDefinitions", family, e))?;
    for arn in list.task_definition_arns() {
        // familyPrefix matches prefixes: `web` also lists `web-worker`.
        if family_of(arn) != Some(family) {
            continue;
        }
        if let Some(info) = revision(ecs, arn).await?
            && wanted(&info)
        {
            return Ok(Some(info));
        }
    }
    Ok(None)
}

/// One revision (`family:revision` or an ARN) with its release tags; `None` when ECS has no such revision.
pub async fn revision(ecs: &aws_sdk_ecs::Client, reference: &str) -> Result<Option<RevisionInfo>, Error> {
    let described = ecs
        .describe_task_definition()
        .task_definition(reference)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await;
    let described = match described {
        Ok(out) => out,
        // ECS answers an unknown revision with a ClientException.
        Err(e) if e.as_service_error().is_some_and(|s| s.meta().code() == Some("ClientException")) => return Ok(None),
        Err(e) => return Err(Error::aws("DescribeTaskDefinition", reference, e)),
    };
    let Some(arn) = described.task_definition().and_then(|t| t.task_definition_arn()) else { return Ok(None) };
    let tag =
        |key: &str| described.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value()).map(str::to_owned);
    Ok(Some(RevisionInfo {
        arn: arn.to_owned(),
        version: tag(VERSION),
        commit: tag(COMMIT),
        verified: tag(VERIFIED).as_deref() == Some("true"),
        verified_at: tag(VERIFIED_AT),
    }))
}

/// `arn:aws:ecs:r:a:task-definition/web:42` -> `web`.
pub fn family_of(arn: &str) -> Option<&str> {
    let tail = arn.rsplit_once("task-definition/").map(|(_, t)| t).unwrap_or(arn);
    tail.rsplit_once(':').map(|(family, _)| family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_is_read_from_arns_and_short_names() {
        assert_eq!(family_of("arn:aws:ecs:eu-west-1:1:task-definition/web:42"), Some("web"));
        assert_eq!(family_of("web-worker:3"), Some("web-worker"));
        assert_eq!(family_of("web"), None);
    }
}
