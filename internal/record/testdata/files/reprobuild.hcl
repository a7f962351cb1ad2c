# A representative research runtime: CPython 3.9 from conda-forge with a mirror, a pinned
# base, baked weights, declared hardware and a licence policy.
reproducibility { level = "bitwise" }

image "study" {
  base   = "debian:bookworm-slim@sha256:b5cf2ec29ee1b6ba8c4a4e6fb6ad0a4ec2cb1e9cb1f5a5ab1f7d0e0f1f2b3c4d"
  tags   = ["registry.example/lab/study:2024.05"]
  labels = { team = "lab" }
}

python {
  version = "3.9"
}

channel "conda-forge" {
  url     = "https://conda.anaconda.org/conda-forge"
  mirrors = ["https://mirror.example/conda-forge"]
}

solver {
  channel_priority = "strict"
  exclude_newer    = "2024-05-16T00:00:00Z"
}

dependencies {
  conda = ["six", "pyparsing", "certifi"]
}

platform {
  targets = ["linux-64"]
  glibc   = "2.28"
}

hardware {
  cpu    = "x86_64_v2"
  memory = "8GiB"
}

data "weights" {
  url    = "https://data.example/weights.bin"
  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  path   = "/data/weights.bin"
}

runtime {
  entrypoint = ["python"]
  env        = { OMP_NUM_THREADS = "4" }
  workdir    = "/work"
}

licenses {
  deny = ["AGPL-3.0-only"]
}
