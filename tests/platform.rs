//! The build platform follows the task definition's `runtimePlatform` (REFERENCE A6): an ARM64 task
//! definition gets an arm64 image from this x86 engine through QEMU emulation (installed by
//! scripts/emulation.sh, which scripts/test.sh runs), and without emulation the release is refused before
//! anything changes. "Without emulation" is a binfmt_misc directory with no handlers, handed to pipeline
//! through `PIPELINE_BINFMT_MISC` (read by the CI context), while the machine keeps QEMU installed.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::fixture::{Controller, repo_for};
use crate::harness::{Pipeline, Repo, Run, Sandbox, http_get, remove_local_images};

const USAGE: i32 = 3;

/// A static aarch64 Linux executable that exits 0 (`mov x0, #0; mov x8, #93; svc #0`): an ELF header, one
/// program header and three instructions. Run by a `RUN` step, it proves the step ran as arm64 code: an x86
/// engine without emulation fails it with `exec format error`.
fn true_arm64() -> Vec<u8> {
    let base: u64 = 0x40_0000;
    let code: [u32; 3] = [0xd280_0000, 0xd280_0ba8, 0xd400_0001];
    let size = (64 + 56 + code.len() * 4) as u64;
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend([0u8; 8]);
    elf.extend(2u16.to_le_bytes()); // ET_EXEC
    elf.extend(0xb7u16.to_le_bytes()); // EM_AARCH64
    elf.extend(1u32.to_le_bytes());
    elf.extend((base + 120).to_le_bytes()); // entry: right after the headers
    elf.extend(64u64.to_le_bytes()); // program headers
    elf.extend(0u64.to_le_bytes()); // no section headers
    elf.extend(0u32.to_le_bytes());
    for half in [64u16, 56, 1, 0, 0, 0] {
        elf.extend(half.to_le_bytes());
    }
    elf.extend(1u32.to_le_bytes()); // PT_LOAD
    elf.extend(5u32.to_le_bytes()); // R+X
    for word in [0, base, base, size, size, 0x1000] {
        elf.extend(word.to_le_bytes());
    }
    for instruction in code {
        elf.extend(instruction.to_le_bytes());
    }
    elf
}

/// A rolling service whose task definition asks for ARM64, and an image with a RUN step of arm64 code.
fn arm64_repo() -> Repo {
    let repo = repo_for(Controller::Rolling, "    guard:\n      poll-interval: 50ms\n");
    let mut td: serde_json::Value = serde_json::from_str(crate::fixture::TASK_DEFINITION).unwrap();
    td["runtimePlatform"] = serde_json::json!({ "cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX" });
    repo.write("task-definition.json", &serde_json::to_string_pretty(&td).unwrap());
    repo.write("Dockerfile", "FROM scratch\nCOPY content.txt /content.txt\nCOPY true-arm64 /true\nRUN [\"/true\"]\n");
    let exe = repo.path().join("true-arm64");
    std::fs::write(&exe, true_arm64()).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.commit("feat: graviton");
    repo
}

fn release(repo: &Repo, sb: &Sandbox, binfmt: Option<&std::path::Path>) -> Run {
    let mut pipeline = Pipeline::new(repo).sandbox(sb);
    if let Some(dir) = binfmt {
        pipeline = pipeline.env("PIPELINE_BINFMT_MISC", dir);
    }
    pipeline.args(&["--output", "json", "release", "--version", "1.0.0"]).run()
}

fn emulation_installed() {
    let entry = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64").unwrap_or_default();
    assert!(
        entry.starts_with("enabled") && entry.lines().any(|l| l.starts_with("flags:") && l.contains('F')),
        "these tests need arm64 emulation on the engine's kernel: run scripts/emulation.sh (scripts/test.sh does)"
    );
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn an_arm64_task_definition_gets_an_arm64_image_built_under_emulation() {
    emulation_installed();
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = arm64_repo();

    let run = release(&repo, &sb, None);
    run.code(0).stderr_has("platform linux/arm64 (task definition runtimePlatform ARM64)");
    let out = run.json();
    let digest = out["image_digest"].as_str().expect("pushed").to_owned();
    // The manifest ECR holds names a config whose architecture is arm64: the config digest is the image id
    // of the local build, which the engine describes.
    let manifest = sb.block_on(async {
        let got = sb
            .ecr()
            .batch_get_image()
            .repository_name("web")
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(&digest).build())
            .send()
            .await
            .unwrap();
        got.images()[0].image_manifest().unwrap().to_owned()
    });
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let config = manifest["config"]["digest"].as_str().expect("a config digest").to_owned();
    let local = format!("{}/web:sha-{}", sb.running.registry_host(), &repo.head()[..12]);
    assert_eq!(docker(&["image", "inspect", "--format", "{{.Id}}", &local]), config);
    assert_eq!(docker(&["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", &local]), "linux/arm64");
    // ...and that image is what the service now runs.
    let td = out["task_definition_arn"].as_str().unwrap();
    assert_eq!(sb.running_td(&svc), td);
    assert_eq!(sb.td_image(td), out["image_uri"].as_str().unwrap());
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn without_emulation_an_arm64_release_is_refused_before_any_change() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = arm64_repo();
    // A kernel with binfmt_misc mounted and no handler registered.
    let bare = tempfile::tempdir().unwrap();
    std::fs::write(bare.path().join("status"), "enabled\n").unwrap();
    std::fs::write(bare.path().join("register"), "").unwrap();
    let before = calls(&sb);

    let run = release(&repo, &sb, Some(bare.path()));
    run.code(USAGE)
        .stderr_has("cannot build for linux/arm64 (task definition runtimePlatform ARM64)")
        .stderr_has("no emulator for arm64 is registered")
        .stderr_has("docker/setup-qemu-action");
    assert_eq!(run.json()["status"], "failure");
    let writes: Vec<String> = changed(&before, &calls(&sb)).into_iter().filter(|op| !is_read(op)).collect();
    assert!(writes.is_empty(), "no write may reach AWS: {writes:?}");
    assert_eq!(sb.digest("web", &format!("sha-{}", &repo.head()[..12])), None, "nothing pushed");
    assert_eq!(sb.running_td(&svc), svc.initial_td, "the service is untouched");
    let local = docker(&["images", "--format", "{{.Repository}}", &format!("{}/web", sb.running.registry_host())]);
    assert!(local.is_empty(), "nothing was built: {local}");
}

#[test]
fn image_platform_contradicting_the_task_definition_is_a_usage_error_naming_both() {
    let sb = Sandbox::start();
    sb.service(Controller::Rolling);
    let repo = arm64_repo();
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(".pipeline.yml", &config.replace("  repository: web\n", "  repository: web\n  platform: linux/amd64\n"));
    repo.commit("chore: pin amd64");
    let before = calls(&sb);
    let run = release(&repo, &sb, None);
    run.code(USAGE).stderr_has("image.platform is linux/amd64").stderr_has("asks for linux/arm64");
    let writes: Vec<String> = changed(&before, &calls(&sb)).into_iter().filter(|op| !is_read(op)).collect();
    assert!(writes.is_empty(), "no write may reach AWS: {writes:?}");
}

/// The sandbox's per-operation call counts (`GET /_sandbox/calls`).
fn calls(sb: &Sandbox) -> BTreeMap<String, u64> {
    let body = sb.block_on(http_get(&format!("{}/_sandbox/calls", sb.running.endpoint())));
    let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("calls ({e}): {body}"));
    value["operations"]
        .as_object()
        .map(|ops| ops.iter().map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap_or(0))).collect())
        .unwrap_or_default()
}

fn changed(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<String> {
    after.iter().filter(|(op, n)| before.get(*op) != Some(n)).map(|(op, _)| op.clone()).collect()
}

/// Describe*, List*, Get* and BatchGet* read; everything else may change something.
fn is_read(op: &str) -> bool {
    let name = op.split_once(':').map_or(op, |(_, n)| n);
    ["Describe", "List", "Get", "BatchGet"].iter().any(|p| name.starts_with(p))
}
