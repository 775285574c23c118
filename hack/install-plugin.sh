#!/usr/bin/env bash
# Installs the kubectl plugin as DIR/kubectl-pea (krew's naming: kubectl runs it for
# `kubectl pea …`). A small wrapper rather than a link to dist/src/cli/main.js: that script's
# `#!/usr/bin/env node` would run on whatever Node comes first on the user's PATH, and the
# plugin needs Node 24 (client-node 2.x), which hack/node.sh provides.
#   hack/install-plugin.sh DIR
set -euo pipefail
dir="${1:?usage: $0 DIR (e.g. /usr/local/bin)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
node="$("$root/hack/node.sh")/node"
main="$root/dist/src/cli/main.js"
[[ -f "$main" ]] || { echo "$main is missing: run make build first" >&2; exit 1; }
mkdir -p "$dir"
tmp="$dir/.kubectl-pea.tmp"
printf '#!/bin/sh\n# kubectl pea: installed by %s\nexec %q %q "$@"\n' "$0" "$node" "$main" >"$tmp"
chmod 755 "$tmp"
mv "$tmp" "$dir/kubectl-pea"
echo "installed $dir/kubectl-pea (try: kubectl pea --help)" >&2
