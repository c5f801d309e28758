//! Turning the repository's task definition into the one a release registers: our image, the configured env and
//! secrets. The file stays the source of everything else.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::document::TaskDefinitionDoc;
use super::error::TaskDefinitionError;

/// What a release changes in the task definition.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// The container that runs the released image.
    pub container: &'a str,
    /// `repo@sha256:...`: by digest, so the revision pins exactly what was built.
    pub image: &'a str,
    /// Plain environment variables from config; they win over the file's on the same name.
    pub env: &'a BTreeMap<String, String>,
    /// Secret name -> `valueFrom` (SSM parameter or Secrets Manager ARN); they win over the file's.
    pub secrets: &'a BTreeMap<String, String>,
}

/// Returns a copy of `doc` with the container's image, env and secrets set from `input`.
pub fn render(doc: &TaskDefinitionDoc, input: &RenderInput<'_>) -> Result<TaskDefinitionDoc, TaskDefinitionError> {
    if let Some(name) = input.env.keys().find(|k| input.secrets.contains_key(*k)) {
        return Err(TaskDefinitionError::EnvSecretClash { name: name.clone() });
    }
    let mut out = doc.clone();
    let available = doc.container_names().join(", ");
    let container = out
        .fields_mut()
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
        .find(|c| c.get("name").and_then(Value::as_str) == Some(input.container))
        .ok_or_else(|| TaskDefinitionError::UnknownContainer { name: input.container.to_owned(), available })?;

    container.insert("image".to_owned(), Value::String(input.image.to_owned()));
    // A name moving between plain env and secrets in config must leave the other list, or ECS rejects the pair.
    merge_named(container, "environment", "value", input.env, input.secrets)?;
    merge_named(container, "secrets", "valueFrom", input.secrets, input.env)?;
    Ok(out)
}

/// Merges `config` into the container's `[{name, <value_key>}]` list `list_key`: entries of the file keep their
/// place, config values replace them by name, new names are appended in name order; names in `evict` leave the list.
fn merge_named(
    container: &mut Map<String, Value>,
    list_key: &str,
    value_key: &str,
    config: &BTreeMap<String, String>,
    evict: &BTreeMap<String, String>,
) -> Result<(), TaskDefinitionError> {
    if config.is_empty() && evict.is_empty() {
        return Ok(());
    }
    // Taken in place (not removed and re-inserted) so the container's keys keep the file's order.
    let existing = match container.get_mut(list_key) {
        None => Vec::new(),
        Some(Value::Array(items)) => std::mem::take(items),
        Some(_) => {
            return Err(TaskDefinitionError::InvalidField {
                path: format!("containerDefinitions[{}].{list_key}", container_name(container)),
                message: "expected a list of {name, ...}".to_owned(),
            });
        }
    };
    let mut pending: BTreeMap<&str, &str> = config.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut merged = Vec::with_capacity(existing.len() + pending.len());
    for mut item in existing {
        let name = item.get("name").and_then(Value::as_str).map(str::to_owned);
        match name {
            Some(name) if evict.contains_key(&name) => continue,
            Some(name) => {
                if let (Some(value), Some(obj)) = (pending.remove(name.as_str()), item.as_object_mut()) {
                    obj.insert(value_key.to_owned(), Value::String(value.to_owned()));
                }
            }
            None => {}
        }
        merged.push(item);
    }
    merged.extend(pending.into_iter().map(|(name, value)| json!({"name": name, value_key: value})));
    if merged.is_empty() {
        container.retain(|k, _| k != list_key);
    } else {
        container.insert(list_key.to_owned(), Value::Array(merged));
    }
    Ok(())
}

fn container_name(container: &Map<String, Value>) -> String {
    container.get("name").and_then(Value::as_str).unwrap_or("?").to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{IMAGE, file_doc, release_env, release_secrets, rendered_doc};
    use super::*;

    #[test]
    fn render_sets_the_image_and_merges_env_with_config_winning() {
        let rendered = rendered_doc();
        let web = &rendered.as_map()["containerDefinitions"][0];
        assert_eq!(web["image"], json!(IMAGE));
        assert_eq!(
            web["environment"],
            json!([
                {"name": "LOG_LEVEL", "value": "info"},
                {"name": "FEATURE_X", "value": "on"},
                {"name": "RELEASE", "value": "1.4.0"}
            ])
        );
        assert_eq!(web["secrets"][1]["name"], json!("API_TOKEN"));
        // The other container is untouched.
        assert_eq!(rendered.as_map()["containerDefinitions"][1], file_doc().as_map()["containerDefinitions"][1]);
    }

    #[test]
    fn rendered_task_definition_snapshot() {
        insta::assert_json_snapshot!("rendered_task_definition", rendered_doc().to_register_json());
    }

    #[test]
    fn unknown_container_is_an_error_listing_the_containers() {
        let (env, secrets) = (release_env(), release_secrets());
        let err = render(&file_doc(), &RenderInput { container: "api", image: IMAGE, env: &env, secrets: &secrets })
            .unwrap_err();
        assert_eq!(err.to_string(), "container `api` is not in the task definition; it has: web, otel");
    }

    #[test]
    fn a_name_moving_between_env_and_secrets_leaves_the_other_list() {
        let env = BTreeMap::from([("DB_PASSWORD".to_owned(), "plain-in-dev".to_owned())]);
        let secrets =
            BTreeMap::from([("LOG_LEVEL".to_owned(), "arn:aws:ssm:eu-west-1:111122223333:parameter/x".to_owned())]);
        let rendered =
            render(&file_doc(), &RenderInput { container: "web", image: IMAGE, env: &env, secrets: &secrets }).unwrap();
        let web = &rendered.as_map()["containerDefinitions"][0];
        assert_eq!(
            web["environment"],
            json!([{"name": "FEATURE_X", "value": "off"}, {"name": "DB_PASSWORD", "value": "plain-in-dev"}])
        );
        assert_eq!(
            web["secrets"],
            json!([{"name": "LOG_LEVEL", "valueFrom": "arn:aws:ssm:eu-west-1:111122223333:parameter/x"}])
        );
    }

    #[test]
    fn the_same_name_in_config_env_and_secrets_is_an_error() {
        let env = BTreeMap::from([("X".to_owned(), "1".to_owned())]);
        let secrets = BTreeMap::from([("X".to_owned(), "arn".to_owned())]);
        let err = render(&file_doc(), &RenderInput { container: "web", image: IMAGE, env: &env, secrets: &secrets })
            .unwrap_err();
        assert!(matches!(err, TaskDefinitionError::EnvSecretClash { .. }), "{err}");
    }
}
