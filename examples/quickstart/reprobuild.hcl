# The quickstart: a small conda environment locked from the examples' file:// channel and
# built into a reproducible, runnable OCI image on a tiny busybox base, with no network and
# no daemon.
#
#   reprobuild lock  -f examples/quickstart/reprobuild.hcl
#   reprobuild image -f examples/quickstart/reprobuild.hcl --offline --output oci:out/quickstart
#
# For a Python interpreter see examples/debian-python; for several platforms in one image
# index see examples/multiarch.

reproducibility { level = "bitwise" }

image "quickstart" {
  # A committed OCI layout (Debian's busybox-static; see examples/bases/README.md),
  # pinned by digest like any base.
  base   = "oci:../bases/busybox@sha256:b62d72d4c45fe80379be0be099e66f6ff223df2e965164c002afe26cd277619c"
  tags   = ["localhost/reprobuild/quickstart:1"]
  labels = { "org.opencontainers.image.title" = "reprobuild quickstart" }
}

channel "examples" {
  url = "../channel"
}

solver {
  channel_priority = "strict"
  exclude_newer    = "2026-11-01T00:00:00Z"
}

dependencies {
  conda = [
    "hello-reprobuild >=1.0",
    "small-executable 1.0.*",
    "test-package",
  ]
}

platform {
  targets = ["linux-64"]
}

runtime {
  cmd     = ["/opt/env/bin/hello-reprobuild"]
  env     = { LANG = "C.UTF-8" }
  workdir = "/work"
}
