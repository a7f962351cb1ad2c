# A recipe with nothing to report: every threat the audit knows is mitigated.
reproducibility { level = "bitwise" }

image "clean" {
  tags = ["registry.example/lab/clean:1.0"]
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
  conda = ["libgomp", "ca-certificates"]
}

platform {
  targets = ["linux-64"]
}
