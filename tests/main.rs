//! One integration-test binary: the real `pipeline` executable against a fresh sandbox and the
//! local Docker engine.

mod harness;

mod action;
mod bad_input;
mod build_cache;
mod cancel;
mod deploy;
mod ecs_native;
mod faults;
mod first_run;
mod fixture;
mod guard;
mod image;
mod inflight;
mod install_sh;
mod jobs;
mod month;
mod platform;
mod preflight;
mod promotion;
mod real_traffic;
mod report;
mod services;
mod verify;
mod workflows;
