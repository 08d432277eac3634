#!/usr/bin/env bash
# The reference: the sidecar people write by hand (git-sync's shell cousins). inotifywait reports
# changes; each burst of events triggers one rsync into the served directory. --checksum because
# rsync's default quick check (size + mtime) misses an edit that keeps the size within a second.
# Usage: shell-sidecar.sh SOURCE SERVED
set -u
src="${1%/}/"
dst="${2%/}/"
mkdir -p "$dst"
rsync -a --delete --checksum "$src" "$dst"
echo ready
inotifywait -m -r -q -e close_write,create,delete,move,attrib --format '%w%f' "$src" |
  while read -r _; do
    # Drain the rest of the burst (10 ms quiet) so one rsync covers it.
    while read -r -t 0.01 _; do :; done
    rsync -a --delete --checksum "$src" "$dst"
  done
