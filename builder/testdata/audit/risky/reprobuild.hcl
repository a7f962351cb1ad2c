# A recipe built to trip the audit: each block carries at least one threat.
reproducibility { level = "pinned" }

image "risky" {
  base = "debian:bookworm-slim"
}

channel "conda-forge" {
  url = "http://conda.anaconda.org/conda-forge"
}

solver {
  channel_priority = "flexible"
}

dependencies {
  conda = ["libgomp", "ca-certificates"]
}

hardware {
  gpus = 1
}

data "corpus" {
  url  = "https://example.org/corpus.tar"
  path = "/data/corpus"
  mode = "mount"
}

licenses {
  deny = ["GPL-3.0-only"]
}
