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
