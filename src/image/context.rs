//! The build context as a tar that honours `.dockerignore`, as `docker build` sends it.
//!
//! Deterministic on purpose: entries sorted, owner 0:0, mtimes zeroed, so the same tree gives the same bytes and
//! the engine's cache keys do not churn on a fresh checkout (git does not keep mtimes). Modes are kept: an
//! executable must stay executable in the image.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::dockerignore::DockerIgnore;

/// A packed context, ready to send to the engine.
#[derive(Debug)]
pub struct ContextTar {
    pub bytes: Vec<u8>,
    /// Where the Dockerfile is inside the tar (the `dockerfile` build parameter).
    pub dockerfile: String,
    /// How many files and directories went in, for the log.
    pub entries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("the build context {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("the Dockerfile {0} does not exist")]
    DockerfileNotFound(PathBuf),
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Name the Dockerfile gets in the tar when it lives outside the context (`docker build -f ../x` does the same).
const OUTSIDE_DOCKERFILE: &str = ".pipeline.Dockerfile";

/// Packs `context` (honouring its `.dockerignore`, or `<Dockerfile>.dockerignore` next to the Dockerfile, which
/// BuildKit prefers) and the Dockerfile, which is always sent, as is `.dockerignore` itself.
pub fn pack(context: &Path, dockerfile: &Path) -> Result<ContextTar, ContextError> {
    if !context.is_dir() {
        return Err(ContextError::NotADirectory(context.to_path_buf()));
    }
    if !dockerfile.is_file() {
        return Err(ContextError::DockerfileNotFound(dockerfile.to_path_buf()));
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError::Io { path, source }
    };
    let context = context.canonicalize().map_err(io_err(context))?;
    let dockerfile = dockerfile.canonicalize().map_err(io_err(dockerfile))?;
    let inside = dockerfile.strip_prefix(&context).ok().map(slash_path);

    let ignore = load_ignore(&context, &dockerfile)?;
    let mut files = Vec::new();
    walk(&context, "", &ignore, &mut files).map_err(io_err(&context))?;
    // Docker always sends these two, whatever .dockerignore says, so the build can read them.
    for always in [inside.clone(), Some(".dockerignore".to_string())].into_iter().flatten() {
        if !files.contains(&always) && context.join(&always).is_file() {
            files.push(always);
        }
    }
    files.sort();

    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for rel in &files {
        append(&mut tar, &context.join(rel), rel).map_err(io_err(&context.join(rel)))?;
    }
    let dockerfile_in_tar = match inside {
        Some(rel) => rel,
        None => {
            append(&mut tar, &dockerfile, OUTSIDE_DOCKERFILE).map_err(io_err(&dockerfile))?;
            OUTSIDE_DOCKERFILE.to_string()
        }
    };
    let entries = files.len() + usize::from(dockerfile_in_tar == OUTSIDE_DOCKERFILE);
    let bytes = tar.into_inner().map_err(io_err(&context))?;
    Ok(ContextTar { bytes, dockerfile: dockerfile_in_tar, entries })
}

fn load_ignore(context: &Path, dockerfile: &Path) -> Result<DockerIgnore, ContextError> {
    let specific = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
    for candidate in [specific, context.join(".dockerignore")] {
        match fs::read_to_string(&candidate) {
            Ok(text) => return Ok(DockerIgnore::parse(&text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(ContextError::Io { path: candidate, source }),
        }
    }
    Ok(DockerIgnore::default())
}

/// Collects the relative paths to send. An excluded directory is skipped whole (that is what keeps `target/`
/// out cheaply) unless a `!` pattern could re-include something below it.
fn walk(root: &Path, rel_dir: &str, ignore: &DockerIgnore, out: &mut Vec<String>) -> io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(root.join(rel_dir))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if rel_dir.is_empty() { name } else { format!("{rel_dir}/{name}") };
        let is_dir = entry.file_type()?.is_dir();
        let excluded = ignore.excluded(&rel);
        if !excluded {
            out.push(rel.clone());
        }
        if is_dir && (!excluded || ignore.may_reinclude_below(&rel)) {
            walk(root, &rel, ignore, out)?;
        }
    }
    Ok(())
}

fn append(tar: &mut tar::Builder<Vec<u8>>, path: &Path, name: &str) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
    // Deterministic mode would normalise permissions to 644/755; keep the real ones.
    header.set_mode(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    if meta.file_type().is_symlink() {
        header.set_size(0);
        tar.append_link(&mut header, name, fs::read_link(path)?)
    } else if meta.is_dir() {
        header.set_size(0);
        tar.append_data(&mut header, format!("{name}/"), io::empty())
    } else {
        tar.append_data(&mut header, name, fs::File::open(path)?)
    }
}

fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn listing(tar: &ContextTar) -> Vec<(String, u32, u64)> {
        let mut archive = tar::Archive::new(tar.bytes.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (e.path().unwrap().to_string_lossy().into_owned(), h.mode().unwrap(), h.mtime().unwrap())
            })
            .collect()
    }

    fn names(tar: &ContextTar) -> Vec<String> {
        listing(tar).into_iter().map(|(name, _, _)| name).collect()
    }

    #[test]
    fn honours_dockerignore_and_always_sends_dockerfile_and_ignore_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, ".dockerignore", "*\n!app\n!conf/keep.toml\n");
        write(root, "app", "binary");
        write(root, "README.md", "docs");
        write(root, "conf/keep.toml", "k");
        write(root, "conf/drop.toml", "d");
        write(root, "target/debug/big", "x");
        let tar = pack(root, &root.join("Dockerfile")).unwrap();
        assert_eq!(tar.dockerfile, "Dockerfile");
        assert_eq!(names(&tar), [".dockerignore", "Dockerfile", "app", "conf/keep.toml"]);
    }

    #[test]
    fn without_dockerignore_everything_goes_sorted_with_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, "b/z.txt", "z");
        write(root, "a.txt", "a");
        let tar = pack(root, &root.join("Dockerfile")).unwrap();
        assert_eq!(names(&tar), ["Dockerfile", "a.txt", "b/", "b/z.txt"]);
        assert_eq!(tar.entries, 4);
    }

    #[test]
    fn keeps_modes_zeroes_mtimes_and_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, "run.sh", "#!/bin/sh\n");
        fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
        let first = pack(root, &root.join("Dockerfile")).unwrap();
        let run = listing(&first).into_iter().find(|(n, _, _)| n == "run.sh").unwrap();
        assert_eq!((run.1, run.2), (0o750, 0));
        let second = pack(root, &root.join("Dockerfile")).unwrap();
        assert_eq!(first.bytes, second.bytes);
    }

    #[test]
    fn dockerfile_outside_the_context_is_added_under_a_generated_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "build/Containerfile", "FROM scratch\n");
        write(dir.path(), "ctx/file", "f");
        let tar = pack(&dir.path().join("ctx"), &dir.path().join("build/Containerfile")).unwrap();
        assert_eq!(tar.dockerfile, OUTSIDE_DOCKERFILE);
        assert_eq!(names(&tar), ["file", OUTSIDE_DOCKERFILE]);
    }

    #[test]
    fn dockerfile_specific_ignore_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, ".dockerignore", "a\n");
        write(root, "Dockerfile.dockerignore", "b\n");
        write(root, "a", "a");
        write(root, "b", "b");
        let tar = pack(root, &root.join("Dockerfile")).unwrap();
        assert!(names(&tar).contains(&"a".to_string()));
        assert!(!names(&tar).contains(&"b".to_string()));
    }

    #[test]
    fn missing_dockerfile_and_context_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = pack(dir.path(), &dir.path().join("Dockerfile")).unwrap_err();
        assert!(matches!(err, ContextError::DockerfileNotFound(_)), "{err}");
        let err = pack(&dir.path().join("nope"), &dir.path().join("Dockerfile")).unwrap_err();
        assert!(matches!(err, ContextError::NotADirectory(_)), "{err}");
    }
}
