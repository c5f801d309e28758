//! `pipeline init`: a commented `.pipeline.yml` that works as written. It starts from what is there:
//! the Dockerfile and a task-definition file in the directory, the service that runs that task
//! definition's family (when AWS answers), or `--from-service CLUSTER/SERVICE`, whose live revision
//! it also writes as `task-definition.json` (read-only fields stripped). Strategy, CodeDeploy group
//! and alarms come from the service. The next step it prints works on the tree it leaves.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Run;
use crate::Error;
use crate::aws::Aws;
use crate::config::Starter;
use crate::deploy::group;
use crate::ecs::discover::{self, Discovered};
use crate::report::Stage;

/// Where `--from-service` writes the live task definition, next to the config.
const TASK_DEFINITION_FILE: &str = "task-definition.json";

pub async fn run(run: &mut Run<'_>, force: bool, from_service: Option<&str>) -> Result<(), Error> {
    let path = run.global.config.clone();
    if path.exists() && !force {
        return Err(Error::InitExists { path: path.display().to_string() });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut starter = Starter {
        repository: String::new(),
        context: ".".into(),
        dockerfile: "Dockerfile".into(),
        environment: run.global.env.clone().unwrap_or_else(|| "production".into()),
        task_definition: TASK_DEFINITION_FILE.into(),
        strategy: "rolling".into(),
        ..Starter::default()
    };
    match find_dockerfile(&dir) {
        Some((context, dockerfile)) => {
            starter.found.push(shown(&Path::new(&context).join(&dockerfile)));
            starter.context = context;
            starter.dockerfile = dockerfile;
        }
        None => {
            run.reporter.warn(format!("no Dockerfile found in {}: `image.dockerfile` names one to add", dir.display()))
        }
    }

    let mut written = vec![path.clone()];
    let (doc, live) = match from_service {
        Some(spec) => {
            let (cluster, service) =
                spec.split_once('/').ok_or_else(|| Error::BadServiceSpec { spec: spec.to_owned() })?;
            let aws = Aws::connect(None).await?;
            let live = discover::service(&aws.ecs, cluster, service).await?;
            let (_, doc) = crate::ecs::revision::describe(&aws.ecs, &live.task_definition).await?;
            let mut value = doc.to_register_json();
            // Tags belong to a revision (pipeline's own release marks among them), not to the template.
            if let Some(map) = value.as_object_mut() {
                map.remove("tags");
            }
            let file = dir.join(TASK_DEFINITION_FILE);
            if file.exists() && !force {
                return Err(Error::InitExists { path: file.display().to_string() });
            }
            let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
            std::fs::write(&file, text).map_err(|source| Error::Io { path: file.display().to_string(), source })?;
            run.reporter.progress(Stage::Plan, format!("wrote {} from {}", shown(&file), live.task_definition));
            written.push(file);
            starter.found.push(format!("the live service {cluster}/{service}"));
            fill_from_service(&mut starter, &aws, &live).await?;
            (Some(value), Some(live))
        }
        None => match find_task_definition(&dir) {
            None => {
                run.reporter.warn(format!(
                    "no task definition file found in {}: point `task-definition` at one, or run `pipeline init --from-service CLUSTER/SERVICE`",
                    dir.display()
                ));
                (None, None)
            }
            Some((relative, value)) => {
                starter.found.push(relative.clone());
                starter.task_definition = relative;
                let live = who_runs(run, &mut starter, &value).await;
                (Some(value), live)
            }
        },
    };

    if let Some(doc) = &doc {
        if starter.container.is_none() {
            starter.container = release_container(doc);
        }
        let image = starter.container.as_deref().and_then(|c| image_of(doc, c));
        starter.repository = image
            .as_deref()
            .and_then(ecr_repository)
            .or_else(|| live.as_ref().map(|l| l.service.clone()).and_then(|s| repository_name(&s)))
            .or_else(|| starter.container.as_deref().and_then(repository_name))
            .unwrap_or_default();
    }
    if starter.repository.is_empty() {
        let name =
            std::fs::canonicalize(&dir).ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
        starter.repository = name.as_deref().and_then(repository_name).unwrap_or_else(|| "my-service".into());
    }

    std::fs::write(&path, starter.render()).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    run.reporter.progress(Stage::Plan, describe(&path, &starter));
    run.reporter.progress(Stage::Plan, next_step(&dir, &path, &written));
    Ok(())
}

/// Cluster, service, region, strategy, CodeDeploy group and alarms from the live service.
async fn fill_from_service(starter: &mut Starter, aws: &Aws, live: &Discovered) -> Result<(), Error> {
    starter.region = Some(aws.region.clone());
    starter.cluster = Some(live.cluster.clone());
    starter.service = Some(live.service.clone());
    starter.container = live.load_balanced_container.clone();
    starter.alarms = live.alarms.clone();
    starter.strategy = match (live.controller.as_str(), live.ecs_strategy.as_deref()) {
        ("CODE_DEPLOY", _) => "codedeploy",
        ("ECS", Some("BLUE_GREEN" | "LINEAR" | "CANARY")) => "ecs-blue-green",
        _ => "rolling",
    }
    .into();
    if starter.strategy == "codedeploy"
        && let Some((application, group, info)) =
            group::find_for_service(&aws.codedeploy, &live.cluster, &live.service).await?
    {
        starter.codedeploy = Some((application, group));
        starter.alarms = info.alarms;
    }
    Ok(())
}

/// The service that runs the file's family, when AWS can be asked and exactly one does.
async fn who_runs(run: &mut Run<'_>, starter: &mut Starter, doc: &Value) -> Option<Discovered> {
    let family = doc.get("family").and_then(Value::as_str)?;
    let aws = match Aws::connect(None).await {
        Ok(aws) => aws,
        Err(e) => {
            run.reporter
                .warn(format!("AWS not asked which service runs `{family}` ({e}): set `cluster` and `service`"));
            return None;
        }
    };
    let found = match discover::running_family(&aws.ecs, family).await {
        Ok(found) => found,
        Err(e) => {
            run.reporter.warn(format!("could not look for the service running `{family}`: {e}"));
            return None;
        }
    };
    match found.as_slice() {
        [live] => {
            starter.found.push(format!("the service {}/{} that runs it", live.cluster, live.service));
            if let Err(e) = fill_from_service(starter, &aws, live).await {
                run.reporter.warn(format!("could not read the service's deployment settings: {e}"));
            }
            Some(live.clone())
        }
        [] => {
            starter.region = Some(aws.region.clone());
            run.reporter.warn(format!("no service in {} runs `{family}`: set `cluster` and `service`", aws.region));
            None
        }
        several => {
            starter.region = Some(aws.region.clone());
            let names: Vec<String> = several.iter().map(|s| format!("{}/{}", s.cluster, s.service)).collect();
            run.reporter.warn(format!(
                "several services run `{family}` ({}): set `cluster` and `service`, or use --from-service",
                names.join(", ")
            ));
            None
        }
    }
}

/// `Dockerfile` in the directory, else `Dockerfile.*` / `*.Dockerfile` there, else a `Dockerfile` one directory
/// down (that directory is the context). As `(context, dockerfile relative to it)`.
fn find_dockerfile(dir: &Path) -> Option<(String, String)> {
    if dir.join("Dockerfile").is_file() {
        return Some((".".into(), "Dockerfile".into()));
    }
    let entries = sorted_entries(dir);
    let named = |n: &str| n.starts_with("Dockerfile.") || n.ends_with(".Dockerfile") || n.ends_with(".dockerfile");
    if let Some(name) = entries.iter().filter(|p| p.is_file()).filter_map(|p| file_name(p)).find(|n| named(n)) {
        return Some((".".into(), name));
    }
    entries
        .iter()
        .filter(|p| p.is_dir() && p.join("Dockerfile").is_file() && !skipped(p))
        .find_map(|p| Some((file_name(p)?, "Dockerfile".into())))
}

/// A JSON or YAML file in the directory or two levels below that holds a task definition (bare, or as
/// `describe-task-definition` prints it), the shallowest first and `task` in the name preferred.
fn find_task_definition(dir: &Path) -> Option<(String, Value)> {
    let mut candidates = Vec::new();
    collect_files(dir, 0, &mut candidates);
    candidates.sort_by_key(|p| {
        let depth = p.strip_prefix(dir).map_or(9, |r| r.components().count());
        let name = file_name(p).unwrap_or_default().to_ascii_lowercase();
        (depth, !name.contains("task"), name)
    });
    candidates.into_iter().find_map(|p| {
        let text = std::fs::read_to_string(&p).ok()?;
        let value: Value = match p.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text).ok()?,
            _ => serde_norway::from_str(&text).ok()?,
        };
        let value = match value.get("taskDefinition") {
            Some(inner) if value.get("family").is_none() => inner.clone(),
            _ => value,
        };
        let is_td = value.get("family").is_some_and(Value::is_string)
            && value.get("containerDefinitions").is_some_and(Value::is_array);
        is_td.then(|| (p.strip_prefix(dir).unwrap_or(&p).display().to_string(), value))
    })
}

fn collect_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    for p in sorted_entries(dir) {
        if p.is_dir() && depth < 2 && !skipped(&p) {
            collect_files(&p, depth + 1, out);
        } else if p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "yml" | "yaml")) {
            out.push(p);
        }
    }
}

/// Directories that never hold the service's own files.
fn skipped(p: &Path) -> bool {
    let name = file_name(p).unwrap_or_default();
    (name.starts_with('.') && name != ".aws") || matches!(name.as_str(), "target" | "node_modules" | "vendor" | "dist")
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    entries.sort();
    entries
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The container a release replaces the image of: the only one, else the first essential one with ports.
fn release_container(doc: &Value) -> Option<String> {
    let containers = doc.get("containerDefinitions")?.as_array()?;
    let name = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_owned);
    let essential = |c: &&Value| c.get("essential").and_then(Value::as_bool) != Some(false);
    let ports = |c: &&Value| c.get("portMappings").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
    containers
        .iter()
        .filter(essential)
        .find(ports)
        .or_else(|| containers.iter().find(essential))
        .or(containers.first())
        .and_then(name)
}

fn image_of(doc: &Value, container: &str) -> Option<String> {
    doc.get("containerDefinitions")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container))?
        .get("image")?
        .as_str()
        .map(str::to_owned)
}

/// `111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/web:tag` -> `team/web`.
fn ecr_repository(image: &str) -> Option<String> {
    let (host, rest) = image.split_once('/')?;
    if !host.contains(".dkr.ecr.") {
        return None;
    }
    let name = rest.split(['@', ':']).next()?;
    repository_name(name)
}

/// A valid ECR repository name made from `s`: lowercase, other characters as `-`.
fn repository_name(s: &str) -> Option<String> {
    let mapped: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/') { c } else { '-' })
        .collect();
    let name = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned();
    (name.len() >= 2).then_some(name)
}

/// A path without a leading `./`.
fn shown(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

fn describe(path: &Path, s: &Starter) -> String {
    let target = match (&s.cluster, &s.service) {
        (Some(c), Some(v)) => format!("{c}/{v} ({} strategy)", s.strategy),
        _ => "cluster and service: TODO".into(),
    };
    let dockerfile = Path::new(&s.context).join(&s.dockerfile);
    format!(
        "wrote {}: image {} from {}, environment `{}` -> {target}, task definition {}",
        shown(path),
        s.repository,
        shown(&dockerfile),
        s.environment,
        s.task_definition
    )
}

/// What to run next, for the tree as `init` leaves it: new files make it dirty, and a release needs a commit.
/// Paths as the user gave them, so the line can be pasted where `init` ran.
fn next_step(dir: &Path, config: &Path, written: &[PathBuf]) -> String {
    let files: Vec<String> = written.iter().map(|p| shown(p)).collect();
    let add = format!("git add {}", files.join(" "));
    let commit = "git commit -m \"ci: release with pipeline\"";
    let plan = if config == Path::new(crate::config::DEFAULT_PATH) {
        "pipeline plan".to_owned()
    } else {
        format!("pipeline plan --config {}", config.display())
    };
    match crate::git::Repo::open(dir) {
        Ok(_) => format!("next: {add} && {commit} && {plan}   (to try it before committing: {plan} --allow-dirty)"),
        Err(_) => {
            format!("next: git init && git add -A && {commit} && {plan}   (the version comes from the git history)")
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_repository_comes_from_an_ecr_image_or_a_name() {
        assert_eq!(
            ecr_repository("111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/web:1.2").as_deref(),
            Some("team/web")
        );
        assert_eq!(
            ecr_repository("111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:ab").as_deref(),
            Some("web")
        );
        assert_eq!(ecr_repository("nginx:latest"), None);
        assert_eq!(repository_name("My_Service").as_deref(), Some("my_service"));
        assert_eq!(repository_name("x"), None);
    }

    #[test]
    fn the_released_container_is_the_essential_one_with_ports() {
        let doc = json!({"containerDefinitions": [
            {"name": "log-router", "image": "fluent", "essential": false},
            {"name": "sidecar", "image": "envoy"},
            {"name": "web", "image": "web", "portMappings": [{"containerPort": 80}]}
        ]});
        assert_eq!(release_container(&doc).as_deref(), Some("web"));
    }

    #[test]
    fn files_in_the_directory_are_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
        std::fs::write(dir.path().join("package.json"), "{\"name\": \"x\"}").unwrap();
        std::fs::write(
            dir.path().join("deploy/taskdef.json"),
            "{\"taskDefinition\": {\"family\": \"web\", \"containerDefinitions\": []}}",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/Dockerfile"), "FROM scratch\n").unwrap();
        let (path, doc) = find_task_definition(dir.path()).unwrap();
        assert_eq!((path.as_str(), doc["family"].as_str()), ("deploy/taskdef.json", Some("web")));
        assert_eq!(find_dockerfile(dir.path()), Some(("app".into(), "Dockerfile".into())));
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(find_dockerfile(dir.path()), Some((".".into(), "Dockerfile".into())));
    }
}
