#!/usr/bin/env bash
# Installs QEMU user emulation for arm64 (Debian/Ubuntu `qemu-user-static` + `binfmt-support`) and makes sure
# the kernel's binfmt_misc has it registered with the F (fix-binary) flag, so the Docker engine can run arm64
# RUN steps. The platform tests (tests/platform.rs) build an arm64 image with it. Safe to run again.
set -euo pipefail

binfmt=/proc/sys/fs/binfmt_misc
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

registered() {
  [ -f "$binfmt/qemu-aarch64" ] && grep -qx enabled "$binfmt/qemu-aarch64" && grep -q '^flags:.*F' "$binfmt/qemu-aarch64"
}

if ! registered; then
  if ! dpkg -s qemu-user-static binfmt-support >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq qemu-user-static binfmt-support >/dev/null
  fi
  # Containers and minimal VMs may not have binfmt_misc mounted.
  [ -f "$binfmt/register" ] || "${sudo[@]}" mount -t binfmt_misc binfmt_misc "$binfmt"
  if ! registered; then
    # systemd hosts register from /usr/lib/binfmt.d; binfmt-support from /usr/share/binfmts.
    "${sudo[@]}" systemctl restart systemd-binfmt 2>/dev/null || true
    registered || "${sudo[@]}" update-binfmts --enable qemu-aarch64 2>/dev/null || true
    registered || "${sudo[@]}" update-binfmts --import qemu-aarch64 2>/dev/null || true
  fi
fi

if ! registered; then
  echo "error: could not register qemu-aarch64 with the F flag in $binfmt" >&2
  exit 1
fi
echo "arm64 emulation: $(grep -E '^(interpreter|flags)' "$binfmt/qemu-aarch64" | tr '\n' ' ')"
