# The lean4-cf GitHub Action image: the static lean4-cf binary, Node.js 22 and the production packages of
# the Worker (wrangler, @cloudflare/containers), so that nothing is downloaded when the action runs.
# GitHub builds this file on every job of an action whose action.yml says `image: Dockerfile` (main);
# release.yml builds it once per tag and release commits pin that image by digest.
# No `# syntax=` line: both BuildKit's built-in frontend and the classic builder (Docker without buildx)
# read this file as it is, so a cold build fetches nothing but the base images.
# Checked by dockerfile_test.go (BuildKit's parser and lint rules) and built and run by `make action-image`.

ARG GO_VERSION=1.26
ARG NODE_VERSION=22.23.5
# BuildKit sets BUILDPLATFORM to the builder's platform (the default below expands to it); the classic
# builder sets no platform arguments, and `FROM --platform=` with an empty value fails there, so it builds
# on linux/amd64, the platform of GitHub's runners.
ARG BUILDPLATFORM=${BUILDPLATFORM:-linux/amd64}
# What `lean4-cf version` reports: release.yml passes the tag; empty means the binary's own "devel".
ARG VERSION=
# Build stages only: PEM certificates of a TLS-intercepting proxy between the builder and the Go module
# proxy and npm (corporate networks, some CI machines). Never given to the final stage: the image trusts
# only Debian's CA bundle.
ARG BUILD_CA_CERTS=

# 1. lean4-cf, static (no cgo), without paths or symbols, the version stamped; cross-compiled on the build
#    machine for the target platform (TARGETOS/TARGETARCH are empty with the classic builder: native).
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
ARG BUILD_CA_CERTS
WORKDIR /src
COPY go.mod go.sum ./
# Go reads SSL_CERT_DIR besides the system bundle, which stays untouched for the final stage.
RUN mkdir -p /tmp/build-ca && printf '%s\n' "$BUILD_CA_CERTS" >/tmp/build-ca/build-ca.pem \
    && SSL_CERT_DIR=/etc/ssl/certs:/tmp/build-ca go mod download
# The packages lean4-cf imports from other modules, compiled into Go's build cache in a layer that only
# go.mod and go.sum key: a change to lean4-cf's own code then recompiles lean4-cf alone (seconds), not
# every dependency (minutes). Same target and -trimpath as the build below, so its compiles are reused.
# dockerfile_test.go keeps the list equal to what `go list` says the binary imports.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
    github.com/cenkalti/backoff/v5 \
    github.com/cloudflare/cloudflare-go/v6 \
    github.com/cloudflare/cloudflare-go/v6/accounts \
    github.com/cloudflare/cloudflare-go/v6/option \
    github.com/cloudflare/cloudflare-go/v6/user \
    github.com/cloudflare/cloudflare-go/v6/workers \
    github.com/google/go-containerregistry/pkg/authn \
    github.com/google/go-containerregistry/pkg/name \
    github.com/google/go-containerregistry/pkg/v1 \
    github.com/google/go-containerregistry/pkg/v1/empty \
    github.com/google/go-containerregistry/pkg/v1/layout \
    github.com/google/go-containerregistry/pkg/v1/mutate \
    github.com/google/go-containerregistry/pkg/v1/remote \
    github.com/google/go-containerregistry/pkg/v1/remote/transport \
    github.com/google/go-containerregistry/pkg/v1/tarball \
    github.com/google/go-containerregistry/pkg/v1/types \
    github.com/google/go-github/v75/github \
    github.com/klauspost/compress/gzip \
    github.com/klauspost/compress/zstd \
    github.com/sethvargo/go-githubactions \
    github.com/spf13/cobra \
    github.com/spf13/pflag \
    github.com/tailscale/hujson \
    golang.org/x/sync/errgroup
COPY cmd ./cmd
COPY internal ./internal
COPY worker/embed.go worker/package.json worker/package-lock.json ./worker/
COPY worker/src ./worker/src
# Declared here, not at the top of the stage, so that a new version reuses the layers above.
ARG VERSION
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags="-s -w -X github.com/org/lean4-cf-action/internal/cli.stampedVersion=${VERSION}" \
    -o /out/lean4-cf ./cmd/lean4-cf

# 2. The Worker's production packages exactly as locked (its tests and type checks stay out), without
#    install scripts (esbuild's and workerd's binaries arrive as optional dependencies); npm's cache
#    stays in this stage.
FROM node:${NODE_VERSION}-bookworm-slim AS worker
ARG BUILD_CA_CERTS
WORKDIR /opt/lean4-cf/worker
COPY worker/package.json worker/package-lock.json ./
RUN if [ -n "$BUILD_CA_CERTS" ]; then printf '%s\n' "$BUILD_CA_CERTS" >/tmp/build-ca.pem \
    && export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi \
    && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
    && node node_modules/wrangler/bin/wrangler.js --version
COPY worker/src ./src

# 3. The action: Debian, Node (the binary alone: no npm, npx or corepack, which nothing runs here), the
#    Worker and its packages, lean4-cf as the entry point. No USER (the action must write to the workspace
#    as root) and no WORKDIR (the runner sets it).
FROM debian:bookworm-slim
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=worker /usr/local/bin/node /usr/local/bin/node
COPY --from=worker /opt/lean4-cf/worker /opt/lean4-cf/worker
COPY --from=build /out/lean4-cf /usr/local/bin/lean4-cf
# wrangler keeps its configuration and debug logs under $XDG_CONFIG_HOME/.wrangler, else $HOME. HOME is
# the runner's mounted _github_home, where files written as root outlive the job and a self-hosted runner
# running as a normal user cannot delete them; /tmp in the container goes away with it (`docker run --rm`).
ENV LEAN4CF_WRANGLER=/opt/lean4-cf/worker/node_modules/wrangler/bin/wrangler.js \
    LEAN4CF_NODE=/usr/local/bin/node \
    XDG_CONFIG_HOME=/tmp/lean4-cf/config \
    WRANGLER_LOG_PATH=/tmp/lean4-cf/wrangler-logs \
    WRANGLER_SEND_METRICS=false
ENTRYPOINT ["/usr/local/bin/lean4-cf"]
# The Actions entry: action.yml passes args [action] as well; CMD makes `uses: docker://<image>` work too.
CMD ["action"]
