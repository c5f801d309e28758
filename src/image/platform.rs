//! The platform an image is built for, and whether the engine can build it (REFERENCE A6).
//!
//! ECS runs a task on the architecture its task definition's `runtimePlatform` names (X86_64 unless it says
//! ARM64). An image for another architecture starts and exits at once with `exec format error`, so the
//! platform is decided while planning: `image.platform` when set, else the task definition's
//! `runtimePlatform`, else the engine's own. Building for another architecture than the engine's runs each
//! `RUN` step under emulation (QEMU registered in the kernel's binfmt_misc with the fix-binary flag, as
//! `docker/setup-qemu-action` or Debian's `qemu-user-static` do); without it the build would fail halfway,
//! so it is refused before anything changes.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::build::BuildError;

/// Where the kernel lists its binfmt_misc handlers.
pub const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";

/// The platform chosen for the build, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlatformChoice {
    /// `os/arch`, as the engine takes it: `linux/arm64`.
    pub platform: String,
    /// What chose it, for the plan line.
    pub from: String,
}

impl PlatformChoice {
    pub fn describe(&self) -> String {
        format!("platform {} ({})", self.platform, self.from)
    }

    fn os_arch(&self) -> (&str, &str) {
        let mut parts = self.platform.split('/');
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
    }
}

/// `image.platform` and the task definition's `runtimePlatform` disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub configured: String,
    pub task_definition: String,
}

/// The platform `runtimePlatform` asks for (`None` when the task definition does not say).
pub fn from_task_definition(doc: &Map<String, Value>) -> Option<String> {
    let runtime = doc.get("runtimePlatform")?.as_object()?;
    let arch = runtime.get("cpuArchitecture").and_then(Value::as_str);
    let family = runtime.get("operatingSystemFamily").and_then(Value::as_str);
    if arch.is_none() && family.is_none() {
        return None;
    }
    let os = match family {
        Some(f) if f.to_ascii_uppercase().starts_with("WINDOWS") => "windows",
        _ => "linux",
    };
    let arch = match arch.map(str::to_ascii_uppercase).as_deref() {
        Some("ARM64") => "arm64",
        // X86_64 and ECS's default when only the OS family is given.
        _ => "amd64",
    };
    Some(format!("{os}/{arch}"))
}

/// `image.platform` first, then the task definition's `runtimePlatform`; `None` leaves it to the engine.
pub fn decide(
    configured: Option<&str>,
    task_definition: Option<&Map<String, Value>>,
) -> Result<Option<PlatformChoice>, Conflict> {
    let wanted = task_definition.and_then(from_task_definition);
    match (configured, wanted) {
        (Some(configured), Some(wanted)) if !same_platform(configured, &wanted) => {
            Err(Conflict { configured: configured.to_owned(), task_definition: wanted })
        }
        (Some(configured), _) => {
            Ok(Some(PlatformChoice { platform: configured.to_owned(), from: "image.platform".into() }))
        }
        (None, Some(wanted)) => {
            let arch = task_definition
                .and_then(|d| d.get("runtimePlatform")?.get("cpuArchitecture")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "X86_64 by default".into());
            Ok(Some(PlatformChoice { platform: wanted, from: format!("task definition runtimePlatform {arch}") }))
        }
        (None, None) => Ok(None),
    }
}

/// `linux/arm64/v8` and `linux/arm64` are the same machine for ECS.
fn same_platform(a: &str, b: &str) -> bool {
    let head = |p: &str| p.split('/').take(2).collect::<Vec<_>>().join("/").to_ascii_lowercase();
    head(a) == head(b)
}

/// What the engine is: its OS and architecture, as `GET /version` reports them (`linux`, `amd64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub host: String,
    pub os: String,
    pub arch: String,
    /// The engine's binfmt_misc directory, when this process can see it (a local engine).
    pub binfmt: Option<PathBuf>,
}

/// Asks the engine at `host` what it is (read-only). `binfmt` is where its kernel lists emulators, when local.
pub async fn engine(host: &str, binfmt: Option<PathBuf>) -> Result<Engine, BuildError> {
    let docker = super::build::connect(host)?;
    let version = docker
        .version()
        .await
        .map_err(|err| BuildError::EngineUnavailable { host: host.to_owned(), reason: err.to_string() })?;
    Ok(Engine {
        host: host.to_owned(),
        os: version.os.unwrap_or_else(|| "linux".into()).to_ascii_lowercase(),
        arch: version.arch.unwrap_or_else(|| "amd64".into()).to_ascii_lowercase(),
        binfmt,
    })
}

/// Refuses a platform the engine cannot build: another OS, or another architecture without emulation.
pub fn check(engine: &Engine, choice: &PlatformChoice) -> Result<(), BuildError> {
    let (os, arch) = choice.os_arch();
    let refuse = |reason: String| BuildError::PlatformUnsupported {
        platform: choice.platform.clone(),
        from: choice.from.clone(),
        host: engine.host.clone(),
        engine: format!("{}/{}", engine.os, engine.arch),
        reason,
    };
    if !os.eq_ignore_ascii_case(&engine.os) {
        return Err(refuse(format!("a {} engine cannot build {os} images", engine.os)));
    }
    if arch.eq_ignore_ascii_case(&engine.arch) {
        return Ok(());
    }
    // A remote engine's emulators are not visible from here: the build itself will tell.
    let Some(dir) = &engine.binfmt else { return Ok(()) };
    let Some(machine) = elf_machine(arch) else {
        return Err(refuse(format!("pipeline does not know the ELF machine of `{arch}`")));
    };
    match emulator(dir, machine) {
        Emulation::Ready => Ok(()),
        Emulation::NoFixBinary(name) => Err(refuse(format!(
            "{} registers `{name}` for {arch} without the F (fix-binary) flag, so it cannot run inside build containers",
            dir.display()
        ))),
        Emulation::Missing => Err(refuse(format!("no emulator for {arch} is registered in {}", dir.display()))),
    }
}

/// The ELF `e_machine` of an architecture, by its Docker name.
fn elf_machine(arch: &str) -> Option<u16> {
    Some(match arch.to_ascii_lowercase().as_str() {
        "amd64" => 0x3e,
        "arm64" => 0xb7,
        "arm" => 0x28,
        "386" => 0x03,
        "ppc64le" => 0x15,
        "s390x" => 0x16,
        "riscv64" => 0xf3,
        _ => return None,
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Emulation {
    Ready,
    NoFixBinary(String),
    Missing,
}

/// Looks for an enabled binfmt_misc handler whose magic matches ELF executables of `machine`.
fn emulator(dir: &Path, machine: u16) -> Emulation {
    let enabled = |path: &Path| std::fs::read_to_string(path).is_ok_and(|s| s.trim() == "enabled");
    if !enabled(&dir.join("status")) {
        return Emulation::Missing;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return Emulation::Missing };
    let mut found = Emulation::Missing;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if matches!(name.as_str(), "status" | "register") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
        let Some(handler) = Handler::parse(&text) else { continue };
        if handler.enabled && handler.matches_elf(machine) {
            if handler.flags.contains('F') {
                return Emulation::Ready;
            }
            found = Emulation::NoFixBinary(name);
        }
    }
    found
}

/// One `/proc/sys/fs/binfmt_misc/<name>` file (Documentation/admin-guide/binfmt-misc.rst).
#[derive(Debug, Default)]
struct Handler {
    enabled: bool,
    flags: String,
    offset: usize,
    magic: Vec<u8>,
    mask: Vec<u8>,
}

impl Handler {
    fn parse(text: &str) -> Option<Handler> {
        let mut handler = Handler::default();
        for line in text.lines() {
            let line = line.trim();
            if line == "enabled" {
                handler.enabled = true;
            } else if let Some(flags) = line.strip_prefix("flags:") {
                handler.flags = flags.trim().to_owned();
            } else if let Some(offset) = line.strip_prefix("offset ") {
                handler.offset = offset.trim().parse().ok()?;
            } else if let Some(magic) = line.strip_prefix("magic ") {
                handler.magic = hex::decode(magic.trim()).ok()?;
            } else if let Some(mask) = line.strip_prefix("mask ") {
                handler.mask = hex::decode(mask.trim()).ok()?;
            }
        }
        (!handler.magic.is_empty()).then_some(handler)
    }

    /// Whether an ELF executable's header for `machine` (64- or 32-bit, little-endian) matches the magic.
    fn matches_elf(&self, machine: u16) -> bool {
        let [lo, hi] = machine.to_le_bytes();
        [2u8, 1u8].iter().any(|class| {
            let mut header = [0u8; 20];
            header[..4].copy_from_slice(b"\x7fELF");
            header[4] = *class;
            header[5] = 1; // little-endian
            header[6] = 1; // ELF version
            header[16] = 2; // ET_EXEC
            header[18] = lo;
            header[19] = hi;
            self.matches(&header)
        })
    }

    fn matches(&self, bytes: &[u8]) -> bool {
        self.magic.iter().enumerate().all(|(i, want)| {
            let mask = self.mask.get(i).copied().unwrap_or(0xff);
            bytes.get(self.offset + i).is_some_and(|have| have & mask == want & mask)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // As Debian's qemu-user-static registers it.
    const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n\
        magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    fn td(runtime: Value) -> Map<String, Value> {
        serde_json::json!({ "family": "web", "runtimePlatform": runtime }).as_object().unwrap().clone()
    }

    fn engine(binfmt: Option<PathBuf>) -> Engine {
        Engine { host: "unix:///var/run/docker.sock".into(), os: "linux".into(), arch: "amd64".into(), binfmt }
    }

    fn arm64() -> PlatformChoice {
        PlatformChoice { platform: "linux/arm64".into(), from: "task definition runtimePlatform ARM64".into() }
    }

    fn binfmt(entries: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("status"), "enabled\n").unwrap();
        for (name, text) in entries {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn the_task_definition_chooses_the_platform() {
        let choice = decide(None, Some(&td(serde_json::json!({"cpuArchitecture": "ARM64"})))).unwrap().unwrap();
        assert_eq!(choice.platform, "linux/arm64");
        assert!(choice.describe().contains("runtimePlatform ARM64"), "{}", choice.describe());
        let x86 = td(serde_json::json!({"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}));
        assert_eq!(decide(None, Some(&x86)).unwrap().unwrap().platform, "linux/amd64");
        let windows = td(serde_json::json!({"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}));
        assert_eq!(decide(None, Some(&windows)).unwrap().unwrap().platform, "windows/amd64");
        assert_eq!(decide(None, None).unwrap(), None);
    }

    #[test]
    fn image_platform_agreeing_wins_and_disagreeing_is_a_conflict() {
        let arm = td(serde_json::json!({"cpuArchitecture": "ARM64"}));
        let choice = decide(Some("linux/arm64/v8"), Some(&arm)).unwrap().unwrap();
        assert_eq!((choice.platform.as_str(), choice.from.as_str()), ("linux/arm64/v8", "image.platform"));
        let conflict = decide(Some("linux/amd64"), Some(&arm)).unwrap_err();
        assert_eq!(conflict.task_definition, "linux/arm64");
    }

    #[test]
    fn the_engine_s_own_architecture_needs_no_emulation() {
        let amd64 = PlatformChoice { platform: "linux/amd64".into(), from: "x".into() };
        assert!(check(&engine(Some(PathBuf::from("/nonexistent"))), &amd64).is_ok());
    }

    #[test]
    fn another_architecture_needs_a_registered_fix_binary_emulator() {
        let ready = binfmt(&[("qemu-aarch64", AARCH64)]);
        assert!(check(&engine(Some(ready.path().to_owned())), &arm64()).is_ok());

        let none = binfmt(&[]);
        let err = check(&engine(Some(none.path().to_owned())), &arm64()).unwrap_err().to_string();
        assert!(err.contains("linux/arm64") && err.contains("linux/amd64"), "{err}");

        let no_f = binfmt(&[("qemu-aarch64", &AARCH64.replace("flags: PF", "flags: P"))]);
        let err = check(&engine(Some(no_f.path().to_owned())), &arm64()).unwrap_err();
        assert!(format!("{err:?}").contains("fix-binary"), "{err:?}");

        let disabled = binfmt(&[("qemu-aarch64", &AARCH64.replace("enabled\n", "disabled\n"))]);
        assert!(check(&engine(Some(disabled.path().to_owned())), &arm64()).is_err());
        // Another architecture's emulator does not count.
        let arm32 = AARCH64.replace("0200b700", "02002800").replace("aarch64", "arm");
        let other = binfmt(&[("qemu-arm", &arm32)]);
        assert!(check(&engine(Some(other.path().to_owned())), &arm64()).is_err());
    }

    #[test]
    fn another_os_is_refused_even_with_emulation() {
        let windows = PlatformChoice { platform: "windows/amd64".into(), from: "x".into() };
        assert!(check(&engine(None), &windows).is_err());
    }
}
