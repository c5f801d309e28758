//! ECS-native blue/green, linear and canary deployments (REFERENCE 2.6, 2.7, A7): a deployment of a service whose
//! `deploymentConfiguration.strategy` is BLUE_GREEN, LINEAR or CANARY walks through the lifecycle stages
//! RECONCILE_SERVICE -> PRE_SCALE_UP -> SCALE_UP -> POST_SCALE_UP -> TEST_TRAFFIC_SHIFT -> POST_TEST_TRAFFIC_SHIFT
//! -> (PRE_PRODUCTION_TRAFFIC_SHIFT -> PRODUCTION_TRAFFIC_SHIFT) per step -> POST_PRODUCTION_TRAFFIC_SHIFT ->
//! BAKE_TIME -> CLEAN_UP. The green revision runs beside blue in the alternate target group; traffic moves by
//! rewriting the forward weights of the production and test listener rules, so DescribeRules shows each step
//! and the `--tasks docker` load-balancer stand-in follows it. Lifecycle hooks run at their stages: PAUSE hooks
//! wait (AWAITING_ACTION) for ContinueServiceDeployment or their timeout; Lambda hooks are recorded and answered
//! by a stub result set through `/_sandbox/ecs/hooks`. An alarm during the shift or the bake, a failed hook, a
//! ROLLBACK answer or StopServiceDeployment roll back by flipping the traffic back to blue at once; green then
//! scales in and the deployment ends ROLLBACK_SUCCESSFUL.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::rollout::{counts, healthy};
use super::services::Service;
use super::{EcsState, str_field, string_list};
use crate::cloudwatch::CloudWatchState;
use crate::elbv2::ElbState;
use crate::{AwsError, AwsResult, Ctx, World};

/// Every stage lasts at least this long (simulated), so a client polling the deployment can see it.
const STAGE_SECS: u64 = 30;
/// Lambda hooks that answer IN_PROGRESS are called again after `callBackDelay`, 30 s unless the stub says.
const CALLBACK_DELAY_SECS: f64 = 30.0;

pub const STRATEGIES: &[&str] = &["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"];
const HOOK_STAGES: &[&str] = &[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// One run of a lifecycle hook: what `lifecycleHookDetails[]` shows.
#[derive(Debug, Clone)]
pub struct HookRun {
    pub id: String,
    pub target_type: String,
    pub target_arn: Option<String>,
    pub stage: String,
    /// AWAITING_ACTION (PAUSE), IN_PROGRESS (Lambda answered so), SUCCEEDED, FAILED, TIMED_OUT.
    pub status: String,
    pub expires_at: f64,
    pub deadline: Instant,
    pub timeout_action: String,
    next_call: Option<Instant>,
    role_arn: Option<String>,
    hook_details: Value,
}

/// The blue/green state of one ECS-native deployment.
#[derive(Debug, Clone)]
pub struct Native {
    pub strategy: String,
    /// The lifecycle stage (PRE_PRODUCTION_TRAFFIC_SHIFT is shown as PRODUCTION_TRAFFIC_SHIFT, the model's word).
    pub stage: &'static str,
    /// The deployment that ran before (blue); `None` when nothing ran.
    pub source: Option<String>,
    pub blue_tg: Option<String>,
    pub green_tg: Option<String>,
    pub production_rule: Option<String>,
    pub test_rule: Option<String>,
    /// Percent of production / test traffic requested for green.
    pub production_weight: f64,
    pub test_weight: f64,
    pub hooks: Vec<HookRun>,
    /// Index in `hooks` where the current stage's hooks start; `None` until they are started.
    stage_hooks: Option<usize>,
    stage_since: Instant,
    /// End of a step bake (linear/canary) or of the bake time.
    wait_until: Option<Instant>,
    pub rolling_back: bool,
    pub rollback_started: Option<f64>,
    /// `deploymentConfiguration` when the deployment started.
    config: Value,
}

/// `/_sandbox/ecs/hooks`: how Lambda hooks answer, first match wins; `count` uses, then the stub is dropped.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookStub {
    #[serde(default)]
    pub hook_target_arn: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
    pub hook_status: String,
    #[serde(default)]
    pub call_back_delay: Option<f64>,
    #[serde(default)]
    pub count: Option<u32>,
}

/// What the sandbox recorded of each Lambda hook call: the payload ECS sends, and the stub's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookInvocation {
    pub hook_target_arn: String,
    pub role_arn: Option<String>,
    pub lifecycle_stage: String,
    pub service_arn: String,
    pub target_service_revision_arn: String,
    pub test_traffic_weights: Value,
    pub production_traffic_weights: Value,
    pub hook_details: Value,
    pub hook_status: String,
    pub rollback: bool,
    pub at: f64,
}

#[derive(Debug, Default)]
pub struct Hooks {
    pub stubs: Vec<HookStub>,
    pub invocations: Vec<HookInvocation>,
}

fn strategy_of(config: &Value) -> &str {
    str_field(config, "strategy").unwrap_or("ROLLING")
}

/// Whether a service's deployments are ECS-native blue/green (any strategy but ROLLING).
pub fn is_native(s: &Service) -> bool {
    s.controller == "ECS" && strategy_of(&s.deployment_configuration) != "ROLLING"
}

fn invalid(msg: impl Into<String>) -> AwsError {
    AwsError::invalid_parameter(msg)
}

/// Checks the strategy settings of CreateService/UpdateService (ranges from the DeploymentConfiguration,
/// LinearConfiguration, CanaryConfiguration and DeploymentLifecycleHook API pages).
pub fn validate(config: &Value, load_balancers: &Value) -> AwsResult<()> {
    let strategy = strategy_of(config);
    if !STRATEGIES.contains(&strategy) {
        return Err(invalid(format!("strategy '{strategy}' is not one of {}.", STRATEGIES.join(", "))));
    }
    let num = |p: &str| config.pointer(p).and_then(Value::as_f64);
    if let Some(b) = num("/bakeTimeInMinutes").filter(|b| !(0.0..=1440.0).contains(b)) {
        return Err(invalid(format!("bakeTimeInMinutes {b} must be between 0 and 1440.")));
    }
    if let Some(p) = num("/linearConfiguration/stepPercent").filter(|p| !(3.0..=100.0).contains(p)) {
        return Err(invalid(format!("linearConfiguration.stepPercent {p} must be between 3.0 and 100.0.")));
    }
    if let Some(p) = num("/canaryConfiguration/canaryPercent").filter(|p| !(0.1..=100.0).contains(p)) {
        return Err(invalid(format!("canaryConfiguration.canaryPercent {p} must be between 0.1 and 100.0.")));
    }
    for key in ["/linearConfiguration/stepBakeTimeInMinutes", "/canaryConfiguration/canaryBakeTimeInMinutes"] {
        if let Some(m) = num(key).filter(|m| !(0.0..=1440.0).contains(m)) {
            return Err(invalid(format!("{} {m} must be between 0 and 1440.", &key[1..].replace('/', "."))));
        }
    }
    for hook in config.get("lifecycleHooks").and_then(Value::as_array).into_iter().flatten() {
        let kind = str_field(hook, "targetType").unwrap_or("AWS_LAMBDA");
        let stages = string_list(hook, "lifecycleStages");
        if stages.is_empty() {
            return Err(invalid("A lifecycle hook needs at least one lifecycle stage."));
        }
        if let Some(bad) = stages.iter().find(|s| !HOOK_STAGES.contains(&s.as_str())) {
            return Err(invalid(format!("'{bad}' is not a lifecycle stage a hook can run at.")));
        }
        match kind {
            "PAUSE" => {
                if let Some(s) = stages.iter().find(|s| *s == "TEST_TRAFFIC_SHIFT" || *s == "PRODUCTION_TRAFFIC_SHIFT")
                {
                    return Err(invalid(format!(
                        "PAUSE lifecycle hooks are not supported at {s}: that stage also runs during a rollback."
                    )));
                }
            }
            "AWS_LAMBDA" => {
                if str_field(hook, "hookTargetArn").is_none() {
                    return Err(invalid("An AWS_LAMBDA lifecycle hook needs a hookTargetArn."));
                }
            }
            other => return Err(invalid(format!("targetType '{other}' is not one of AWS_LAMBDA, PAUSE."))),
        }
    }
    if strategy != "ROLLING" {
        for lb in load_balancers.as_array().into_iter().flatten() {
            let Some(adv) = lb.get("advancedConfiguration").filter(|a| !a.is_null()) else { continue };
            for key in ["alternateTargetGroupArn", "productionListenerRule", "roleArn"] {
                if str_field(adv, key).is_none() {
                    return Err(invalid(format!(
                        "advancedConfiguration.{key} is required for {strategy} deployments."
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The first load balancer entry with an `advancedConfiguration`: (target group, alternate, production rule,
/// test rule).
fn wiring(s: &Service) -> Option<(String, String, String, Option<String>)> {
    s.load_balancers.as_array()?.iter().find_map(|lb| {
        let adv = lb.get("advancedConfiguration")?;
        Some((
            str_field(lb, "targetGroupArn")?.to_owned(),
            str_field(adv, "alternateTargetGroupArn")?.to_owned(),
            str_field(adv, "productionListenerRule")?.to_owned(),
            str_field(adv, "testListenerRule").map(str::to_owned),
        ))
    })
}

/// The target group a new deployment's first tasks go to (CreateService): the service's own target group.
pub fn initial_target_group(s: &Service) -> Option<String> {
    wiring(s).map(|(tg, ..)| tg)
}

/// Makes the just-created PRIMARY deployment `id` an ECS-native one: green goes to the target group blue is not
/// in.
pub fn begin(s: &mut Service, id: &str) {
    // Blue: what was PRIMARY until now (new_deployment made it ACTIVE), not a green still scaling in after a
    // rollback.
    let source = s
        .deployments
        .iter()
        .find(|d| d.id != id && d.status == "ACTIVE" && d.native.as_ref().is_none_or(|n| !n.rolling_back))
        .map(|d| d.id.clone());
    let blue_tg = source.as_ref().and_then(|src| s.deployments.iter().find(|d| &d.id == src)?.target_group.clone());
    let (blue_tg, green_tg, production_rule, test_rule) = match wiring(s) {
        Some((tg, alt, prod, test)) => {
            let blue = blue_tg.unwrap_or_else(|| tg.clone());
            let green = if blue == tg { alt } else { tg };
            (Some(blue), Some(green), Some(prod), test)
        }
        None => (None, None, None, None),
    };
    let config = s.deployment_configuration.clone();
    let Some(d) = s.deployment_mut(id) else { return };
    d.target_group = green_tg.clone();
    d.native = Some(Native {
        strategy: strategy_of(&config).to_owned(),
        stage: "RECONCILE_SERVICE",
        source,
        blue_tg,
        green_tg,
        production_rule,
        test_rule,
        production_weight: 0.0,
        test_weight: 0.0,
        hooks: Vec::new(),
        stage_hooks: None,
        stage_since: Instant::now(),
        wait_until: None,
        rolling_back: false,
        rollback_started: None,
        config,
    });
}

/// The deployment driven natively right now: the PRIMARY one, while it is IN_PROGRESS.
fn in_flight(s: &Service) -> Option<usize> {
    s.deployments.iter().position(|d| d.status == "PRIMARY" && d.native.is_some() && d.sd_status == "IN_PROGRESS")
}

/// Whether the native scheduler owns this service's task counts now (a deployment in flight or rolling back).
pub fn owns(s: &Service) -> bool {
    s.deployments.iter().any(|d| {
        d.native.is_some() && matches!(d.sd_status.as_str(), "IN_PROGRESS" | "ROLLBACK_IN_PROGRESS" | "PENDING")
    })
}

/// One scheduler step for a service with an ECS-native deployment in flight.
pub fn tick(ecs: &mut EcsState, ctx: &Ctx, cw: &CloudWatchState, elb: &mut ElbState, s: &mut Service) {
    let desired = s.desired_count;
    // A rollback in progress: green scales in; the deployment ends when its tasks are gone (`retire`).
    for d in s.deployments.iter_mut().filter(|d| d.native.as_ref().is_some_and(|n| n.rolling_back)) {
        d.target = 0;
    }
    let Some(i) = in_flight(s) else { return };
    let id = s.deployments[i].id.clone();
    let n = s.deployments[i].native.clone().expect("in flight");
    let source = n.source.clone();
    for d in s.deployments.iter_mut() {
        if Some(&d.id) == source.as_ref() {
            d.target = if n.stage == "CLEAN_UP" { 0 } else { desired };
        } else if d.id != id && d.native.as_ref().is_none_or(|n| !n.rolling_back) {
            // Anything older than blue goes.
            d.target = 0;
        }
    }
    let scaled = !matches!(n.stage, "RECONCILE_SERVICE" | "PRE_SCALE_UP");
    s.deployments[i].target = if scaled { desired } else { 0 };

    // Alarms guard the production shift and the bake (REFERENCE 2.6).
    if matches!(
        n.stage,
        "PRE_PRODUCTION_TRAFFIC_SHIFT" | "PRODUCTION_TRAFFIC_SHIFT" | "POST_PRODUCTION_TRAFFIC_SHIFT" | "BAKE_TIME"
    ) && let Some((names, rollback)) = super::rollout::alarm_config(s)
    {
        let firing: Vec<String> = names.into_iter().filter(|a| cw.alarm_state(a) == Some("ALARM")).collect();
        if !firing.is_empty() && rollback {
            s.deployments[i].triggered_alarms = firing.clone();
            let reason = format!("ECS deployment alarm(s) detected: {}.", firing.join(", "));
            roll_back(ecs, ctx, elb, s, i, reason);
            return;
        }
    }

    let mut n = n;
    // The stage's hooks, started once per entry into the stage.
    let from = match n.stage_hooks {
        Some(from) => from,
        None => {
            let from = n.hooks.len();
            start_hooks(ecs, ctx, s, &id, &mut n);
            n.stage_hooks = Some(from);
            from
        }
    };
    let now = Instant::now();
    let mut failed: Option<String> = None;
    for h in &mut n.hooks[from..] {
        match h.status.as_str() {
            "AWAITING_ACTION" | "IN_PROGRESS" if now >= h.deadline => {
                h.status = "TIMED_OUT".into();
                if h.timeout_action == "ROLLBACK" {
                    failed = Some(format!("lifecycle hook {} timed out at {}.", h.id, h.stage));
                }
            }
            "IN_PROGRESS" if h.next_call.is_some_and(|t| now >= t) => {
                let answer = call_lambda(ecs, ctx, s, &id, &n.production_weight, &n.test_weight, h, false);
                apply_answer(ctx, h, &answer);
            }
            "FAILED" => failed = Some(format!("lifecycle hook {} failed at {}.", h.id, h.stage)),
            _ => {}
        }
    }
    if let Some(reason) = failed {
        s.deployments[i].native = Some(n);
        roll_back(ecs, ctx, elb, s, i, reason);
        return;
    }
    let hooks_done = n.hooks[from..].iter().all(|h| matches!(h.status.as_str(), "SUCCEEDED" | "TIMED_OUT"));

    // The stage's own work.
    let dwell = now >= n.stage_since + ctx.real(Duration::from_secs(STAGE_SECS));
    let work_done = match n.stage {
        "RECONCILE_SERVICE" => {
            if let Some(reason) = check_rules(elb, &n) {
                s.deployments[i].native = Some(n);
                roll_back(ecs, ctx, elb, s, i, reason);
                return;
            }
            true
        }
        "SCALE_UP" => {
            let (pending, running) = counts(ecs, s, &id);
            pending == 0 && running >= desired && healthy(ecs, s, &id) >= desired
        }
        "TEST_TRAFFIC_SHIFT" => {
            n.test_weight = 100.0;
            shift(elb, &n);
            true
        }
        "PRODUCTION_TRAFFIC_SHIFT" => {
            if n.wait_until.is_none() {
                n.production_weight = next_step(&n);
                shift(elb, &n);
                let bake = if n.production_weight < 100.0 { step_bake_minutes(&n) } else { 0.0 };
                n.wait_until = Some(now + ctx.real(Duration::from_secs_f64(bake * 60.0)));
                s.event(format!(
                    "(service-deployment {id}) shifted {}% of production traffic to the new revision.",
                    n.production_weight
                ));
            }
            n.wait_until.is_some_and(|t| now >= t)
        }
        "BAKE_TIME" => {
            let until = *n.wait_until.get_or_insert_with(|| {
                let minutes = n.config.get("bakeTimeInMinutes").and_then(Value::as_f64).unwrap_or(0.0);
                now + ctx.real(Duration::from_secs_f64(minutes * 60.0))
            });
            now >= until
        }
        "CLEAN_UP" => source.as_ref().is_none_or(|src| {
            let (p, r) = counts(ecs, s, src);
            p + r == 0
        }),
        _ => true,
    };
    if !(hooks_done && work_done && dwell) {
        s.deployments[i].native = Some(n);
        return;
    }
    if n.stage == "CLEAN_UP" {
        s.deployments[i].native = Some(n);
        succeed(s, i);
        return;
    }
    n.stage = next_stage(&n);
    n.stage_hooks = None;
    n.stage_since = now;
    n.wait_until = None;
    s.deployments[i].native = Some(n);
    s.deployments[i].updated_at = super::now();
}

fn next_stage(n: &Native) -> &'static str {
    match n.stage {
        "RECONCILE_SERVICE" => "PRE_SCALE_UP",
        "PRE_SCALE_UP" => "SCALE_UP",
        "SCALE_UP" => "POST_SCALE_UP",
        "POST_SCALE_UP" => "TEST_TRAFFIC_SHIFT",
        "TEST_TRAFFIC_SHIFT" => "POST_TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT" => "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT" => "PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT" if n.production_weight < 100.0 => "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT" => "POST_PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT" => "BAKE_TIME",
        _ => "CLEAN_UP",
    }
}

/// The production weight of green after the next step: all at once (BLUE_GREEN), `stepPercent` more (LINEAR),
/// `canaryPercent` then the rest (CANARY). Defaults from REFERENCE 2.6.
fn next_step(n: &Native) -> f64 {
    let num = |p: &str, default: f64| n.config.pointer(p).and_then(Value::as_f64).unwrap_or(default);
    let w = match n.strategy.as_str() {
        "LINEAR" => n.production_weight + num("/linearConfiguration/stepPercent", 10.0),
        "CANARY" if n.production_weight == 0.0 => num("/canaryConfiguration/canaryPercent", 5.0),
        _ => 100.0,
    };
    // Weights are whole-number ELB weights out of 100 here; 0.1 steps round to one decimal.
    ((w * 10.0).round() / 10.0).min(100.0)
}

fn step_bake_minutes(n: &Native) -> f64 {
    let num = |p: &str, default: f64| n.config.pointer(p).and_then(Value::as_f64).unwrap_or(default);
    match n.strategy.as_str() {
        "LINEAR" => num("/linearConfiguration/stepBakeTimeInMinutes", 6.0),
        "CANARY" => num("/canaryConfiguration/canaryBakeTimeInMinutes", 10.0),
        _ => 0.0,
    }
}

/// Both target groups must be associated with the production (and test) listener rule (REFERENCE 2.6).
fn check_rules(elb: &ElbState, n: &Native) -> Option<String> {
    let (Some(blue), Some(green)) = (&n.blue_tg, &n.green_tg) else { return None };
    for rule in [&n.production_rule, &n.test_rule].into_iter().flatten() {
        let Some(weights) = elb.forward_weights(rule) else {
            return Some(format!("The listener rule {rule} does not exist or has no forward action."));
        };
        let has = |tg: &str| weights.iter().any(|(t, _)| t == tg);
        if !has(blue) || !has(green) {
            return Some(
                "Both targetGroup and alternateTargetGroup must be associated with the productionListenerRule or testListenerRule."
                    .into(),
            );
        }
    }
    None
}

/// Writes the requested weights into the listener rules. ELB weights are integers: tenths become 0..=1000 would
/// exceed ELB's 999, so weights are sent as whole percent, at least 1 for a non-zero share.
fn shift(elb: &mut ElbState, n: &Native) {
    let (Some(blue), Some(green)) = (&n.blue_tg, &n.green_tg) else { return };
    let as_weight = |p: f64| if p > 0.0 && p < 1.0 { 1 } else { p.round() as u32 };
    for (rule, green_share) in [(&n.production_rule, n.production_weight), (&n.test_rule, n.test_weight)] {
        let Some(rule) = rule else { continue };
        let g = as_weight(green_share);
        elb.set_forward_weights(rule, &[(blue.clone(), 100 - g.min(100)), (green.clone(), g.min(100))]);
    }
}

fn succeed(s: &mut Service, i: usize) {
    let now = super::now();
    let d = &mut s.deployments[i];
    d.rollout_state = "COMPLETED".into();
    d.rollout_reason = format!("ECS deployment {} completed.", d.id);
    d.sd_status = "SUCCESSFUL".into();
    d.finished_at = Some(now);
    d.updated_at = now;
    let id = d.id.clone();
    s.event(format!("(service-deployment {id}) deployment completed."));
    s.event("has reached a steady state.".into());
}

/// Rolls the in-flight deployment at `i` back: traffic flips to blue at once, blue is PRIMARY again, green
/// scales in. Lambda hooks at TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT run again (REFERENCE 2.6).
pub fn roll_back(ecs: &mut EcsState, ctx: &Ctx, elb: &mut ElbState, s: &mut Service, i: usize, reason: String) {
    let now = super::now();
    let id = s.deployments[i].id.clone();
    let Some(mut n) = s.deployments[i].native.clone() else { return };
    n.production_weight = 0.0;
    n.test_weight = 0.0;
    shift(elb, &n);
    n.rolling_back = true;
    n.rollback_started = Some(now);
    n.stage = "PRODUCTION_TRAFFIC_SHIFT";
    for stage in ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"] {
        for hook in configured(&n.config, stage)
            .into_iter()
            .filter(|h| str_field(h, "targetType").unwrap_or("AWS_LAMBDA") == "AWS_LAMBDA")
        {
            let mut run = new_run(ctx, &hook, stage);
            call_lambda(ecs, ctx, s, &id, &0.0, &0.0, &mut run, true);
        }
    }
    for h in &mut n.hooks {
        if matches!(h.status.as_str(), "AWAITING_ACTION" | "IN_PROGRESS") {
            h.status = "FAILED".into();
        }
    }
    let source = n.source.clone();
    let d = &mut s.deployments[i];
    d.native = Some(n);
    d.status = "ACTIVE".into();
    d.target = 0;
    d.rollout_state = "FAILED".into();
    d.rollout_reason = reason.clone();
    d.sd_status = if source.is_some() { "ROLLBACK_IN_PROGRESS" } else { "ROLLBACK_FAILED" }.into();
    d.sd_reason = Some(reason.clone());
    d.updated_at = now;
    if let Some(src) = source
        && let Some(b) = s.deployments.iter_mut().find(|d| d.id == src)
    {
        b.status = "PRIMARY".into();
        b.updated_at = now;
        let td = b.task_definition.clone();
        s.task_definition = td.clone();
        s.event(format!("(service-deployment {id}) rolling back to {td}: {reason}"));
    }
}

/// The configured hooks (`deploymentConfiguration.lifecycleHooks[]`) for one stage.
fn configured(config: &Value, stage: &str) -> Vec<Value> {
    config
        .get("lifecycleHooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|h| string_list(h, "lifecycleStages").iter().any(|s| s == stage))
        .cloned()
        .collect()
}

fn new_run(ctx: &Ctx, hook: &Value, stage: &str) -> HookRun {
    let kind = str_field(hook, "targetType").unwrap_or("AWS_LAMBDA").to_owned();
    let minutes = hook.pointer("/timeoutConfiguration/timeoutInMinutes").and_then(Value::as_f64).unwrap_or(1440.0);
    let action = hook.pointer("/timeoutConfiguration/action").and_then(Value::as_str).unwrap_or("ROLLBACK");
    let timeout = Duration::from_secs_f64(minutes.max(0.0) * 60.0);
    let prefix = if kind == "PAUSE" { "ecs-pause" } else { "ecs-lambda" };
    let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    HookRun {
        id: format!("{prefix}-{suffix}"),
        status: if kind == "PAUSE" { "AWAITING_ACTION" } else { "IN_PROGRESS" }.into(),
        target_arn: str_field(hook, "hookTargetArn").filter(|_| kind != "PAUSE").map(str::to_owned),
        target_type: kind,
        stage: stage.to_owned(),
        expires_at: super::now() + timeout.as_secs_f64(),
        deadline: Instant::now() + ctx.real(timeout),
        timeout_action: action.to_owned(),
        next_call: None,
        role_arn: str_field(hook, "roleArn").map(str::to_owned),
        hook_details: hook.get("hookDetails").cloned().unwrap_or(Value::Null),
    }
}

fn start_hooks(ecs: &mut EcsState, ctx: &Ctx, s: &mut Service, id: &str, n: &mut Native) {
    for hook in configured(&n.config, n.stage) {
        let mut run = new_run(ctx, &hook, n.stage);
        if run.target_type == "PAUSE" {
            s.event(format!("(service-deployment {id}) lifecycle hook {} is awaiting action at {}.", run.id, n.stage));
        } else {
            let answer = call_lambda(ecs, ctx, s, id, &n.production_weight, &n.test_weight, &mut run, false);
            apply_answer(ctx, &mut run, &answer);
        }
        n.hooks.push(run);
    }
}

/// Records one Lambda call and returns the stub's answer (SUCCEEDED unless a stub says otherwise).
#[allow(clippy::too_many_arguments)]
fn call_lambda(
    ecs: &mut EcsState,
    ctx: &Ctx,
    s: &Service,
    id: &str,
    production: &f64,
    test: &f64,
    run: &mut HookRun,
    rollback: bool,
) -> HookStub {
    let target = run.target_arn.clone().unwrap_or_default();
    let stubs = &mut ecs.hooks.stubs;
    let found = stubs.iter().position(|st| {
        st.hook_target_arn.as_ref().is_none_or(|a| *a == target)
            && st.lifecycle_stage.as_ref().is_none_or(|x| *x == run.stage)
    });
    let answer = match found {
        Some(k) => {
            let stub = stubs[k].clone();
            if let Some(c) = stubs[k].count.as_mut() {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    stubs.remove(k);
                }
            }
            stub
        }
        None => HookStub {
            hook_target_arn: None,
            lifecycle_stage: None,
            hook_status: "SUCCEEDED".into(),
            call_back_delay: None,
            count: None,
        },
    };
    let d = s.deployments.iter().find(|d| d.id == id);
    let green = d.map(super::service_deployments::revision_arn).unwrap_or_default();
    let blue = d
        .and_then(|d| d.native.as_ref()?.source.clone())
        .and_then(|src| s.deployments.iter().find(|x| x.id == src))
        .map(super::service_deployments::revision_arn);
    let weights = |g: f64| {
        let mut m = serde_json::Map::new();
        m.insert(green.clone(), json!(g));
        if let Some(b) = &blue {
            m.insert(b.clone(), json!(100.0 - g));
        }
        Value::Object(m)
    };
    ecs.hooks.invocations.push(HookInvocation {
        hook_target_arn: target,
        role_arn: run.role_arn.clone(),
        lifecycle_stage: run.stage.clone(),
        service_arn: s.arn.clone(),
        target_service_revision_arn: green.clone(),
        test_traffic_weights: weights(*test),
        production_traffic_weights: weights(*production),
        hook_details: run.hook_details.clone(),
        hook_status: answer.hook_status.clone(),
        rollback,
        at: super::now(),
    });
    let _ = ctx;
    answer
}

/// A Lambda's answer: SUCCEEDED, FAILED, IN_PROGRESS (called again after `callBackDelay`); anything else is a
/// failure, as a missing or invalid status is in AWS.
fn apply_answer(ctx: &Ctx, run: &mut HookRun, answer: &HookStub) {
    match answer.hook_status.as_str() {
        "SUCCEEDED" => run.status = "SUCCEEDED".into(),
        "IN_PROGRESS" => {
            run.status = "IN_PROGRESS".into();
            let delay = answer.call_back_delay.unwrap_or(CALLBACK_DELAY_SECS).max(0.0);
            run.next_call = Some(Instant::now() + ctx.real(Duration::from_secs_f64(delay)));
        }
        _ => run.status = "FAILED".into(),
    }
}

// ---- the API side -----------------------------------------------------------------------------------------

/// ContinueServiceDeployment (REFERENCE A7): the hook must be AWAITING_ACTION and the deployment IN_PROGRESS.
pub fn continue_deployment(w: &mut World, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let arn = str_field(input, "serviceDeploymentArn")
        .ok_or_else(|| invalid("serviceDeploymentArn is required."))?
        .to_owned();
    let hook_id = str_field(input, "hookId").ok_or_else(|| invalid("hookId is required."))?.to_owned();
    let action = str_field(input, "action").unwrap_or("CONTINUE");
    if !matches!(action, "CONTINUE" | "ROLLBACK") {
        return Err(invalid(format!("action '{action}' is not one of CONTINUE, ROLLBACK.")));
    }
    let (cluster, service) = w
        .ecs
        .all_services()
        .find(|s| s.deployments.iter().chain(s.finished.iter()).any(|d| d.arn == arn))
        .map(|s| (s.cluster.clone(), s.name.clone()))
        .ok_or_else(|| {
            AwsError::client("ServiceDeploymentNotFoundException", "The service deployment does not exist.")
        })?;
    let s = w.ecs.service(&cluster, &service).expect("found");
    let i = s
        .deployments
        .iter()
        .position(|d| d.arn == arn && d.sd_status == "IN_PROGRESS" && d.native.is_some())
        .ok_or_else(|| AwsError::client("ClientException", "The service deployment is not in progress."))?;
    let n = s.deployments[i].native.as_ref().expect("native");
    let h =
        n.hooks.iter().position(|h| h.id == hook_id).ok_or_else(|| {
            invalid(format!("The lifecycle hook {hook_id} does not belong to this service deployment."))
        })?;
    if n.hooks[h].status != "AWAITING_ACTION" {
        return Err(AwsError::client(
            "ClientException",
            format!("The lifecycle hook {hook_id} is {}, not AWAITING_ACTION.", n.hooks[h].status),
        ));
    }
    let mut s = w.ecs.clusters.get_mut(&cluster).and_then(|c| c.services.remove(&service)).expect("found");
    if let Some(n) = s.deployments[i].native.as_mut() {
        n.hooks[h].status = if action == "CONTINUE" { "SUCCEEDED" } else { "FAILED" }.into();
    }
    if action == "ROLLBACK" {
        let reason = format!("Rolled back by ContinueServiceDeployment at lifecycle hook {hook_id}.");
        roll_back(&mut w.ecs, ctx, &mut w.elbv2, &mut s, i, reason);
    }
    w.ecs.clusters.get_mut(&cluster).expect("found").services.insert(service, s);
    Ok(json!({ "serviceDeploymentArn": arn }))
}

/// StopServiceDeployment on a native deployment: ROLLBACK (the only documented type) flips traffic back.
pub fn stop(w: &mut World, ctx: &Ctx, cluster: &str, service: &str, arn: &str, reason: String) -> AwsResult<()> {
    let mut s = w.ecs.clusters.get_mut(cluster).and_then(|c| c.services.remove(service)).expect("found");
    let i = s.deployments.iter().position(|d| d.arn == arn);
    if let Some(i) = i {
        roll_back(&mut w.ecs, ctx, &mut w.elbv2, &mut s, i, reason);
    }
    w.ecs.clusters.get_mut(cluster).expect("found").services.insert(service.to_owned(), s);
    Ok(())
}

/// `lifecycleStage`, `lifecycleHookDetails`, traffic weights and rollback of a native deployment.
pub fn describe_into(v: &mut Value, s: &Service, d: &super::Deployment) {
    let Some(n) = &d.native else { return };
    let stage = match n.stage {
        "PRE_PRODUCTION_TRAFFIC_SHIFT" => "PRODUCTION_TRAFFIC_SHIFT",
        _ if d.finished_at.is_some() => "CLEAN_UP",
        other => other,
    };
    v["lifecycleStage"] = json!(stage);
    v["lifecycleHookDetails"] = json!(
        n.hooks
            .iter()
            .map(|h| {
                let mut x = json!({
                    "hookId": h.id,
                    "targetType": h.target_type,
                    "status": h.status,
                    "expiresAt": h.expires_at,
                    "timeoutAction": h.timeout_action,
                });
                if let Some(a) = &h.target_arn {
                    x["targetArn"] = json!(a);
                }
                x
            })
            .collect::<Vec<_>>()
    );
    if let Some(t) = v.get_mut("targetServiceRevision") {
        t["requestedProductionTrafficWeight"] = json!(n.production_weight);
        t["requestedTestTrafficWeight"] = json!(n.test_weight);
    }
    if let Some(sources) = v.get_mut("sourceServiceRevisions").and_then(Value::as_array_mut) {
        for src in sources {
            src["requestedProductionTrafficWeight"] = json!(100.0 - n.production_weight);
            src["requestedTestTrafficWeight"] = json!(100.0 - n.test_weight);
        }
    }
    if let Some(started) = n.rollback_started {
        let to = n.source.as_ref().and_then(|src| s.deployments.iter().chain(s.finished.iter()).find(|x| &x.id == src));
        let mut r = json!({ "reason": d.sd_reason, "startedAt": started });
        if let Some(to) = to {
            r["serviceRevisionArn"] = json!(super::service_deployments::revision_arn(to));
        }
        v["rollback"] = r;
    }
}
