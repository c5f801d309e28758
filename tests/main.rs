//! One integration-test binary: the real `pipeline` executable against a fresh sandbox and the
//! local Docker engine.

mod harness;

mod action;
mod bad_input;
mod deploy;
mod first_run;
mod fixture;
mod image;
mod install_sh;
mod preflight;
mod real_traffic;
mod report;
