//! `image.sidecars` against the task definitions a release registers: a sidecar is pinned into the container of its
//! name, so one that names no container of any of them would be left out silently. Checked by the local half when
//! every task definition is a file, and once more when the deploy plans have read the `from-service` ones.

use super::at;
use crate::Error;
use crate::config::{self, Config, TaskDefinitionSource};
use crate::task_definition::TaskDefinitionDoc;

/// One task definition a release to an environment registers: what it is called in a message (its file, or the
/// service whose revision it is), the app's container, and every container's name.
pub struct Registered {
    pub source: String,
    pub app: String,
    pub containers: Vec<String>,
}

/// Every sidecar that names no container of `registered` (the task definitions of environment `environment`) nor of
/// another environment's task-definition file, each placed at its key under `image.sidecars`. One that another
/// environment's task definition has is meant for that environment (a log router only in prod, say), not misspelt:
/// where no container has its name, it is simply not pinned.
pub fn check(config: &Config, environment: &str, registered: &[Registered]) -> Vec<Error> {
    let sidecars = config.image.sidecars.keys().map(String::as_str);
    let elsewhere = elsewhere(config, environment);
    unmatched(sidecars, registered)
        .into_iter()
        .filter(|sidecar| !elsewhere.iter().any(|c| c == sidecar))
        .map(|sidecar| unmatched_error(config, environment, sidecar, registered))
        .collect()
}

/// The containers of the task-definition files of every environment but `environment` (each service's, with
/// `services:`); one that does not load is reported when that environment is checked.
fn elsewhere(config: &Config, environment: &str) -> Vec<String> {
    let others = config.environments.iter().filter(|(name, _)| name.as_str() != environment);
    let services = others.flat_map(|(_, env)| env.each_service());
    let files = services.filter_map(|(_, one)| match &one.task_definition {
        TaskDefinitionSource::File(path) => TaskDefinitionDoc::load(path).ok(),
        _ => None,
    });
    files.flat_map(|loaded| loaded.doc.container_names().into_iter().map(str::to_owned).collect::<Vec<_>>()).collect()
}

/// Every sidecar named like the app container of one of `apps` (environment, service, container), placed at its key
/// under `image.sidecars`: a sidecar is pinned into the container of its name, so its image would replace the
/// release's own in the task definition. Needs only the config, so it holds for `from-service` ones too.
pub fn app_named(config: &Config, apps: &[(&str, &str, &str)]) -> Vec<Error> {
    config
        .image
        .sidecars
        .keys()
        .filter_map(|sidecar| {
            let mut services: Vec<String> = Vec::new();
            for (environment, service, _) in apps.iter().filter(|(_, _, container)| container == sidecar) {
                let named = format!("service `{service}` in `{environment}`");
                if !services.contains(&named) {
                    services.push(named);
                }
            }
            (!services.is_empty()).then(|| app_named_error(config, sidecar, &services))
        })
        .collect()
}

fn app_named_error(config: &Config, sidecar: &str, services: &[String]) -> Error {
    at(
        config,
        &["image", "sidecars", sidecar],
        &format!(
            "sidecar `{sidecar}` is named like the app container `{sidecar}` of {}: its image would replace the \
             release's own",
            services.join(", ")
        ),
        "rename the sidecar under `image.sidecars` to the sidecar container it pins; the app container's image is \
         always the one the release builds or deploys",
    )
}

/// The sidecars whose name is no container of any of `registered`: with `services:`, one service's is enough.
fn unmatched<'a>(sidecars: impl IntoIterator<Item = &'a str>, registered: &[Registered]) -> Vec<&'a str> {
    sidecars.into_iter().filter(|s| !registered.iter().any(|r| r.containers.iter().any(|c| c == s))).collect()
}

/// The container a misspelt sidecar most likely means: never an app container, whose image is the release's.
fn suggestion(sidecar: &str, registered: &[Registered]) -> Option<String> {
    let candidates: Vec<String> =
        registered.iter().flat_map(|r| r.containers.iter().filter(|c| **c != r.app).cloned()).collect();
    config::closest(sidecar, &candidates)
}

fn unmatched_error(config: &Config, environment: &str, sidecar: &str, registered: &[Registered]) -> Error {
    let has: Vec<String> =
        registered.iter().map(|r| format!("{} has: {}", r.source, r.containers.join(", "))).collect();
    let (definitions, add_to) = match registered.len() {
        1 => ("the task definition", "the task definition"),
        _ => ("any task definition", "one of the task definitions"),
    };
    let fix = format!(
        "pinned into the container of its name: rename it under `image.sidecars`, add a container `{sidecar}` to \
         {add_to}, or remove the sidecar"
    );
    let help = match suggestion(sidecar, registered) {
        Some(s) => format!("did you mean `{s}`? A sidecar is {fix}"),
        None => format!("a sidecar is {fix}"),
    };
    at(
        config,
        &["image", "sidecars", sidecar],
        &format!(
            "sidecar `{sidecar}` names no container of {definitions} a release to `{environment}` registers ({}), \
             so it would not be deployed",
            has.join("; ")
        ),
        &help,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(source: &str, app: &str, containers: &[&str]) -> Registered {
        Registered {
            source: source.to_owned(),
            app: app.to_owned(),
            containers: containers.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn a_sidecar_matches_a_container_of_any_task_definition_of_the_release() {
        let one = [registered("web.json", "web", &["web", "proxy"])];
        assert_eq!(unmatched(["proxy"], &one), Vec::<&str>::new());
        assert_eq!(unmatched(["proxxy", "proxy", "log"], &one), ["proxxy", "log"]);
        // With `services:`, one service's task definition holding it is enough.
        let two = [registered("web.json", "web", &["web"]), registered("worker.json", "worker", &["worker", "log"])];
        assert_eq!(unmatched(["log"], &two), Vec::<&str>::new());
        assert_eq!(unmatched(["proxy", "log"], &two), ["proxy"]);
        assert_eq!(unmatched(["proxy"], &[]), ["proxy"], "no task definition holds anything");
    }

    #[test]
    fn a_sidecar_another_environments_task_definition_has_is_meant_for_it_not_misspelt() {
        let dir = tempfile::tempdir().unwrap();
        let td = |containers: &str| format!(r#"{{"family": "web", "containerDefinitions": [{containers}]}}"#);
        std::fs::write(dir.path().join("staging.json"), td(r#"{"name": "web", "image": "x"}"#)).unwrap();
        let prod = r#"{"name": "web", "image": "x"}, {"name": "log", "image": "x"}"#;
        std::fs::write(dir.path().join("prod.json"), td(prod)).unwrap();
        let path = dir.path().join(".pipeline.yml");
        std::fs::write(
            &path,
            "version: 1\nimage:\n  repository: web\n  sidecars:\n    log: {image: \"log:v1\"}\n    lgo: {image: \"log:v1\"}\n\
             environments:\n  staging: {cluster: s, service: web, task-definition: staging.json, container: web}\n\
             \x20 prod: {cluster: p, service: web, task-definition: prod.json, container: web}\n",
        )
        .unwrap();
        let config = crate::config::load(&path, &[]).unwrap();
        let refused = |environment: &str, containers: &[&str]| -> Vec<String> {
            let registered = [registered(&format!("{environment}.json"), "web", containers)];
            check(&config, environment, &registered).iter().map(|e| e.to_string()).collect()
        };
        // `log` is prod's: a staging release leaves it out. `lgo` is no container anywhere: a typo, refused.
        let staging = refused("staging", &["web"]);
        assert_eq!(staging.len(), 1, "{staging:?}");
        assert!(staging[0].contains("sidecar `lgo`"), "{staging:?}");
        let prod = refused("prod", &["web", "log"]);
        assert_eq!(prod.len(), 1, "{prod:?}");
        assert!(prod[0].contains("sidecar `lgo`"), "{prod:?}");
    }

    #[test]
    fn a_misspelt_sidecar_suggests_a_container_but_never_the_apps() {
        let two = [registered("web.json", "web", &["web", "proxy"]), registered("worker.json", "worker", &["worker"])];
        assert_eq!(suggestion("proxxy", &two).as_deref(), Some("proxy"));
        assert_eq!(suggestion("wbe", &two), None, "`web` is the app's container, whose image is the release's");
        assert_eq!(suggestion("log-router", &two), None);
    }
}
