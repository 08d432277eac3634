#!/usr/bin/env bash
# The hand-written git sidecar content-sync's git source is measured against, done as
# kubernetes/git-sync does it: a shallow fetch of the ref into a bare repository every PERIOD, and
# for a new commit a fresh worktree, then the symlink ROOT/current swapped to it (ln + mv -T, one
# rename) and the old worktree removed.
# Usage: git-sidecar.sh <repository URL> <root> <period in seconds>
set -euo pipefail
url=$1 root=$2 period=$3
mkdir -p "$root"
repo=$root/.git-repo
git init -q --bare "$repo"
cd "$repo"
git remote add origin "$url"
last=""
while :; do
  if git fetch -q --depth 1 --no-tags origin +HEAD:refs/sync/head 2>/dev/null; then
    rev=$(git rev-parse refs/sync/head)
    if [ "$rev" != "$last" ]; then
      git worktree add -q --detach "$root/.worktrees/$rev" "$rev"
      ln -sfn ".worktrees/$rev" "$root/.current-new"
      mv -T "$root/.current-new" "$root/current"
      if [ -n "$last" ]; then git worktree remove --force "$root/.worktrees/$last"; fi
      last=$rev
    fi
  fi
  sleep "$period"
done
