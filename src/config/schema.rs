//! The JSON Schema of `.pipeline.yml`, for editors (`pipeline schema`); committed as schema/pipeline.schema.json.

use super::model::Config;

/// The JSON Schema of the config file, generated from the model so that it cannot drift from the parser.
pub fn schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Config);
    // A schemars Schema is a JSON value already; the conversion cannot fail.
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::schema;

    /// Fails when the model changed and the committed schema was not regenerated.
    #[test]
    fn committed_schema_is_up_to_date() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/pipeline.schema.json");
        let committed: serde_json::Value = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(serde_json::Value::Null);
        assert!(
            committed == schema(),
            "schema/pipeline.schema.json is stale or missing; regenerate it with:\n    cargo run -- schema > schema/pipeline.schema.json"
        );
    }
}
