//! All emulated state lives in one `World` behind one lock: an operation sees and changes a consistent
//! snapshot, and cross-service behaviour (CodeDeploy moving an ECS service, alarms stopping a
//! deployment) is a plain function over `&mut World`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{cloudwatch, codedeploy, ecr, ecs, elbv2, faults, scheduler, sts};

/// Fixed facts about this sandbox instance, handed to every handler.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub account_id: String,
    pub region: String,
    /// `host:port` of the registry (the same port as the APIs), e.g. `127.0.0.1:4599`.
    pub registry_host: String,
    /// Simulated seconds per real second: 60 makes a one-minute traffic step take one second.
    pub time_scale: f64,
    /// When the sandbox started: the origin of its scaled clock (`Ctx::clock`).
    pub started: SystemTime,
    /// The sandbox's own account: credentials it did not issue act in it.
    pub home_account: String,
    /// Every account's registry `host:port` (the home account's is `registry_host`), account id -> host.
    pub registries: std::collections::BTreeMap<String, String>,
}

impl Ctx {
    /// A simulated duration (as configured in AWS terms) converted into real wall time.
    pub fn real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.time_scale.max(0.001))
    }

    /// The scaled clock: it reads the real time at start and then runs `time_scale` times faster. EventBridge
    /// Scheduler evaluates `at()`, `rate()` and `cron()` on it, so a nightly job runs within seconds.
    pub fn clock(&self) -> SystemTime {
        let real = SystemTime::now().duration_since(self.started).unwrap_or_default();
        self.started + real.mul_f64(self.time_scale.max(0.001))
    }

    /// The same facts as seen from `account`: its id in ARNs and `registryId`, its own registry host.
    pub fn for_account(&self, account: &str) -> Ctx {
        let mut ctx = self.clone();
        if let Some(host) = self.registries.get(account) {
            ctx.account_id = account.to_owned();
            ctx.registry_host = host.clone();
        }
        ctx
    }

    /// A minimal context with one account, for unit tests.
    pub fn single(account: &str, region: &str, registry_host: &str) -> Ctx {
        Ctx {
            account_id: account.into(),
            region: region.into(),
            registry_host: registry_host.into(),
            time_scale: 1.0,
            started: SystemTime::now(),
            home_account: account.into(),
            registries: [(account.to_owned(), registry_host.to_owned())].into(),
        }
    }

    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account_id)
    }
}

/// Seconds since the epoch as AWS's JSON protocols send timestamps.
pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

pub fn now_epoch() -> f64 {
    epoch_seconds(SystemTime::now())
}

/// Every AWS call received, per `service:Operation`: how many and when the last one arrived, so
/// benchmarks and tests can count the calls a step makes (`GET /_sandbox/calls`).
#[derive(Debug, Default, serde::Serialize)]
pub struct Calls {
    pub total: u64,
    pub operations: std::collections::BTreeMap<String, CallStat>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CallStat {
    pub count: u64,
    /// Epoch seconds of the latest call.
    pub last_at: f64,
}

impl Calls {
    pub fn record(&mut self, service: &str, op: &str) {
        self.total += 1;
        let stat = self.operations.entry(format!("{service}:{op}")).or_default();
        stat.count += 1;
        stat.last_at = now_epoch();
    }
}

#[derive(Debug, Default)]
pub struct World {
    /// The home account's ECR; the other accounts' are in `account_ecr`.
    pub ecr: ecr::EcrState,
    pub account_ecr: std::collections::BTreeMap<String, ecr::EcrState>,
    pub sts: sts::StsState,
    pub ecs: ecs::EcsState,
    pub codedeploy: codedeploy::CodeDeployState,
    pub cloudwatch: cloudwatch::CloudWatchState,
    pub elbv2: elbv2::ElbState,
    pub scheduler: scheduler::SchedulerState,
    pub faults: faults::Faults,
    pub capture: crate::capture::Capture,
    pub calls: Calls,
}

impl World {
    /// The ECR (registry and repositories) of the account `ctx` acts in.
    pub fn ecr_of(&mut self, ctx: &Ctx) -> &mut ecr::EcrState {
        if ctx.account_id == ctx.home_account {
            &mut self.ecr
        } else {
            self.account_ecr.entry(ctx.account_id.clone()).or_default()
        }
    }

    /// Advances every time-driven process one step: ECS rollouts, CodeDeploy lifecycles, alarm evaluation,
    /// schedules that are due.
    /// Called by the ticker every few milliseconds and safe to call at any rate.
    pub fn tick(&mut self, ctx: &Ctx) {
        cloudwatch::tick(self, ctx);
        ecs::tick(self, ctx);
        codedeploy::tick(self, ctx);
        scheduler::tick(self, ctx);
    }
}
