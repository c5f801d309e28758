//! Checked before changed (issue 18): bad input as a user would type it, each case asserting the exit
//! code, the file:line of the message where there is a file, and that nothing changed: the sandbox saw
//! no write call (its per-operation call counts, before and after) and the registry holds no image.
//! Local problems are found before any AWS call at all.

use std::collections::BTreeMap;

use crate::fixture::{Controller, TASK_DEFINITION};
use crate::harness::{Pipeline, Repo, Run, Sandbox, http_get};

const USAGE: i32 = 3;
const FAILURE: i32 = 1;

/// The config every case starts from: the fixture's rolling service `prod/web`.
const CONFIG: &str = "version: 1
image:
  repository: web
environments:
  prod:
    cluster: prod
    service: web
    task-definition: task-definition.json
    container: web
    timeout: 2m
    strategy: rolling
";

const CODEDEPLOY: &str = "strategy: codedeploy
    codedeploy:
      application: web
      deployment-group: web-prod";

const TD_YAML: &str = "family: web
containerDefinitions:
  - name: web
    image: placeholder
    essential: true
    portMappings:
      - containerPort: 8080
";

/// What a case starts from and changes.
struct Setup {
    config: String,
    files: Vec<(&'static str, String)>,
    remove: Vec<&'static str>,
    /// The sandbox world: the fixture service, with this controller; `None` for an empty account.
    world: Option<Controller>,
    env: Vec<(&'static str, &'static str)>,
    /// Point at the sandbox with its credentials.
    aws: bool,
    args: Vec<&'static str>,
    /// Extra sandbox state: a guard alarm in ALARM.
    alarm_firing: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            config: CONFIG.into(),
            files: vec![("task-definition.json", TASK_DEFINITION.into())],
            remove: Vec::new(),
            world: Some(Controller::Rolling),
            env: Vec::new(),
            aws: true,
            args: vec!["release", "--version", "1.0.0"],
            alarm_firing: false,
        }
    }
}

impl Setup {
    fn config(&mut self, from: &str, to: &str) {
        assert!(self.config.contains(from), "the config has no {from:?}");
        self.config = self.config.replacen(from, to, 1);
    }

    fn td(&mut self, from: &str, to: &str) {
        let td = &mut self.files[0].1;
        assert!(td.contains(from), "the task definition has no {from:?}");
        *td = td.replacen(from, to, 1);
    }
}

/// Where the message must point: `file:line` with the line of `needle` in that file.
#[derive(Clone, Copy)]
enum Place {
    None,
    Config(&'static str),
    File(&'static str, &'static str),
}

/// Which calls the sandbox may see: none at all (local checks come first), or reads only.
#[derive(Clone, Copy, PartialEq)]
enum Calls {
    None,
    ReadsOnly,
}

struct Case {
    name: &'static str,
    setup: fn(&mut Setup),
    code: i32,
    place: Place,
    says: &'static [&'static str],
    calls: Calls,
}

const fn case(
    name: &'static str,
    code: i32,
    place: Place,
    says: &'static [&'static str],
    calls: Calls,
    setup: fn(&mut Setup),
) -> Case {
    Case { name, setup, code, place, says, calls }
}

use Calls::{None as NoCalls, ReadsOnly};
use Place::{Config as InConfig, File as InFile, None as Nowhere};

const CONFIG_CASES: &[Case] = &[
    case("unknown image key", USAGE, InConfig("contxt"), &["did you mean `context`?"], NoCalls, |s| {
        s.config("  repository: web\n", "  repository: web\n  contxt: .\n")
    }),
    case("unknown environment key", USAGE, InConfig("stratgy"), &["did you mean `strategy`?"], NoCalls, |s| {
        s.config("strategy: rolling", "stratgy: rolling")
    }),
    case(
        "strategy not in the enum",
        USAGE,
        InConfig("bluegreen"),
        &["rolling, codedeploy, ecs-blue-green"],
        NoCalls,
        |s| s.config("strategy: rolling", "strategy: bluegreen"),
    ),
    case("boolean of the wrong type", USAGE, InConfig("maybe"), &["expected a boolean"], NoCalls, |s| {
        s.config("  repository: web\n", "  repository: web\n  create-repository: maybe\n")
    }),
    case("bad duration", USAGE, InConfig("5q"), &["duration"], NoCalls, |s| s.config("timeout: 2m", "timeout: 5q")),
    case("missing required key", USAGE, InConfig("cluster: prod"), &["missing required key `service`"], NoCalls, |s| {
        s.config("    service: web\n", "")
    }),
    case("malformed YAML", USAGE, InConfig("   bad: indent"), &["malformed YAML"], NoCalls, |s| {
        s.config("  repository: web\n", "  repository: web\n   bad: indent\n")
    }),
    case("unsupported version", USAGE, InConfig("version: 2"), &["supported config version"], NoCalls, |s| {
        s.config("version: 1", "version: 2")
    }),
    case(
        "two problems in one file, both reported",
        USAGE,
        InConfig("stratgy"),
        &["2 problems", "contxt", "stratgy"],
        NoCalls,
        |s| {
            s.config("  repository: web\n", "  repository: web\n  contxt: .\n");
            s.config("strategy: rolling", "stratgy: rolling");
        },
    ),
    case("repository that is a URI", USAGE, InConfig("Web_App"), &["not an ECR repository name"], NoCalls, |s| {
        s.config("repository: web", "repository: Web_App")
    }),
    case(
        "codedeploy without its section",
        USAGE,
        InConfig("strategy: codedeploy"),
        &["`codedeploy:` section"],
        NoCalls,
        |s| s.config("strategy: rolling", "strategy: codedeploy"),
    ),
    case("before-deploy names no task", USAGE, InConfig("before-deploy"), &["did you mean `migrate`?"], NoCalls, |s| {
        s.config(
            "    strategy: rolling\n",
            "    strategy: rolling\n    before-deploy: [{run-task: migrat}]\ntasks:\n  migrate: {command: [m]}\n",
        )
    }),
    case("verify names no task", USAGE, InConfig("run-task: smok"), &["did you mean `smoke`?"], NoCalls, |s| {
        s.config(
            "    strategy: rolling\n",
            "    strategy: rolling\n    verify:\n      - http: {path: /health}\n      - run-task: smok\ntasks:\n  smoke: {command: [s]}\n",
        )
    }),
    case("verify path without a slash", USAGE, InConfig("path: smoke"), &["does not start with `/`"], NoCalls, |s| {
        s.config(
            "    strategy: rolling\n",
            "    strategy: rolling\n    verify:\n      - http:\n          path: smoke\n",
        )
    }),
    case("verify error rate over 1", USAGE, InConfig("max-error-rate"), &["between 0 and 1"], NoCalls, |s| {
        s.config(
            "    strategy: rolling\n",
            "    strategy: rolling\n    verify: [{http: {path: /h, max-error-rate: 5}}]\n",
        )
    }),
    case("verify with wait: false", USAGE, InConfig("wait: false"), &["`wait: false` with `verify:`"], NoCalls, |s| {
        s.config(
            "    strategy: rolling\n",
            "    strategy: rolling\n    wait: false\n    verify: [{http: {path: /h}}]\n",
        )
    }),
    case("a check kind that does not exist", USAGE, InConfig("htp"), &["did you mean `http`?"], NoCalls, |s| {
        s.config("    strategy: rolling\n", "    strategy: rolling\n    verify: [{htp: {path: /h}}]\n")
    }),
    case(
        "an AppSpec hook CodeDeploy has not",
        USAGE,
        InConfig("BeforeAllowTrafic"),
        &["BeforeAllowTraffic"],
        NoCalls,
        |s| s.config("strategy: rolling", &format!("{CODEDEPLOY}\n      hooks: {{BeforeAllowTrafic: fnCheck}}")),
    ),
    case("alarm period CloudWatch refuses", USAGE, InConfig("five-xx"), &["multiple of 60s"], NoCalls, |s| {
        s.config("    strategy: rolling\n", "    strategy: rolling\n    guard: {five-xx: {period: 45s}}\n")
    }),
    case("unknown environment", USAGE, Nowhere, &["unknown environment `staging`"], NoCalls, |s| {
        s.args = vec!["release", "--version", "1.0.0", "--env", "staging"]
    }),
    case("bad --set", USAGE, Nowhere, &["invalid --set `environments.prod.timeout=soon`"], NoCalls, |s| {
        s.args = vec!["release", "--version", "1.0.0", "--set", "environments.prod.timeout=soon"]
    }),
    case("no config file", USAGE, Nowhere, &["pipeline init"], NoCalls, |s| s.remove.push(".pipeline.yml")),
];

const TASK_DEFINITION_CASES: &[Case] = &[
    case(
        "misspelt top-level field",
        USAGE,
        InFile("task-definition.json", "familly"),
        &["did you mean `family`?"],
        NoCalls,
        |s| s.td("\"family\": \"web\",", "\"family\": \"web\",\n  \"familly\": \"web\","),
    ),
    case(
        "misspelt container field",
        USAGE,
        InFile("task-definition.json", "essentail"),
        &["did you mean `essential`?"],
        NoCalls,
        |s| s.td("\"essential\": true", "\"essentail\": true"),
    ),
    case(
        "object where a string goes",
        USAGE,
        InFile("task-definition.json", "\"cpu\""),
        &["`cpu`: expected a string, found an object"],
        NoCalls,
        |s| s.td("\"family\": \"web\",", "\"family\": \"web\",\n  \"cpu\": {\"x\": 1},"),
    ),
    case(
        "enum value in the wrong case",
        USAGE,
        InFile("task-definition.json", "AWSVPC"),
        &["did you mean `awsvpc`?"],
        NoCalls,
        |s| s.td("\"family\": \"web\",", "\"family\": \"web\",\n  \"networkMode\": \"AWSVPC\","),
    ),
    case(
        "secret without valueFrom",
        USAGE,
        InFile("task-definition.json", "{\"name\": \"S\"}"),
        &["missing required field `valueFrom`"],
        NoCalls,
        |s| s.td("\"essential\": true,", "\"essential\": true,\n      \"secrets\": [\n        {\"name\": \"S\"}],"),
    ),
    case(
        "integer given as words",
        USAGE,
        InFile("task-definition.json", "lots"),
        &["expected an integer"],
        NoCalls,
        |s| s.td("\"essential\": true,", "\"essential\": true, \"memory\": \"lots\","),
    ),
    case(
        "JSON syntax error",
        USAGE,
        InFile("task-definition.json", "\"family\": \"web\",,"),
        &["not valid JSON"],
        NoCalls,
        |s| s.td("\"family\": \"web\",", "\"family\": \"web\",,"),
    ),
    case("no family", USAGE, InFile("task-definition.json", "{"), &["`family` is missing"], NoCalls, |s| {
        s.td("\"family\": \"web\",", "")
    }),
    case(
        "protocol not in the enum",
        USAGE,
        InFile("task-definition.json", "tcpp"),
        &["did you mean `tcp`?"],
        NoCalls,
        |s| s.td("{ \"containerPort\": 8080 }", "{ \"containerPort\": 8080, \"protocol\": \"tcpp\" }"),
    ),
    case(
        "ulimit without its hard limit",
        USAGE,
        InFile("task-definition.json", "nofile"),
        &["missing required field `hardLimit`"],
        NoCalls,
        |s| {
            s.td(
                "\"essential\": true,",
                "\"essential\": true,\n      \"ulimits\": [{\"name\": \"nofile\", \"softLimit\": 1}],",
            )
        },
    ),
    case(
        "several task definition problems at once",
        USAGE,
        InFile("task-definition.json", "familly"),
        &["3 problems", "familly", "essentail", "AWSVPC"],
        NoCalls,
        |s| {
            s.td(
                "\"family\": \"web\",",
                "\"family\": \"web\",\n  \"familly\": \"web\",\n  \"networkMode\": \"AWSVPC\",",
            );
            s.td("\"essential\": true", "\"essentail\": true");
        },
    ),
    case(
        "container not in the task definition",
        USAGE,
        InConfig("container: api"),
        &["container `api` is not in task-definition.json (it has: web)"],
        NoCalls,
        |s| s.config("container: web", "container: api"),
    ),
    case(
        "task definition file missing",
        USAGE,
        InConfig("task-definition: deploy/td.json"),
        &["no task definition file at deploy/td.json"],
        NoCalls,
        |s| s.config("task-definition: task-definition.json", "task-definition: deploy/td.json"),
    ),
    case(
        "YAML: misspelt field",
        USAGE,
        InFile("task-definition.yml", "familly"),
        &["did you mean `family`?"],
        NoCalls,
        |s| yaml(s, TD_YAML.replace("family: web\n", "family: web\nfamilly: web\n")),
    ),
    case(
        "YAML: words where a boolean goes",
        USAGE,
        InFile("task-definition.yml", "yes please"),
        &["expected true or false"],
        NoCalls,
        |s| yaml(s, TD_YAML.replace("essential: true", "essential: yes please")),
    ),
    case(
        "YAML: syntax error",
        USAGE,
        InFile("task-definition.yml", "  image: [unclosed"),
        &["not valid YAML"],
        NoCalls,
        |s| yaml(s, TD_YAML.replace("    image: placeholder", "  image: [unclosed")),
    ),
    case(
        "YAML: log driver not in the enum",
        USAGE,
        InFile("task-definition.yml", "cloudwatch"),
        &["`cloudwatch` is not one of"],
        NoCalls,
        |s| {
            yaml(
                s,
                TD_YAML.replace(
                    "    essential: true\n",
                    "    essential: true\n    logConfiguration:\n      logDriver: cloudwatch\n",
                ),
            )
        },
    ),
];

fn yaml(s: &mut Setup, td: String) {
    s.files = vec![("task-definition.yml", td)];
    s.config("task-definition: task-definition.json", "task-definition: task-definition.yml");
}

const REFERENCE_CASES: &[Case] = &[
    case(
        "a name both in env and secrets",
        USAGE,
        InConfig("DB: arn"),
        &["`DB` is set both in `env` and in `secrets`"],
        NoCalls,
        |s| {
            s.config("    strategy: rolling\n", "    strategy: rolling\n    env: {DB: x}\n    secrets:\n      DB: arn:aws:ssm:us-east-1:000000000000:parameter/db\n")
        },
    ),
    case(
        "a secret that is no parameter or secret ARN",
        USAGE,
        InConfig("arn:aws:s3"),
        &["neither an SSM parameter nor a Secrets Manager secret ARN"],
        NoCalls,
        |s| {
            s.config(
                "    strategy: rolling\n",
                "    strategy: rolling\n    secrets:\n      DB: arn:aws:s3:::bucket/db\n",
            )
        },
    ),
    case(
        "a task's own task definition missing",
        USAGE,
        InConfig("task-definition: migrate.json"),
        &["no task definition file at migrate.json"],
        NoCalls,
        |s| {
            s.config("    strategy: rolling\n", "    strategy: rolling\n    before-deploy: [{run-task: migrate}]\ntasks:\n  migrate:\n    command: [m]\n    task-definition: migrate.json\n")
        },
    ),
    case(
        "a task's container not in its task definition",
        USAGE,
        InConfig("container: migrator"),
        &["task `migrate` runs container `migrator`"],
        NoCalls,
        |s| {
            s.config("    strategy: rolling\n", "    strategy: rolling\n    before-deploy: [{run-task: migrate}]\ntasks:\n  migrate:\n    command: [m]\n    container: migrator\n")
        },
    ),
    case(
        "a sidecar that names no container",
        USAGE,
        InConfig("proxxy:"),
        &[
            "sidecar `proxxy` names no container of the task definition a release to `prod` registers",
            "(task-definition.json has: web, proxy)",
            "did you mean `proxy`?",
        ],
        NoCalls,
        |s| {
            s.config("  repository: web\n", "  repository: web\n  sidecars:\n    proxxy: {image: \"web:v1\"}\n");
            s.td(
                "[ { \"containerPort\": 8080 } ] }",
                "[ { \"containerPort\": 8080 } ] },\n    { \"name\": \"proxy\", \"image\": \"placeholder\" }",
            );
        },
    ),
    case(
        "a sidecar named like the app container",
        USAGE,
        InConfig("web: {image"),
        &[
            "sidecar `web` is named like the app container `web` of service `web` in `prod`",
            "its image would replace the release's own",
            "rename the sidecar under `image.sidecars`",
        ],
        NoCalls,
        |s| s.config("  repository: web\n", "  repository: web\n  sidecars:\n    web: {image: \"web:v1\"}\n"),
    ),
    case(
        "a sidecar named like the app container of a `from-service` task definition",
        USAGE,
        InConfig("web: {context"),
        &["sidecar `web` is named like the app container `web` of service `web` in `prod`"],
        NoCalls,
        |s| {
            s.config("  repository: web\n", "  repository: web\n  sidecars:\n    web: {context: proxy}\n");
            s.config("task-definition: task-definition.json", "task-definition: from-service");
        },
    ),
    case("a lifecycle policy that is not JSON", USAGE, InConfig("lifecycle-policy"), &["is not JSON"], NoCalls, |s| {
        s.config("  repository: web\n", "  repository: web\n  lifecycle-policy: policy.json\n");
        s.files.push(("policy.json", "rules: []".into()));
    }),
];

const IMAGE_CASES: &[Case] = &[
    case("no Dockerfile", USAGE, InConfig("image:"), &["the Dockerfile", "does not exist"], NoCalls, |s| {
        s.remove.push("Dockerfile")
    }),
    case(
        "a context that does not exist",
        USAGE,
        InConfig("context: app"),
        &["the build context", "app does not exist"],
        NoCalls,
        |s| s.config("  repository: web\n", "  repository: web\n  context: app\n"),
    ),
    case(
        "a Dockerfile path that does not exist",
        USAGE,
        InConfig("dockerfile: docker/Dockerfile"),
        &["docker/Dockerfile does not exist"],
        NoCalls,
        |s| s.config("  repository: web\n", "  repository: web\n  dockerfile: docker/Dockerfile\n"),
    ),
    case(
        "a build secret that is not set",
        USAGE,
        Nowhere,
        &["needs the environment variable NPM_TOKEN"],
        NoCalls,
        |s| {
            s.config("  repository: web\n", "  repository: web\n  secrets: {npm: NPM_TOKEN}\n");
            s.args = vec!["build", "--version", "1.0.0"];
        },
    ),
    case(
        "a build secret not set for a release that builds",
        USAGE,
        Nowhere,
        &["needs the environment variable NPM_TOKEN"],
        ReadsOnly,
        |s| s.config("  repository: web\n", "  repository: web\n  secrets: {npm: NPM_TOKEN}\n"),
    ),
    case(
        "no Docker engine for a release that builds",
        FAILURE,
        Nowhere,
        &["cannot reach the Docker engine"],
        ReadsOnly,
        |s| s.env.push(("DOCKER_HOST", "unix:///nonexistent/docker.sock")),
    ),
];

const AWS_CASES: &[Case] = &[
    case(
        "a cluster that does not exist",
        USAGE,
        InConfig("cluster: nope"),
        &["cluster `nope` does not exist in us-east-1"],
        ReadsOnly,
        |s| s.config("cluster: prod", "cluster: nope"),
    ),
    case(
        "a service that does not exist",
        USAGE,
        InConfig("service: nope"),
        &["service `nope` does not exist in cluster `prod`"],
        ReadsOnly,
        |s| s.config("service: web", "service: nope"),
    ),
    case("an empty account", USAGE, InConfig("cluster: prod"), &["cluster `prod` does not exist"], ReadsOnly, |s| {
        s.world = None
    }),
    case(
        "codedeploy asked, the service rolls",
        USAGE,
        InConfig("strategy: codedeploy"),
        &["ECS deployment controller"],
        ReadsOnly,
        |s| s.config("strategy: rolling", CODEDEPLOY),
    ),
    case(
        "rolling asked, the service uses CodeDeploy",
        USAGE,
        InConfig("strategy: rolling"),
        &["CODE_DEPLOY deployment controller"],
        ReadsOnly,
        |s| s.world = Some(Controller::CodeDeploy),
    ),
    case(
        "a deployment group that does not exist",
        USAGE,
        InConfig("deployment-group: nope"),
        &["deployment group `nope` does not exist"],
        ReadsOnly,
        |s| {
            s.world = Some(Controller::CodeDeploy);
            s.config("strategy: rolling", &CODEDEPLOY.replace("web-prod", "nope"));
        },
    ),
    case(
        "verify with a deployment group that does not wait for the reroute",
        USAGE,
        InConfig("verify:"),
        &["moves production traffic without waiting", "STOP_DEPLOYMENT", "no test listener to probe"],
        ReadsOnly,
        |s| {
            s.world = Some(Controller::CodeDeploy);
            s.config("strategy: rolling", &format!("{CODEDEPLOY}\n    verify: [{{http: {{path: /smoke}}}}]"));
        },
    ),
    case(
        "verify on a rolling service",
        USAGE,
        InConfig("verify:"),
        &["rolling strategy does not have"],
        ReadsOnly,
        |s| s.config("    strategy: rolling\n", "    strategy: rolling\n    verify: [{http: {path: /smoke}}]\n"),
    ),
    case(
        "a CodeDeploy application that does not exist",
        USAGE,
        InConfig("application: nope"),
        &["CodeDeploy application `nope` does not exist"],
        ReadsOnly,
        |s| {
            s.world = Some(Controller::CodeDeploy);
            s.config("strategy: rolling", &CODEDEPLOY.replace("application: web", "application: nope"));
        },
    ),
    case(
        "a guard alarm that does not exist",
        USAGE,
        InConfig("alarms: [nope]"),
        &["alarm `nope` does not exist"],
        ReadsOnly,
        |s| s.config("    strategy: rolling\n", "    strategy: rolling\n    guard:\n      alarms: [nope]\n"),
    ),
    case(
        "a guard alarm already in ALARM",
        FAILURE,
        Nowhere,
        &["guard alarm `web-errors` is already in ALARM"],
        ReadsOnly,
        |s| {
            s.config("    strategy: rolling\n", "    strategy: rolling\n    guard:\n      alarms: [web-errors]\n");
            s.alarm_firing = true;
        },
    ),
    case(
        "a repository that may not be created",
        USAGE,
        InConfig("create-repository: false"),
        &["ECR repository `web` does not exist"],
        ReadsOnly,
        |s| s.config("  repository: web\n", "  repository: web\n  create-repository: false\n"),
    ),
    case(
        "the load-balanced port missing from the task definition",
        USAGE,
        InConfig("task-definition: task-definition.json"),
        &["container `web` on port 8080"],
        ReadsOnly,
        |s| s.td("\"containerPort\": 8080", "\"containerPort\": 80"),
    ),
    case(
        "the service's container missing from the task definition",
        USAGE,
        InConfig("task-definition: task-definition.json"),
        &["container `web` on port 8080"],
        ReadsOnly,
        |s| {
            s.td("\"name\": \"web\"", "\"name\": \"app\"");
            s.config("container: web", "container: app");
        },
    ),
    case(
        "a sidecar that names no container of the live task definition",
        USAGE,
        InConfig("proxy:"),
        &["sidecar `proxy` names no container", "(the revision prod/web runs (web:1) has: web)"],
        ReadsOnly,
        |s| {
            s.config("task-definition: task-definition.json", "task-definition: from-service");
            s.config("  repository: web\n", "  repository: web\n  sidecars:\n    proxy: {context: proxy}\n");
            s.files.push(("proxy/Dockerfile", "FROM scratch\n".into()));
        },
    ),
    case("no AWS credentials", FAILURE, Nowhere, &["no AWS credentials found", "web identity"], NoCalls, |s| {
        s.aws = false;
        s.env.push(("AWS_REGION", "us-east-1"));
    }),
    case("no AWS region", USAGE, Nowhere, &["no AWS region"], NoCalls, |s| {
        s.aws = false;
        s.env.extend([("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")]);
    }),
    case("an endpoint nobody answers at", FAILURE, Nowhere, &["is the endpoint reachable?"], NoCalls, |s| {
        s.aws = false;
        s.env.extend([
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ]);
    }),
];

/// Runs one case in a fresh sandbox and repository; returns what went wrong, if anything.
fn run_case(case: &Case) -> Result<(), String> {
    let mut setup = Setup::default();
    (case.setup)(&mut setup);
    let sb = Sandbox::start();
    if let Some(controller) = setup.world {
        sb.service(controller);
    }
    if setup.alarm_firing {
        sb.create_alarm("web-errors");
        sb.set_alarm("web-errors", aws_sdk_cloudwatch::types::StateValue::Alarm);
    }
    let repo = Repo::tiny("web", "v1");
    repo.write(".pipeline.yml", &setup.config);
    for (name, text) in &setup.files {
        repo.write(name, text);
    }
    for name in &setup.remove {
        std::fs::remove_file(repo.path().join(name)).map_err(|e| format!("remove {name}: {e}"))?;
    }
    repo.commit("feat: the case");

    let before = calls(&sb);
    let mut pipeline = Pipeline::new(&repo);
    if setup.aws {
        pipeline = pipeline.sandbox(&sb);
    }
    for (k, v) in &setup.env {
        pipeline = pipeline.env(k, v);
    }
    let run = pipeline.args(&setup.args).run();
    let after = calls(&sb);
    check(case, &setup, &run, &before, &after, &sb)
}

fn check(
    case: &Case,
    setup: &Setup,
    run: &Run,
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    sb: &Sandbox,
) -> Result<(), String> {
    let mut wrong = Vec::new();
    if run.code != case.code {
        wrong.push(format!("exit code {} (expected {})", run.code, case.code));
    }
    for needle in case.says {
        if !run.stderr.contains(needle) {
            wrong.push(format!("no {needle:?} in the message"));
        }
    }
    let place = match case.place {
        Place::None => None,
        Place::Config(needle) => Some((".pipeline.yml", line_of(&setup.config, needle))),
        Place::File(file, needle) => {
            let text = &setup.files.iter().find(|(n, _)| *n == file).expect("the case writes the file").1;
            Some((file, line_of(text, needle)))
        }
    };
    if let Some((file, line)) = place {
        let line = line.ok_or_else(|| format!("{}: the needle is not in {file}", case.name))?;
        // Paths are shown as the config names them, relative to where pipeline runs (the repository).
        let at = format!("{file}:{line}:");
        if !run.stderr.contains(&at) {
            wrong.push(format!("no {at:?} in the message"));
        }
    }
    let new: Vec<String> =
        after.iter().filter(|(op, n)| before.get(*op).copied().unwrap_or(0) < **n).map(|(op, _)| op.clone()).collect();
    match case.calls {
        Calls::None if !new.is_empty() => wrong.push(format!("AWS was called before the local checks: {new:?}")),
        _ => {}
    }
    let writes: Vec<&String> = new.iter().filter(|op| !is_read(op)).collect();
    if !writes.is_empty() {
        wrong.push(format!("write calls: {writes:?}"));
    }
    let images = images(sb);
    if !images.is_empty() {
        wrong.push(format!("images in the registry: {images:?}"));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}\n--- stderr\n{}", case.name, wrong.join("; "), run.stderr))
    }
}

/// Describe*, List*, Get* and BatchGet* read; everything else may change something.
fn is_read(op: &str) -> bool {
    let name = op.split_once(':').map_or(op, |(_, n)| n);
    ["Describe", "List", "Get", "BatchGet"].iter().any(|p| name.starts_with(p))
}

fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The sandbox's per-operation call counts (`GET /_sandbox/calls`).
fn calls(sb: &Sandbox) -> BTreeMap<String, u64> {
    let body = sb.block_on(http_get(&format!("{}/_sandbox/calls", sb.running.endpoint())));
    let value: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("calls is JSON ({e}): {body}"));
    value["operations"]
        .as_object()
        .map(|ops| ops.iter().map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap_or(0))).collect())
        .unwrap_or_default()
}

/// Every image in every ECR repository of the sandbox (its registry is ECR's).
fn images(sb: &Sandbox) -> Vec<String> {
    let ecr = sb.ecr();
    sb.block_on(async {
        let repos = ecr.describe_repositories().send().await.map(|o| o.repositories().to_vec()).unwrap_or_default();
        let mut all = Vec::new();
        for repo in repos {
            let name = repo.repository_name().unwrap_or_default().to_owned();
            let listed = ecr.list_images().repository_name(&name).send().await;
            for id in listed.map(|o| o.image_ids().to_vec()).unwrap_or_default() {
                all.push(format!("{name}@{}", id.image_digest().unwrap_or_default()));
            }
        }
        all
    })
}

fn run_table(cases: &[Case]) -> usize {
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(c).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases broke:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
    cases.len()
}

#[test]
fn the_table_holds_at_least_forty_bad_inputs() {
    let total =
        CONFIG_CASES.len() + TASK_DEFINITION_CASES.len() + REFERENCE_CASES.len() + IMAGE_CASES.len() + AWS_CASES.len();
    assert!(total >= 40, "{total} cases");
}

#[test]
fn bad_config_is_reported_with_its_line_before_any_aws_call() {
    run_table(CONFIG_CASES);
}

#[test]
fn bad_task_definitions_json_and_yaml_are_reported_with_their_line_before_any_aws_call() {
    run_table(TASK_DEFINITION_CASES);
}

#[test]
fn bad_references_to_env_secrets_and_tasks_are_reported_before_any_aws_call() {
    run_table(REFERENCE_CASES);
}

#[test]
fn a_missing_dockerfile_context_secret_or_engine_changes_nothing() {
    run_table(IMAGE_CASES);
}

#[test]
fn missing_aws_resources_credentials_and_endpoints_change_nothing() {
    run_table(AWS_CASES);
}
