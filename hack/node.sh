#!/usr/bin/env bash
# Brings Node 24 onto the machine without a download site: the npm registry's `node`
# package ships the real binary. Cached outside the clone so a warm machine pays nothing.
# Prints the bin directory to put first on PATH.
set -euo pipefail

NODE_VERSION="${NODE_VERSION:-24.21.0}"
cache="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}"
dir="$cache/node-$NODE_VERSION"
bin="$dir/node_modules/.bin"

if [[ -x "$bin/node" ]] && [[ "$("$bin/node" --version)" == "v$NODE_VERSION" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dir"
exec 9>"$cache/node.lock"
flock 9
if [[ ! -x "$bin/node" ]]; then
  echo "installing Node $NODE_VERSION into $dir (once per machine)" >&2
  # npm itself may still run on the machine's older Node for this one step.
  npm install --silent --no-audit --no-fund --prefix "$dir" "node@$NODE_VERSION" >&2
fi
"$bin/node" --version >&2
echo "$bin"
