#!/usr/bin/env bash
# `make action-image`: builds the Dockerfile unchanged, with BuildKit (as GitHub's runners do) and with the
# classic builder (Docker without buildx), then runs the image the way the runner runs a Docker action
# against the local Cloudflare (actionimage_test.go): `version`, a deploy on a push event, a failing
# preflight, and what the image must not contain.
#
# Docker: a running engine is used as it is; otherwise dockerd is started here and stopped on exit.
# Only where no engine can be started at all does this skip, loudly (exit 0; ACTION_IMAGE_REQUIRED=1
# makes that a failure). Base images missing locally are pulled, else made locally
# (scripts/action-image-bases.sh: Debian's mirror, this machine's Go, Node from npm).
# Certificates in /usr/local/share/ca-certificates (a TLS-intercepting proxy's, say) are passed to the
# build stages as BUILD_CA_CERTS (override: BUILD_CA_FILES, colon-separated); the test checks that the
# image does not carry them.
# Knobs: ACTION_IMAGE_CLASSIC=0 skips the classic-builder build; TEST_ARGS is added to go test.
# `scripts/action-image.sh bench` prepares Docker the same way, then runs bench/actionstart (BENCH_ARGS).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .tools/docker
image=lean4cf-action:test
version=v0.0.0-action-image

loud() {
  {
    echo "################################################################################"
    echo "## make action-image SKIPPED: $*"
    echo "## The action image was NOT built or run. Install Docker (apt-get install docker.io)."
    echo "################################################################################"
  } >&2
  [ "${ACTION_IMAGE_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
}

# The client: Docker's own with buildx, else Debian's (BuildKit built in with DOCKER_BUILDKIT=1), else any.
docker=${DOCKER:-}
if [ -z "$docker" ]; then
  if docker buildx version >/dev/null 2>&1; then docker=docker
  elif [ -x /usr/bin/docker ]; then docker=/usr/bin/docker
  elif command -v docker >/dev/null; then docker=docker
  else loud "no docker client"; fi
fi
export DOCKER=$docker

started=""
stop_dockerd() {
  if [ -n "$started" ]; then
    kill "$started" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$started" 2>/dev/null || break; sleep 0.5; done
    echo "action-image: stopped the dockerd it started (pid $started)" >&2
  fi
}
trap stop_dockerd EXIT
if ! "$docker" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || loud "no Docker engine running and no dockerd to start"
  [ "$(id -u)" = 0 ] || loud "no Docker engine running, and starting dockerd needs root"
  echo "action-image: starting dockerd (log: .tools/docker/dockerd.log)" >&2
  setsid dockerd >.tools/docker/dockerd.log 2>&1 &
  started=$!
  for _ in $(seq 1 60); do "$docker" info >/dev/null 2>&1 && break; kill -0 "$started" 2>/dev/null || break; sleep 1; done
  "$docker" info >/dev/null 2>&1 || { tail -5 .tools/docker/dockerd.log >&2; started=""; loud "dockerd did not start"; }
fi

# Base images: present, else pulled, else made locally.
node_version=$(sed -n 's/^node_version=//p' scripts/toolchain.sh)
for base in "golang:1.26-bookworm" "node:$node_version-bookworm-slim" "debian:bookworm-slim"; do
  if ! "$docker" image inspect "$base" >/dev/null 2>&1 && ! timeout 120 "$docker" pull -q "$base" >/dev/null 2>&1; then
    echo "action-image: $base cannot be pulled; making the base images locally" >&2
    scripts/action-image-bases.sh
    break
  fi
done

ca_files=${BUILD_CA_FILES:-$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null | paste -sd: || true)}
ca_certs=""
IFS=: read -r -a cas <<<"$ca_files"
for f in "${cas[@]}"; do [ -n "$f" ] && ca_certs+="$(cat "$f")"$'\n'; done

if [ "${1:-}" = bench ]; then
  # The benchmark's own build is BuildKit's when the client has it (as on GitHub's runners).
  buildkit=true
  [ "$docker" = docker ] && ! docker buildx version >/dev/null 2>&1 && buildkit=false
  BUILD_CA_CERTS=$ca_certs go run ./bench/actionstart -buildkit=$buildkit ${BENCH_ARGS:-}
  exit
fi

build() { # build BUILDER TAG
  local t0=$SECONDS
  if [ "$1" = buildkit ]; then
    DOCKER_BUILDKIT=1 "$docker" build -q --build-arg VERSION="$version" --build-arg BUILD_CA_CERTS="$ca_certs" -t "$2" . >/dev/null
  else
    DOCKER_BUILDKIT=0 "$docker" build -q --build-arg VERSION="$version" --build-arg BUILD_CA_CERTS="$ca_certs" -t "$2" . >/dev/null
  fi
  echo "action-image: built $2 with $1 in $((SECONDS - t0)) s" >&2
}
build buildkit "$image"
if [ "${ACTION_IMAGE_CLASSIC:-1}" = 1 ]; then
  build classic lean4cf-action:classic
  # The whole output, then its first line: `| head -n1` under pipefail failed the run whenever head exited
  # before `docker run` finished writing (EPIPE, "write /dev/stdout: broken pipe").
  got=$("$docker" run --rm lean4cf-action:classic version)
  got=${got%%$'\n'*}
  [ "$got" = "lean4-cf $version" ] || { echo "action-image: the classic builder's image says \"$got\", want \"lean4-cf $version\"" >&2; exit 1; }
  echo "action-image: the classic builder's image runs: $got" >&2
fi
"$docker" image ls "$image" --format 'action-image: {{.Repository}}:{{.Tag}} {{.Size}}' >&2

LEAN4CF_ACTION_IMAGE=$image LEAN4CF_ACTION_IMAGE_VERSION=$version LEAN4CF_BUILD_CA_FILES=$ca_files \
  go test -count=1 -run 'TestActionImage' ${TEST_ARGS:-} .
