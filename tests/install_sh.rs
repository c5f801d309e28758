//! scripts/install.sh, the GitHub Action's installer, against a fake release served on 127.0.0.1:
//! the asset for each runner platform, sha256 verification, the tool cache, and the source build
//! for refs without a release.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::harness::{Run, repo_root};

const TARGETS: [(&str, &str, &str); 4] = [
    ("Linux", "X64", "x86_64-unknown-linux-musl"),
    ("Linux", "ARM64", "aarch64-unknown-linux-musl"),
    ("macOS", "X64", "x86_64-apple-darwin"),
    ("macOS", "ARM64", "aarch64-apple-darwin"),
];

/// A dependency-free static file server on a free port: GET path -> body or 404, every request
/// path logged. Stops when dropped.
pub struct FileServer {
    pub port: u16,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (files, log, stop) = (files.clone(), log.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &files, &log);
                    }
                }
            })
        };
        Self { port, files, log, stop, thread: Some(thread) }
    }

    pub fn put(&self, path: &str, body: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_owned(), body);
    }

    pub fn base(&self, tag: &str) -> String {
        format!("http://127.0.0.1:{}/{tag}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Drain the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    log.lock().unwrap().push(path.clone());
    let body = files.lock().unwrap().get(&path).cloned();
    let mut stream = stream;
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", b"not found".to_vec()),
    };
    let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// A release of fake binaries: `pipeline-<tag>-<target>.tar.gz` holding a `pipeline` script that
/// prints its target, and `pipeline-<tag>-checksums.txt` in sha256sum format.
fn publish_fake_release(server: &FileServer, tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut checksums = String::new();
    for (_, _, target) in TARGETS {
        let bin = dir.path().join("pipeline");
        std::fs::write(&bin, format!("#!/bin/sh\necho \"fake pipeline {tag} {target}\"\n")).unwrap();
        let archive = format!("pipeline-{tag}-{target}.tar.gz");
        let status = Command::new("tar")
            .args(["-czf", &archive, "pipeline"])
            .current_dir(dir.path())
            .env("COPYFILE_DISABLE", "1")
            .status()
            .unwrap();
        assert!(status.success(), "tar");
        let bytes = std::fs::read(dir.path().join(&archive)).unwrap();
        checksums.push_str(&format!("{}  {archive}\n", hex::encode(Sha256::digest(&bytes))));
        server.put(&format!("/{tag}/{archive}"), bytes);
    }
    server.put(&format!("/{tag}/pipeline-{tag}-checksums.txt"), checksums.into_bytes());
}

/// One run of install.sh with a clean environment, like a fresh runner.
struct Install {
    cmd: Command,
    pub home: tempfile::TempDir,
}

impl Install {
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("scripts/install.sh")).env_clear().current_dir(home.path());
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("RUNNER_TOOL_CACHE", home.path().join("toolcache"))
            .env("GITHUB_PATH", home.path().join("github_path"))
            .env("GITHUB_OUTPUT", home.path().join("github_output"))
            .env("GITHUB_ACTION_PATH", repo_root());
        Self { cmd, home }
    }

    fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    fn run(&mut self) -> Run {
        Run::from(self.cmd.output().expect("bash runs"))
    }

    fn cache(&self) -> PathBuf {
        self.home.path().join("toolcache")
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.home.path().join(name)).unwrap_or_default()
    }

    fn output(&self, key: &str) -> Option<String> {
        self.file("github_output").lines().find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
    }
}

fn run_binary(path: &Path) -> String {
    let out = Command::new(path).output().expect("the installed binary runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn install_sh_picks_the_release_asset_for_each_runner_platform() {
    let server = FileServer::start();
    publish_fake_release(&server, "v1.2.3");
    for (os, arch, target) in TARGETS {
        let mut install = Install::new()
            .env("RUNNER_OS", os)
            .env("RUNNER_ARCH", arch)
            .env("INPUT_PIPELINE_VERSION", "v1.2.3")
            .env("PIPELINE_DOWNLOAD_BASE", server.base("v1.2.3"));
        install.run().code(0).stderr_has("sha256 verified");
        let bin_dir = install.cache().join("pipeline/v1.2.3").join(target).join("bin");
        assert_eq!(run_binary(&bin_dir.join("pipeline")), format!("fake pipeline v1.2.3 {target}"), "{os} {arch}");
        assert_eq!(install.file("github_path").trim(), bin_dir.display().to_string());
        assert_eq!(install.output("bin").as_deref(), Some(bin_dir.to_str().unwrap()));
        assert_eq!(install.output("version").as_deref(), Some("v1.2.3"));
        assert_eq!(install.output("source").as_deref(), Some("release"));
        let last = server.requests().last().cloned().unwrap();
        assert_eq!(last, format!("/v1.2.3/pipeline-v1.2.3-{target}.tar.gz"));
    }
    // uname's spellings work too (no RUNNER_* outside Actions), and a version without its `v`.
    let mut install = Install::new()
        .env("RUNNER_OS", "Darwin")
        .env("RUNNER_ARCH", "aarch64")
        .env("INPUT_PIPELINE_VERSION", "1.2.3")
        .env("PIPELINE_DOWNLOAD_BASE", server.base("v1.2.3"));
    install.run().code(0);
    assert_eq!(
        install.output("bin").unwrap(),
        install.cache().join("pipeline/v1.2.3/aarch64-apple-darwin/bin").display().to_string()
    );
    // Windows is refused with a clear message.
    Install::new()
        .env("RUNNER_OS", "Windows")
        .env("RUNNER_ARCH", "X64")
        .env("INPUT_PIPELINE_VERSION", "v1.2.3")
        .env("PIPELINE_DOWNLOAD_BASE", server.base("v1.2.3"))
        .run()
        .code(1)
        .stderr_has("unsupported operating system 'Windows'");
}

#[test]
fn install_sh_refuses_an_archive_whose_checksum_does_not_match() {
    let server = FileServer::start();
    publish_fake_release(&server, "v1.2.3");
    // The archive is swapped after the checksums were published.
    server.put("/v1.2.3/pipeline-v1.2.3-x86_64-unknown-linux-musl.tar.gz", b"tampered".to_vec());
    let mut install = Install::new()
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_ACTIONS", "true")
        .env("INPUT_PIPELINE_VERSION", "v1.2.3")
        .env("PIPELINE_DOWNLOAD_BASE", server.base("v1.2.3"));
    let run = install.run();
    run.code(1).stderr_has("checksum mismatch for pipeline-v1.2.3-x86_64-unknown-linux-musl.tar.gz");
    run.stderr_has("::error title=pipeline install::");
    assert!(!install.cache().join("pipeline").exists(), "nothing installed in the tool cache");
    assert_eq!(install.file("github_path"), "", "nothing added to PATH");
    assert_eq!(install.output("bin"), None);
}

#[test]
fn install_sh_reuses_the_tool_cache_without_downloading() {
    let server = FileServer::start();
    publish_fake_release(&server, "v2.0.0");
    let cache = tempfile::tempdir().unwrap();
    let install = |base: String| {
        let mut i = Install::new()
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "ARM64")
            .env("RUNNER_TOOL_CACHE", cache.path())
            .env("INPUT_PIPELINE_VERSION", "v2.0.0")
            .env("PIPELINE_DOWNLOAD_BASE", base);
        let run = i.run();
        (i, run)
    };
    let (first, run) = install(server.base("v2.0.0"));
    run.code(0);
    assert_eq!(first.output("source").as_deref(), Some("release"));
    assert_eq!(server.requests().len(), 2, "checksums and archive: {:?}", server.requests());

    // The server is gone: a second install must not need it.
    let base = server.base("v2.0.0");
    drop(server);
    let (second, run) = install(base);
    run.code(0);
    assert_eq!(second.output("source").as_deref(), Some("cache"));
    let bin = cache.path().join("pipeline/v2.0.0/aarch64-unknown-linux-musl/bin");
    assert_eq!(second.output("bin").as_deref(), Some(bin.to_str().unwrap()));
    assert_eq!(run_binary(&bin.join("pipeline")), "fake pipeline v2.0.0 aarch64-unknown-linux-musl");
}

/// A fake `cargo` that records its arguments and installs a fake binary under `--root`.
fn fake_cargo(dir: &Path) -> PathBuf {
    let path = dir.join("fake-cargo");
    let script = format!(
        "#!/usr/bin/env bash\nset -euo pipefail\nprintf '%s\\n' \"$@\" > '{log}'\n\
         root=''\nprev=''\nfor a in \"$@\"; do [[ \"$prev\" == --root ]] && root=\"$a\"; prev=\"$a\"; done\n\
         mkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho built from source\\n' > \"$root/bin/pipeline\"\n\
         chmod +x \"$root/bin/pipeline\"\n",
        log = dir.join("cargo-args").display()
    );
    std::fs::write(&path, script).unwrap();
    let status = Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    assert!(status.success());
    path
}

#[test]
fn install_sh_builds_from_the_action_checkout_when_there_is_no_release() {
    let server = FileServer::start();
    // A tag that looks released but has no release: 404 on the checksums file.
    let scratch = tempfile::tempdir().unwrap();
    let cargo = fake_cargo(scratch.path());
    let mut install = Install::new()
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("INPUT_PIPELINE_VERSION", "v9.9.9")
        .env("PIPELINE_DOWNLOAD_BASE", server.base("v9.9.9"))
        .env("PIPELINE_CARGO", &cargo);
    install.run().code(0).stderr_has("no release v9.9.9");
    assert_eq!(server.requests(), vec!["/v9.9.9/pipeline-v9.9.9-checksums.txt".to_owned()]);
    let args = std::fs::read_to_string(scratch.path().join("cargo-args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(&args[..4], ["install", "--locked", "--path", repo_root().to_str().unwrap()]);
    assert_eq!(args[4], "--root");
    assert_eq!(install.output("source").as_deref(), Some("build"));
    let bin = PathBuf::from(install.output("bin").unwrap());
    assert!(bin.starts_with(install.cache().join("pipeline")), "{}", bin.display());
    assert!(bin.ends_with("x86_64-unknown-linux-musl/bin"), "{}", bin.display());
    assert_eq!(run_binary(&bin.join("pipeline")), "built from source");

    // `@main` (or a SHA) has no release by construction: no download is even tried.
    std::fs::remove_file(scratch.path().join("cargo-args")).unwrap();
    let before = server.requests().len();
    let mut main = Install::new()
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("PIPELINE_ACTION_REF", "main")
        .env("PIPELINE_DOWNLOAD_BASE", server.base("main"))
        .env("PIPELINE_CARGO", &cargo);
    main.run().code(0).stderr_has("'main' is not a released version");
    assert_eq!(server.requests().len(), before, "no request for a branch");
    assert!(scratch.path().join("cargo-args").exists(), "cargo install ran");
    assert_eq!(main.output("source").as_deref(), Some("build"));

    // A failing build is a failing step, with nothing left in the cache.
    let mut broken = Install::new()
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("PIPELINE_ACTION_REF", "main")
        .env("PIPELINE_CARGO", "false");
    broken.run().code(1).stderr_has("cargo install --locked --path");
    assert!(!broken.cache().join("pipeline").exists());
}

#[test]
fn install_sh_resolves_a_major_tag_to_the_exact_release_of_the_checkout() {
    let server = FileServer::start();
    publish_fake_release(&server, "v1.2.3");
    let action = tempfile::tempdir().unwrap();
    std::fs::write(action.path().join("Cargo.toml"), "[package]\nname = \"pipeline\"\nversion = \"1.2.3\"\n").unwrap();
    let mut install = Install::new()
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_ACTION_PATH", action.path())
        .env("PIPELINE_ACTION_REF", "v1")
        .env("PIPELINE_DOWNLOAD_BASE", server.base("v1.2.3"));
    install.run().code(0);
    assert_eq!(install.output("version").as_deref(), Some("v1.2.3"));
    assert_eq!(install.output("source").as_deref(), Some("release"));
}

#[test]
fn install_sh_uses_a_given_bin_dir_without_downloading() {
    let dir = tempfile::tempdir().unwrap();
    let mut install = Install::new().env("PIPELINE_BIN_DIR", dir.path());
    // No binary there: refused.
    install.run().code(1).stderr_has("no executable pipeline");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_pipeline"));
    let mut install = Install::new().env("PIPELINE_BIN_DIR", bin.parent().unwrap());
    install.run().code(0);
    assert_eq!(install.output("source").as_deref(), Some("local"));
    assert_eq!(install.file("github_path").trim(), bin.parent().unwrap().display().to_string());
}
