# syntax=docker/dockerfile:1
# The lean4-cf GitHub Action image: the static lean4-cf binary, Node.js 22 and the Worker's pinned npm
# packages (wrangler among them), so that nothing is downloaded when the action runs.
# GitHub builds this file on every job that uses `image: Dockerfile`; release.yml publishes it prebuilt.
# Checked by dockerfile_test.go (BuildKit's own parser and lint rules): no USER or WORKDIR in the final
# stage (GitHub's Dockerfile rules), the Node version of scripts/toolchain.sh, wrangler as pinned in
# worker/package-lock.json.

ARG GO_VERSION=1.26
ARG NODE_VERSION=22.23.5

# 1. lean4-cf, static (no cgo), without paths or symbols; cross-compiled on the build machine for the
#    target platform (TARGETOS/TARGETARCH are empty with the legacy builder, which means native).
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY worker/embed.go worker/package.json worker/package-lock.json ./worker/
COPY worker/src ./worker/src
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/lean4-cf ./cmd/lean4-cf

# 2. The Worker's npm packages, exactly as locked (install scripts are not needed: the platform binaries
#    of esbuild and workerd arrive as optional dependencies).
FROM node:${NODE_VERSION}-bookworm-slim AS worker
WORKDIR /opt/lean4-cf/worker
COPY worker/package.json worker/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
    && node node_modules/wrangler/bin/wrangler.js --version
COPY worker/src ./src

# 3. The action: Node 22 from the base image, the Worker and its packages, lean4-cf as the entry point.
#    No USER (the action must write to the workspace as root) and no WORKDIR (the runner sets it).
FROM node:${NODE_VERSION}-bookworm-slim
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=worker /opt/lean4-cf/worker /opt/lean4-cf/worker
COPY --from=build /out/lean4-cf /usr/local/bin/lean4-cf
ENV LEAN4CF_WRANGLER=/opt/lean4-cf/worker/node_modules/wrangler/bin/wrangler.js \
    LEAN4CF_NODE=/usr/local/bin/node \
    WRANGLER_SEND_METRICS=false
ENTRYPOINT ["/usr/local/bin/lean4-cf"]
# The Actions entry: action.yml passes args [action] as well; CMD makes `uses: docker://<image>` work too.
CMD ["action"]
