#!/usr/bin/env bash
# Go tools the tests run besides the Kubernetes binaries (hack/k8s-binaries.sh), built once
# from the Go module proxy and cached outside the clone:
#   promtool  (github.com/prometheus/prometheus/cmd/promtool): `check metrics` on a scrape of
#             the operator, `check rules` on the chart's PrometheusRule
#   grpcurl   (github.com/fullstorydev/grpcurl/cmd/grpcurl): a real outside client of the
#             sidecar's gRPC reflection
#
#   hack/go-tools.sh TOOL...     prints one line per tool on stdout: its absolute path
# Builds only what is missing; a warm run forks nothing but this script.
set -euo pipefail

# Pins. Prometheus 3.x publishes its Go module as v0.3XX.Y (3.16.0 is v0.316.0).
PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
GRPCURL_VERSION="${GRPCURL_VERSION:-v1.9.4}"

declare -A pkg=(
  [promtool]="github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
  [grpcurl]="github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
)

(($# > 0)) || { echo "usage: $0 promtool|grpcurl..." >&2; exit 2; }
for t in "$@"; do
  [[ -n "${pkg[$t]:-}" ]] || { echo "unknown tool '$t' (promtool, grpcurl)" >&2; exit 2; }
done

cache="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}/go-tools"
[[ "$cache" == /* ]] || cache="$PWD/$cache"

# The directory names the pinned version, so a new pin builds anew instead of reusing.
dir_of() { local p="${pkg[$1]}"; echo "$cache/$1-${p##*@}"; }

missing=()
for t in "$@"; do [[ -x "$(dir_of "$t")/$t" ]] || missing+=("$t"); done

if ((${#missing[@]} > 0)); then
  command -v go >/dev/null ||
    { echo "go is needed to build ${missing[*]} (Debian: apt-get install golang-go)" >&2; exit 1; }
  mkdir -p "$cache"
  # Two callers at once: the second waits, then finds the tool built.
  exec 9>"$cache/build.lock"
  flock 9
  export GOWORK=off CGO_ENABLED=0
  for t in "${missing[@]}"; do
    d="$(dir_of "$t")"
    [[ -x "$d/$t" ]] && continue
    echo "building $t from ${pkg[$t]} (once per machine)" >&2
    start=$SECONDS
    rm -rf "$d.tmp"
    mkdir -p "$d.tmp"
    # go install at a version needs no module of ours: the tool's own go.mod decides.
    GOBIN="$d.tmp" nice -n 10 go install -trimpath -ldflags '-s -w' "${pkg[$t]}" >&2
    # Renamed into place only when complete: a killed build never looks cached.
    rm -rf "$d"
    mv "$d.tmp" "$d"
    echo "built $t in $((SECONDS - start))s" >&2
  done
fi
for t in "$@"; do echo "$(dir_of "$t")/$t"; done
