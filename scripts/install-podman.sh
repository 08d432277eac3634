#!/usr/bin/env bash
# Installs podman and configures it for machines without systemd whose cgroup layout crun refuses
# (the CI machine): runc, cgroupfs, file events, and no raised ulimits. Needs root.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq podman runc >/dev/null
fi
if [ ! -f /etc/containers/containers.conf ] || ! grep -q 'multipod' /etc/containers/containers.conf; then
  $SUDO mkdir -p /etc/containers
  $SUDO tee /etc/containers/containers.conf >/dev/null <<'CONF'
# written by multipod scripts/install-podman.sh
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
podman --version
