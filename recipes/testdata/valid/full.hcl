# A recipe that uses every block.
reproducibility { level = "bitwise" }

variable "cuda" { default = "12.4" }

image "analysis" {
  base   = "oci:../base@sha256:6d0c1f3e0fb4c2a1e9d8d1b6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e"
  tags   = ["registry.example/lab/analysis:1.0"]
  labels = { team = "lab", project = "x" }
}

python {
  version        = "3.11"
  implementation = "cpython"
}

channel "conda-forge" {
  url      = "https://conda.anaconda.org/conda-forge/"
  mirrors  = ["https://mirror.example/conda-forge"]
  packages = ["numpy", "scipy*"]
}

channel "local" {
  url = "./channels/../channels/local"
}

solver {
  channel_priority = "flexible"
  exclude_newer    = "2026-11-01T02:00:00+02:00"
}

dependencies {
  conda = ["numpy >=1.26", "scipy", "conda-forge::pandas   2.*"]
}

platform {
  targets = ["linux-64", "linux-aarch64"]
  glibc   = "2.28"
}

hardware {
  cuda   = var.cuda
  cpu    = "x86_64_v3"
  gpus   = 1
  memory = "32GiB"
}

data "weights" {
  url    = "https://example.org/w.bin"
  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  path   = "/data/w.bin"
}

runtime {
  entrypoint = ["python"]
  cmd        = []
  env        = { OMP_NUM_THREADS = "4" }
  workdir    = "/work"
  user       = "1000:1000"
}

licenses {
  allow = ["BSD-3-Clause", "MIT"]
  deny  = ["GPL-3.0-only"]
}
