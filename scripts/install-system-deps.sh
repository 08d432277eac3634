#!/usr/bin/env bash
# Installs the real peers the system tests and benchmarks compare against (Debian packages):
# nginx, HAProxy, Apache httpd, Caddy, mtail, Prometheus + promtool, inotify-tools + rsync, wrk,
# hyperfine, ab, Chromium, dnsmasq (a real DNS server for discovery tests), openssl (s_client),
# nghttp2-client (h2load), redis-server (a real Redis behind the ambassador's TCP mode; also the
# e2e stand-in for the redis image), git (git http-backend: a real smart-HTTP git server for
# content-sync's git source, and the git fetch + checkout sidecar it is benchmarked against).
# Needs root (or sudo). Safe to run again: it installs only what is missing.
set -euo pipefail
packages=(nginx haproxy apache2 caddy mtail prometheus inotify-tools rsync wrk hyperfine apache2-utils chromium curl busybox-static dnsmasq-base openssl nghttp2-client redis-server git)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "system deps: all present"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx and friends on install; tests start their own on 127.0.0.1 ports.
for svc in nginx haproxy apache2 caddy prometheus mtail redis-server; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
echo "system deps: done"
