# A runnable Python runtime: noarch python packages from the examples' channel linked for
# the Python 3.11 of a real Debian 12 base image (debootstrap + python3-minimal).
#
# The base is made on your machine (see `make debian-base`, which prints the --var to pass):
#
#   reprobuild image -f examples/debian-python/reprobuild.hcl --var base=oci:/abs/path@sha256:... --output oci:out/debian-python

variable "base" {
  description = "the Debian base image, an OCI layout pinned by digest"
}

reproducibility { level = "bitwise" }

image "debian-python" {
  base = var.base
  tags = ["localhost/reprobuild/debian-python:1"]
}

python {
  version = "3.11"
  source  = "base"
}

channel "examples" {
  url = "../channel"
}

solver {
  exclude_newer = "2026-11-01T00:00:00Z"
}

dependencies {
  conda = ["hello-py >=0.2", "sample_noarch_python"]
}

platform {
  targets = ["linux-64"]
  glibc   = "2.36"
}

runtime {
  entrypoint = ["/opt/env/bin/hello-py"]
  env        = { PYTHONPATH = "/opt/env/lib/python3.11/site-packages" }
}
