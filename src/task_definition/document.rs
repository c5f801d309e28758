//! A task definition as users keep it in their repository (the aws-actions `task-definition.json`, or the output of
//! `aws ecs describe-task-definition`), in the AWS JSON wire shape. Checked as ECS checks it: a field the
//! RegisterTaskDefinition shape does not have, a value of the wrong type or outside an enum is an error with its
//! file:line:column and a did-you-mean (this overrides STYLE 10: ECS rejects unknown fields, so keeping them only moved
//! the failure to after the image was pushed). What `describe-task-definition` adds is still accepted: its read-only
//! fields are stripped, and keys next to `taskDefinition` are ignored with a warning.

use std::collections::BTreeMap;
use std::path::Path;

use miette::{NamedSource, SourceSpan};
use serde_json::{Map, Value};

use super::error::{InvalidDocument, MAX_PROBLEMS, PlacedProblem, SyntaxError, TaskDefinitionError};
use super::fields;
use super::locate::locate;
use super::validate::{FieldPath, Problem, ProblemKind, Segment, validate};

/// A task definition document ready for RegisterTaskDefinition: read-only fields and nulls removed, `family` and
/// named containers with images guaranteed. `tags`, when present, are the request's `[{key, value}]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct TaskDefinitionDoc {
    fields: Map<String, Value>,
}

/// A loaded document and what the user should hear about it (keys ignored next to `taskDefinition`).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub doc: TaskDefinitionDoc,
    pub warnings: Vec<String>,
}

/// The syntax a file is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// `.yml`/`.yaml` are YAML, everything else JSON, except that a file not starting with `{` is read as YAML so
    /// a YAML file without the extension still loads.
    fn detect(path: &Path, text: &str) -> Self {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("yml" | "yaml") => Format::Yaml,
            Some("json") => Format::Json,
            _ if text.trim_start().starts_with('{') => Format::Json,
            _ => Format::Yaml,
        }
    }
}

impl TaskDefinitionDoc {
    /// Reads a JSON or YAML file (chosen by extension, see [`Format`]).
    pub fn load(path: &Path) -> Result<Loaded, TaskDefinitionError> {
        let origin = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| TaskDefinitionError::Io { path: origin.clone(), source })?;
        Self::parse(&text, &origin, Format::detect(path, &text))
    }

    /// Parses text; `origin` names the source in errors and warnings.
    pub fn parse(text: &str, origin: &str, format: Format) -> Result<Loaded, TaskDefinitionError> {
        let value = match format {
            Format::Json => serde_json::from_str::<Value>(text)
                .map_err(|e| syntax_error(origin, text, "JSON", e.line(), e.column(), e.to_string()))?,
            Format::Yaml => serde_norway::from_str::<Value>(text).map_err(|e| {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                syntax_error(origin, text, "YAML", line, column, e.to_string())
            })?,
        };
        Self::checked(value, origin, Some(Text { text, format }))
    }

    /// Accepts the bare task definition or DescribeTaskDefinition's `{"taskDefinition": {...}, "tags": [...]}`.
    /// The way in for a revision ECS already holds ([`super::sdk::from_sdk`]): ECS accepted it, so it is not held
    /// to the shape again (a value newer than this SDK's enums must not stop a release), only to what a release
    /// needs (a family, named containers with images).
    pub fn from_value(value: Value, origin: &str) -> Result<Loaded, TaskDefinitionError> {
        Self::checked(value, origin, None)
    }

    fn checked(value: Value, origin: &str, text: Option<Text<'_>>) -> Result<Loaded, TaskDefinitionError> {
        let mut warnings = Vec::new();
        let Value::Object(mut top) = strip_nulls(value) else {
            return Err(TaskDefinitionError::NotAnObject { path: origin.to_owned(), found: "a non-object" });
        };
        let wrapped = matches!(top.get("taskDefinition"), Some(Value::Object(_))) && !top.contains_key("family");
        let mut fields = match top.remove("taskDefinition") {
            Some(Value::Object(inner)) if !top.contains_key("family") => {
                let mut inner = inner;
                if let Some(tags) = top.remove("tags") {
                    inner.insert("tags".to_owned(), tags);
                }
                for key in top.keys() {
                    // e.g. the CLI's `ResponseMetadata`: not part of the definition, so not kept.
                    warnings.push(format!("ignored `{key}` next to `taskDefinition` in {origin}"));
                }
                inner
            }
            Some(other) => {
                top.insert("taskDefinition".to_owned(), other);
                top
            }
            None => top,
        };
        // retain, not remove: Map::remove swaps the last key into the hole and would reorder the user's file.
        fields.retain(|k, _| !fields::READ_ONLY.contains(&k.as_str()));
        let fields = Value::Object(fields);
        let problems = if text.is_some() { validate(&fields) } else { Vec::new() };
        let Value::Object(fields) = fields else { unreachable!("built as an object above") };
        let place = |problem: &Problem| text.as_ref().and_then(|t| t.place(problem, wrapped));
        // The structural checks keep their own messages when they are all that is wrong.
        if problems.iter().all(is_structural) {
            check_structure(&fields, origin).map_err(|e| with_place(e, text.as_ref(), &problems, &place))?;
        } else {
            return Err(invalid(origin, text.as_ref(), &problems, &place));
        }
        Ok(Loaded { doc: TaskDefinitionDoc { fields }, warnings })
    }

    pub fn family(&self) -> &str {
        // validate() guarantees a string family.
        self.fields.get("family").and_then(Value::as_str).unwrap_or_default()
    }

    pub fn container_names(&self) -> Vec<&str> {
        self.containers().iter().filter_map(|c| c.get("name").and_then(Value::as_str)).collect()
    }

    /// The image of a container, if it exists.
    pub fn image_of(&self, container: &str) -> Option<&str> {
        self.containers()
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(container))
            .and_then(|c| c.get("image"))
            .and_then(Value::as_str)
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for tag in self.fields.get("tags").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(k), Some(v)) =
                (tag.get("key").and_then(Value::as_str), tag.get("value").and_then(Value::as_str))
            {
                out.insert(k.to_owned(), v.to_owned());
            }
        }
        out
    }

    /// Adds or replaces tags (the release's version and commit); tags already in the file stay unless overridden.
    pub fn set_tags(&mut self, tags: &BTreeMap<String, String>) {
        let mut all = self.tags();
        all.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        let list = all.into_iter().map(|(key, value)| serde_json::json!({"key": key, "value": value})).collect();
        self.fields.insert("tags".to_owned(), Value::Array(list));
    }

    /// The document as RegisterTaskDefinition's JSON input (tags, if any, at the top level as `[{key, value}]`).
    pub fn to_register_json(&self) -> Value {
        Value::Object(self.fields.clone())
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// A document taken as it is, unchecked: for tests of what later stages do with fields loading refuses.
    #[cfg(test)]
    pub(crate) fn unchecked(value: Value) -> Self {
        TaskDefinitionDoc { fields: value.as_object().cloned().unwrap_or_default() }
    }

    pub(crate) fn containers(&self) -> &[Value] {
        self.fields.get("containerDefinitions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
    }

    /// Mutable access for rendering; the invariants checked by `validate` must be kept by the caller.
    pub(crate) fn fields_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.fields
    }
}

/// The text a document was parsed from, to place its problems.
struct Text<'a> {
    text: &'a str,
    format: Format,
}

impl Text<'_> {
    /// Line and column of a problem in the file. In DescribeTaskDefinition's output the fields sit under
    /// `taskDefinition` (its `tags` next to it).
    fn place(&self, problem: &Problem, wrapped: bool) -> Option<(usize, usize)> {
        let mut path = problem.path.clone();
        let top_tags = matches!(path.0.first(), Some(Segment::Key(k)) if k == "tags");
        if wrapped && !top_tags {
            path.0.insert(0, Segment::Key("taskDefinition".to_owned()));
        }
        locate(self.text, self.format, &path, problem.points_at_key()).or_else(|| {
            locate(self.text, self.format, &FieldPath(path.0[..path.0.len().saturating_sub(1)].to_vec()), false)
        })
    }

    fn offset(&self, (line, column): (usize, usize)) -> Option<usize> {
        offset_of(self.text, line, column)
    }

    fn source(&self, origin: &str) -> NamedSource<String> {
        let language = if self.format == Format::Json { "json" } else { "yaml" };
        NamedSource::new(origin, self.text.to_owned()).with_language(language)
    }
}

/// The problems the structural checks below report with their own messages.
fn is_structural(problem: &Problem) -> bool {
    let path = &problem.path.0;
    let top = |k: &str| matches!(path.as_slice(), [Segment::Key(x)] if x == k);
    let container = matches!(path.as_slice(), [Segment::Key(x), Segment::Index(_)] if x == "containerDefinitions");
    match &problem.kind {
        ProblemKind::Missing { field } if path.is_empty() => field == "family" || field == "containerDefinitions",
        ProblemKind::Missing { field } if container => field == "name" || field == "image",
        ProblemKind::Empty | ProblemKind::WrongType { .. } => {
            top("family") || top("containerDefinitions") || container || {
                let named = matches!(path.as_slice(), [Segment::Key(x), Segment::Index(_), Segment::Key(f)]
                    if x == "containerDefinitions" && (f == "name" || f == "image"));
                named
            }
        }
        _ => false,
    }
}

/// `family`, at least one container, and a name and an image for each: what a release cannot do without.
fn check_structure(fields: &Map<String, Value>, origin: &str) -> Result<(), TaskDefinitionError> {
    let path = || origin.to_owned();
    match fields.get("family").and_then(Value::as_str) {
        Some(f) if !f.trim().is_empty() => {}
        _ => return Err(TaskDefinitionError::MissingFamily { path: path(), src: None, span: None }),
    }
    let containers = match fields.get("containerDefinitions").and_then(Value::as_array) {
        Some(c) if !c.is_empty() => c,
        _ => return Err(TaskDefinitionError::MissingContainers { path: path(), src: None, span: None }),
    };
    for (index, container) in containers.iter().enumerate() {
        for field in ["name", "image"] {
            match container.get(field).and_then(Value::as_str) {
                Some(v) if !v.trim().is_empty() => {}
                _ => {
                    return Err(TaskDefinitionError::InvalidContainer {
                        path: path(),
                        index,
                        field,
                        src: None,
                        span: None,
                    });
                }
            }
        }
    }
    Ok(())
}

/// A structural error pointed at its place in the file (the first structural problem's).
fn with_place(
    err: TaskDefinitionError,
    text: Option<&Text<'_>>,
    problems: &[Problem],
    place: &dyn Fn(&Problem) -> Option<(usize, usize)>,
) -> TaskDefinitionError {
    let Some(text) = text else { return err };
    let span = problems.first().and_then(place).and_then(|p| text.offset(p)).map(|o| SourceSpan::from((o, 0)));
    let src = |origin: &str| Some(std::sync::Arc::new(text.source(origin)));
    match err {
        TaskDefinitionError::MissingFamily { path, .. } => {
            TaskDefinitionError::MissingFamily { src: src(&path), span: span.or(Some((0, 0).into())), path }
        }
        TaskDefinitionError::MissingContainers { path, .. } => {
            TaskDefinitionError::MissingContainers { src: src(&path), span: span.or(Some((0, 0).into())), path }
        }
        TaskDefinitionError::InvalidContainer { path, index, field, .. } => {
            TaskDefinitionError::InvalidContainer { src: src(&path), span, path, index, field }
        }
        other => other,
    }
}

fn invalid(
    origin: &str,
    text: Option<&Text<'_>>,
    problems: &[Problem],
    place: &dyn Fn(&Problem) -> Option<(usize, usize)>,
) -> TaskDefinitionError {
    let mut placed: Vec<PlacedProblem> = problems
        .iter()
        .map(|p| {
            let at = place(p);
            PlacedProblem {
                message: p.to_string(),
                place: at,
                offset: at.and_then(|at| text.and_then(|t| t.offset(at))),
            }
        })
        .collect();
    // In the order of the file, as an editor shows them.
    placed.sort_by_key(|p| p.place.unwrap_or((usize::MAX, 0)));
    placed.truncate(MAX_PROBLEMS);
    TaskDefinitionError::Invalid(Box::new(InvalidDocument {
        path: origin.to_owned(),
        problems: placed,
        more: problems.len().saturating_sub(MAX_PROBLEMS),
        src: text.map(|t| t.source(origin)),
    }))
}

/// Removes JSON nulls at every depth: the CLI prints them for unset members, and RegisterTaskDefinition would
/// reject some of them.
pub(crate) fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().filter(|v| !v.is_null()).map(strip_nulls).collect()),
        other => other,
    }
}

fn syntax_error(
    origin: &str,
    text: &str,
    format: &'static str,
    line: usize,
    column: usize,
    message: String,
) -> TaskDefinitionError {
    let span = offset_of(text, line, column).map(|offset| SourceSpan::from((offset, 0)));
    // Both parsers end their message with the position, which our message already starts with.
    let suffix = format!(" at line {line} column {column}");
    let message = message.strip_suffix(&suffix).map(str::to_owned).unwrap_or(message);
    TaskDefinitionError::Syntax(Box::new(SyntaxError {
        path: origin.to_owned(),
        format,
        line,
        column,
        message,
        src: NamedSource::new(origin, text.to_owned()),
        span,
    }))
}

/// Byte offset of a 1-based line:column, for miette's label; None when the parser gave no position.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let line_start: usize = text.split_inclusive('\n').take(line - 1).map(str::len).sum();
    let line_text = text.get(line_start..)?.split('\n').next().unwrap_or_default();
    let within = line_text.char_indices().nth(column.saturating_sub(1)).map_or(line_text.len(), |(i, _)| i);
    Some((line_start + within).min(text.len()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::described_json;
    use super::*;

    fn parse_json(value: &Value) -> Result<Loaded, TaskDefinitionError> {
        TaskDefinitionDoc::parse(&value.to_string(), "td.json", Format::Json)
    }

    #[test]
    fn describe_output_loads_with_read_only_fields_stripped_and_extra_keys_ignored_with_a_warning() {
        let mut described = described_json();
        described["ResponseMetadata"] = json!({"RequestId": "x"});

        let loaded = parse_json(&described).unwrap();
        let map = loaded.doc.as_map();
        for key in fields::READ_ONLY {
            assert!(!map.contains_key(*key), "{key} should be stripped");
        }
        assert!(!map.contains_key("taskRoleArn"), "nulls are stripped");
        assert_eq!(loaded.doc.tags(), BTreeMap::from([("pipeline:version".to_owned(), "1.4.0".to_owned())]));
        assert_eq!(loaded.warnings, vec!["ignored `ResponseMetadata` next to `taskDefinition` in td.json".to_owned()]);
        assert_eq!(loaded.doc.family(), "web");
        assert_eq!(loaded.doc.container_names(), vec!["web", "otel"]);
    }

    #[test]
    fn unknown_fields_are_errors_with_their_place_and_a_suggestion_as_ecs_rejects_them() {
        let text = "{\n  \"familly\": \"web\",\n  \"containerDefinitions\": [\n    {\"name\": \"web\", \"image\": \"x\",\n     \"essentail\": true, \"cpu\": {\"x\": 1}}\n  ]\n}\n";
        let err = TaskDefinitionDoc::parse(text, "td.json", Format::Json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "td.json: 3 problems in the task definition:\n  \
             td.json:2:3: unknown field `familly` in the task definition; did you mean `family`?\n  \
             td.json:5:6: unknown field `essentail` in containerDefinitions[0]; did you mean `essential`?\n  \
             td.json:5:32: `containerDefinitions[0].cpu`: expected an integer, found an object"
        );
        assert_eq!(err.location(), Some(("td.json".to_owned(), 2, 3)));
    }

    #[test]
    fn a_revision_ecs_holds_is_not_held_to_this_sdks_enums() {
        let live = json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "i",
            "logConfiguration": {"logDriver": "a-driver-newer-than-this-sdk"}}]});
        assert!(TaskDefinitionDoc::from_value(live.clone(), "web:3").is_ok());
        assert!(parse_json(&live).is_err(), "a file is");
    }

    #[test]
    fn describe_output_problems_are_placed_inside_task_definition() {
        let text = "taskDefinition:\n  family: web\n  containerDefinitions:\n    - name: web\n      image: x\n      essential: yes please\ntags:\n  - {key: a, valu: b}\n";
        let err = TaskDefinitionDoc::parse(text, "td.yml", Format::Yaml).unwrap_err().to_string();
        assert!(err.contains("td.yml:6:18: `containerDefinitions[0].essential`: expected true or false"), "{err}");
        assert!(err.contains("td.yml:8:14: unknown field `valu` in tags[0]; did you mean `value`?"), "{err}");
    }

    #[test]
    fn bare_task_definition_loads_without_warnings() {
        let loaded = parse_json(&super::super::fixtures::file_json()).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.doc.image_of("web"), Some("placeholder"));
    }

    #[test]
    fn yaml_loads_from_a_file_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task-definition.yml");
        let yaml = "family: web\ncpu: 256\ncontainerDefinitions:\n  - name: web\n    image: nginx\n    portMappings:\n      - containerPort: 80\n    environment:\n      - {name: A, value: \"1\"}\n    unknownThing: ~\n";
        std::fs::write(&path, yaml).unwrap();
        let loaded = TaskDefinitionDoc::load(&path).unwrap();
        assert!(loaded.warnings.is_empty(), "a null unknown field is stripped, not reported: {:?}", loaded.warnings);
        assert_eq!(
            loaded.doc.to_register_json(),
            json!({"family": "web", "cpu": 256, "containerDefinitions": [{"name": "web", "image": "nginx",
                "portMappings": [{"containerPort": 80}], "environment": [{"name": "A", "value": "1"}]}]})
        );
    }

    #[test]
    fn json_syntax_error_names_file_line_and_column() {
        let text = "{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n    {\"name\": \"web\" \"image\": \"x\"}\n  ]\n}\n";
        let err = TaskDefinitionDoc::parse(text, "td.json", Format::Json).unwrap_err();
        let TaskDefinitionError::Syntax(syntax) = &err else { panic!("{err:?}") };
        assert_eq!((syntax.line, syntax.column), (4, 20));
        assert!(err.to_string().starts_with("td.json:4:20: not valid JSON"), "{err}");
        let offset = syntax.span.expect("a span for miette").offset();
        assert_eq!(&text[offset..offset + 7], "\"image\"");
    }

    #[test]
    fn syntax_error_renders_with_the_offending_line() {
        let text = "{\n  \"family\": \"web\",,\n}\n";
        let err = TaskDefinitionDoc::parse(text, "td.json", Format::Json).unwrap_err();
        let mut out = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .render_report(&mut out, &err)
            .unwrap();
        assert!(out.contains("td.json:2:19: not valid JSON: key must be a string\n"), "{out}");
        assert!(out.contains("\"family\": \"web\",,"), "the source line is shown: {out}");
        assert!(out.contains("describe-task-definition"), "the help is shown: {out}");
    }

    #[test]
    fn nulls_are_stripped_at_every_depth() {
        let value = json!({"family": "web", "taskRoleArn": null, "containerDefinitions": [
            {"name": "web", "image": "i", "logConfiguration": {"logDriver": "awslogs", "options": null}, "command": [null, "x"]}
        ]});
        let doc = parse_json(&value).unwrap().doc;
        assert_eq!(
            doc.to_register_json(),
            json!({"family": "web", "containerDefinitions": [
                {"name": "web", "image": "i", "logConfiguration": {"logDriver": "awslogs"}, "command": ["x"]}
            ]})
        );
    }

    #[test]
    fn yaml_syntax_error_names_file_line_and_column() {
        let text = "family: web\ncontainerDefinitions:\n  - name: web\n   image: [unclosed\n";
        let err = TaskDefinitionDoc::parse(text, "td.yml", Format::Yaml).unwrap_err();
        let TaskDefinitionError::Syntax(syntax) = &err else { panic!("{err:?}") };
        let (line, column) = (syntax.line, syntax.column);
        assert!(line >= 4, "line {line}");
        assert!(err.to_string().starts_with(&format!("td.yml:{line}:{column}: not valid YAML")), "{err}");
    }

    #[test]
    fn structural_errors_name_what_is_missing() {
        let cases = [
            (json!([1, 2]), "td.json: a task definition must be an object"),
            (json!({"containerDefinitions": [{"name": "a", "image": "b"}]}), "td.json: `family` is missing"),
            (
                json!({"family": "web", "containerDefinitions": []}),
                "td.json: `containerDefinitions` is missing or empty",
            ),
            (json!({"family": "web"}), "td.json: `containerDefinitions` is missing or empty"),
            (
                json!({"family": "web", "containerDefinitions": [{"name": "a"}]}),
                "td.json: containerDefinitions[0] has no `image`",
            ),
            (
                json!({"family": "web", "containerDefinitions": [{"image": "a"}]}),
                "td.json: containerDefinitions[0] has no `name`",
            ),
        ];
        for (value, expected) in cases {
            let err = parse_json(&value).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{value}: {err}");
        }
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let err = TaskDefinitionDoc::load(Path::new("/nonexistent/td.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/td.json"), "{err}");
    }

    #[test]
    fn set_tags_adds_and_overrides() {
        let mut doc = parse_json(&described_json()).unwrap().doc;
        doc.set_tags(&BTreeMap::from([
            ("pipeline:version".to_owned(), "1.5.0".to_owned()),
            ("pipeline:commit".to_owned(), "abc123".to_owned()),
        ]));
        assert_eq!(
            doc.to_register_json()["tags"],
            json!([{"key": "pipeline:commit", "value": "abc123"}, {"key": "pipeline:version", "value": "1.5.0"}])
        );
    }
}
