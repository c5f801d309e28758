//! Task-definition revisions as ECS holds them: described with their tags, as loadable documents.

use crate::Error;
use crate::task_definition::{self, TaskDefinitionDoc};

/// DescribeTaskDefinition with tags, as a loadable document.
pub async fn describe(ecs_client: &aws_sdk_ecs::Client, reference: &str) -> Result<(String, TaskDefinitionDoc), Error> {
    let out = ecs_client
        .describe_task_definition()
        .task_definition(reference)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeTaskDefinition", reference, e))?;
    let Some(td) = out.task_definition() else {
        return Err(Error::DeployFailed { reason: format!("{reference} has no task definition"), help: String::new() });
    };
    let arn = td.task_definition_arn().unwrap_or_default().to_owned();
    let mut value = task_definition::from_sdk(td);
    if let (Some(map), false) = (value.as_object_mut(), out.tags().is_empty()) {
        map.insert("tags".into(), task_definition::tags_from_sdk(out.tags()));
    }
    let loaded = TaskDefinitionDoc::from_value(value, &arn)?;
    Ok((arn, loaded.doc))
}
