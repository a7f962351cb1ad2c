# syntax=docker/dockerfile:1
# Multi-stage build of a static reprobuild binary.
# Pin the builder image by digest in your own CI for a reproducible toolchain.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w" -o /out/reprobuild ./cmd/reprobuild

FROM scratch AS reprobuild
COPY --from=build /out/reprobuild /reprobuild
ENTRYPOINT ["/reprobuild"]

# The BuildKit gateway frontend (docs/buildkit.md): reprobuild-frontend as entrypoint plus
# the static reprobuild that runs the link steps. Build with --target frontend.
FROM build AS frontend-build
RUN go build -trimpath -ldflags "-s -w" -o /out/reprobuild-frontend ./cmd/reprobuild-frontend

FROM scratch AS frontend
COPY --from=build /out/reprobuild /usr/local/bin/reprobuild
COPY --from=frontend-build /out/reprobuild-frontend /usr/local/bin/reprobuild-frontend
ENTRYPOINT ["/usr/local/bin/reprobuild-frontend"]

# Keep the CLI image the default target.
FROM reprobuild
