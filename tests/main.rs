//! One integration-test binary: the real `pipeline` executable against a fresh sandbox and the
//! local Docker engine.

mod harness;

mod action;
mod bad_input;
mod cancel;
mod deploy;
mod faults;
mod first_run;
mod fixture;
mod guard;
mod image;
mod inflight;
mod install_sh;
mod jobs;
mod month;
mod preflight;
mod promotion;
mod real_traffic;
mod report;
mod workflows;
