# Multi-stage build of the reprobuild CLI image and of the BuildKit gateway frontend.
# Pin the builder image by digest in your own CI for a reproducible toolchain. No
# `# syntax=` line: BuildKit's built-in Dockerfile frontend builds this file, so no
# frontend image has to be pulled.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w" -o /out/reprobuild ./cmd/reprobuild
RUN go build -trimpath -ldflags "-s -w" -o /out/reprobuild-frontend ./cmd/reprobuild-frontend

# The runtime file system of the CLI image: CA certificates (HTTPS channels and
# registries), a home with the cache directory, /tmp and a working directory, all
# writable by any user the image is run as (docker run --user).
FROM build AS rootfs
RUN mkdir -p /out/rootfs/usr/local/bin /out/rootfs/etc/ssl/certs /out/rootfs/tmp \
      /out/rootfs/home/reprobuild/.cache/reprobuild /out/rootfs/work && \
    cp /out/reprobuild /out/rootfs/usr/local/bin/reprobuild && \
    cp /etc/ssl/certs/ca-certificates.crt /out/rootfs/etc/ssl/certs/ca-certificates.crt && \
    chmod 1777 /out/rootfs/tmp /out/rootfs/home/reprobuild /out/rootfs/home/reprobuild/.cache \
      /out/rootfs/home/reprobuild/.cache/reprobuild /out/rootfs/work

# The CLI: `docker run -v "$PWD:/work" IMAGE image --output oci:out/img`.
FROM scratch AS reprobuild
COPY --from=rootfs /out/rootfs/ /
ENV PATH=/usr/local/bin \
    HOME=/home/reprobuild \
    REPROBUILD_CACHE=/home/reprobuild/.cache/reprobuild \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    TMPDIR=/tmp
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/reprobuild"]
CMD ["--help"]

# The BuildKit gateway frontend (docs/buildkit.md): reprobuild-frontend as entrypoint plus
# the static reprobuild that runs the link steps. Build with --target frontend.
FROM scratch AS frontend
COPY --from=build /out/reprobuild /usr/local/bin/reprobuild
COPY --from=build /out/reprobuild-frontend /usr/local/bin/reprobuild-frontend
ENTRYPOINT ["/usr/local/bin/reprobuild-frontend"]

# Keep the CLI image the default target.
FROM reprobuild
