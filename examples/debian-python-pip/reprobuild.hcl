# The Debian python example plus PyPI packages: conda packages from the examples' channel
# and wheels from a PyPI index (here the static one in ../pypi), locked together and
# installed into the same environment, on the Python 3.11 of a Debian 12 base image.
#
#   reprobuild image -f examples/debian-python-pip/reprobuild.hcl --var base=oci:/abs/path@sha256:... --output oci:out/debian-python-pip

variable "base" {
  description = "the Debian base image, an OCI layout pinned by digest"
}

reproducibility { level = "bitwise" }

image "debian-python-pip" {
  base = var.base
  tags = ["localhost/reprobuild/debian-python-pip:1"]
}

python {
  version = "3.11"
  source  = "base"
}

channel "examples" {
  url = "../channel"
}

pypi "examples" {
  url = "../pypi"
}

solver {
  exclude_newer = "2026-11-01T00:00:00Z"
}

dependencies {
  conda = ["hello-py >=0.2", "sample_noarch_python"]
  pip   = ["hello-pypi >=1.0"]
}

platform {
  targets = ["linux-64"]
  glibc   = "2.36"
}

runtime {
  entrypoint = ["/opt/env/bin/hello-pypi"]
  env        = { PYTHONPATH = "/opt/env/lib/python3.11/site-packages" }
}
