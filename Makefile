# The one command that runs every test: `make test`.
GO ?= go

.PHONY: test vet fmt-check tidy-check staticcheck build quickstart bench vm-base

test: fmt-check tidy-check vet staticcheck
	@# The smoke test first and verbose, so the log shows buildkitd and the registry
	@# really started and a solve + push round trip passed against them.
	$(GO) test -count=1 -v -run 'TestSmokeSolveAndPush' ./internal/testutil
	$(GO) test -count=1 -timeout 75m ./...

vet:
	$(GO) vet ./...

# go.mod and go.sum must be exactly what `go mod tidy` writes.
tidy-check:
	$(GO) mod tidy -diff

# staticcheck is pinned as a go.mod tool (honnef.co/go/tools), built from the module
# cache like any dependency.
staticcheck:
	$(GO) tool staticcheck ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v /testdata/)); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/reprobuild ./cmd/reprobuild

quickstart:
	$(GO) run ./cmd/reprobuild image -f examples/quickstart/reprobuild.hcl --offline --output oci:out/quickstart

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The bootable Debian base of examples/vm (kernel, python3, busybox-static,
# systemd-boot-efi; debootstrap, cached), packed as an OCI layout in out/vm-base.
# Prints the --var to pass to `reprobuild image -f examples/vm/reprobuild.hcl`.
vm-base:
	@tar=$$(bash .ci/vm.sh) && $(GO) run ./examples/vm/mkbase "$$tar" out/vm-base
