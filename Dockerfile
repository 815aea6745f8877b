# syntax=docker/dockerfile:1
#
# Tobira's container image: one static binary on distroless, run as a
# non-root user. Build and run:
#
#   docker build -t tobira .
#   docker run -d --name tobira -p 127.0.0.1:8080:8080 -v tobira-data:/data \
#     -e TOBIRA_BASE_URL=https://id.example.jp \
#     -e TOBIRA_SECRET_KEY_FILE=/run/secrets/tobira_secret_key ... tobira
#
# See docs/OPERATIONS.md for the rest (configuration, PostgreSQL, operator
# commands, health checks).

# The build stage. go.mod asks for Go 1.26.8 or newer; the golang:1.26 tag
# follows the newest 1.26 release.
ARG GO_VERSION=1.26
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# Modules first, so that a change of the code alone reuses this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY cmd ./cmd
COPY internal ./internal

# CGO_ENABLED=0: the SQLite driver is pure Go (modernc.org/sqlite), so the
# binary is static and needs no C library. The Japanese time zone is built
# in (time/tzdata), so the image needs no zone files.
# VERSION names the release in `tobira version`, the start-up log and
# /metrics, since the build context has no .git to read the commit from:
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t tobira .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/tobira/tobira/internal/buildinfo.version=${VERSION}" \
      -o /out/tobira ./cmd/tobira

# The data folder, created here because the final image has no shell; it is
# copied with the non-root user as owner so the volume starts writable.
RUN mkdir -m 0700 /out/data

# The final stage: distroless "static" has CA certificates (for SMTP over
# TLS, Twilio and PostgreSQL with sslmode=verify-full), /etc/passwd with the
# user nonroot (65532), and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tobira /tobira
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532

# The SQLite database lives in /data (unless TOBIRA_DATABASE_URL names a
# PostgreSQL database); the portal listens on every interface of the
# container. The operator console stays on the container's own loopback
# (127.0.0.1:8090) unless TOBIRA_CONSOLE_ADDR says otherwise, e.g. ":8090"
# published only to the host's loopback with -p 127.0.0.1:8090:8090.
ENV TOBIRA_DATA=/data \
    TOBIRA_ADDR=:8080
VOLUME ["/data"]
EXPOSE 8080

# No HEALTHCHECK: distroless has no shell or curl to run one. Let the
# orchestrator or the load balancer probe GET /readyz (200 when the
# database answers, 503 when not) and /healthz (the process answers).
#
# `docker stop` sends SIGTERM; tobira then stops taking connections and
# waits up to 10 seconds for requests in flight, so give it more than
# that: docker stop -t 30, or stop_grace_period: 30s in Compose.
#
# Arguments after the image name go to `tobira serve`, e.g.
# `--config /etc/tobira/tobira.json`. Other commands:
#   docker exec tobira /tobira users list
#   docker run --rm --entrypoint /tobira -v tobira-data:/data tobira migrate
ENTRYPOINT ["/tobira", "serve"]
