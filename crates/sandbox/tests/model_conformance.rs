//! Model conformance: every operation the sandbox emulates, driven through botocore and checked response by
//! response against botocore's service models, the JSON files the AWS SDKs are generated from
//! (crates/sandbox/conformance/, README "Model conformance"). Needs python3; the pinned botocore is installed
//! into target/conformance-venv by `conformance/venv.sh` on first use.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pipeline_sandbox::SandboxOptions;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// The venv's Python, created by venv.sh; panics with its message when python3 or pip are unavailable.
fn python() -> String {
    let out = Command::new("bash").arg(conformance_dir().join("venv.sh")).output().expect("run conformance/venv.sh");
    assert!(out.status.success(), "conformance/venv.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 path").trim().to_owned()
}

fn show(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The checker itself: conforming bodies pass, and a planted extra key, wrong enum, missing required member,
/// wrong type, timestamp encoding, Content-Type or unmodelled error each fail.
#[test]
fn the_shape_checker_reports_planted_deviations() {
    let out = Command::new(python())
        .args(["-m", "unittest", "-v", "test_shapecheck"])
        .current_dir(conformance_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run the checker's unit tests");
    let text = show(&out);
    assert!(out.status.success(), "the checker's unit tests failed:\n{text}");
    assert!(text.contains("test_an_extra_key_fails") && text.contains("\nOK"), "{text}");
}

/// Every emulated operation answers in the shapes of AWS's models, over every protocol the sandbox serves it
/// with; the emulated-operations list of crates/sandbox/README.md is what the sandbox really serves
/// (`SANDBOX_CONFORMANCE_WRITE_README=1` rewrites it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_emulated_operation_answers_in_the_models_shapes() {
    let python = python();
    let sandbox =
        pipeline_sandbox::start(SandboxOptions { time_scale: 60.0, ..Default::default() }).await.expect("sandbox");
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let mut command = Command::new(python);
    command
        .arg("run.py")
        .args(["--endpoint", &sandbox.endpoint()])
        .arg("--readme")
        .arg(&readme)
        .current_dir(conformance_dir())
        // Keep __pycache__ out of the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if std::env::var_os("SANDBOX_CONFORMANCE_WRITE_README").is_some() {
        command.arg("--write-readme");
    }
    let out = tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run run.py");
    let text = show(&out);
    assert!(out.status.success(), "model conformance failed:\n{text}");
    let summary = text.lines().find(|l| l.starts_with("model conformance:"));
    println!("{}", summary.unwrap_or_else(|| panic!("no summary line:\n{text}")));
}
