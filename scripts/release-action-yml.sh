#!/usr/bin/env bash
# Rewrites action.yml for a release commit: `runs.image: Dockerfile` becomes
# `image: docker://<repository>@sha256:<digest>`, the image release.yml has just built and pushed, so that
# a workflow pinning this action by tag or commit runs exactly that image, pulled instead of built, with
# every action.yml default applied. Nothing else in the file changes. main keeps `image: Dockerfile`.
# Usage: scripts/release-action-yml.sh REPOSITORY@sha256:DIGEST [ACTION_YML]   (default: action.yml)
# Exit 2, with nothing written, on a malformed reference or a file whose runs.image is not Dockerfile.
set -euo pipefail
ref=${1:-}
file=${2:-action.yml}
usage() { echo "release-action-yml: $*" >&2; exit 2; }
[[ "$ref" =~ ^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+@sha256:[0-9a-f]{64}$ ]] ||
  usage "image \"$ref\" is not REGISTRY/REPOSITORY@sha256:<64 hex digits>: pass the digest the release build pushed"
[ -f "$file" ] || usage "$file does not exist: run from the repository root or name the action.yml"
n=$(grep -c '^  image: Dockerfile$' "$file" || true)
[ "$n" = 1 ] || usage "$file: want exactly one \"  image: Dockerfile\" under runs, found $n (already rewritten?)"
tmp=$(mktemp "$file.XXXXXX")
trap 'rm -f "$tmp"' EXIT
awk -v ref="$ref" '
  /^runs:/ { inruns = 1 }
  /^[^ #]/ && !/^runs:/ { inruns = 0 }
  inruns && /^  # / { next }  # the development comment about building from the Dockerfile
  inruns && $0 == "  image: Dockerfile" {
    print "  # The image release.yml built and pushed for this release, pinned by digest."
    print "  image: docker://" ref
    next
  }
  { print }
' "$file" >"$tmp"
chmod --reference="$file" "$tmp"
mv "$tmp" "$file"
trap - EXIT
