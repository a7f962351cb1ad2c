# Several target platforms in one lock and one OCI image index (linux/amd64 and
# linux/arm64), on an empty base, with a data set mounted at run time.

# "pinned": every package is pinned by hash, but the mounted data below is not.
reproducibility { level = "pinned" }

image "multiarch" {
  base = "scratch"
  tags = ["localhost/reprobuild/multiarch:1"]
}

channel "examples" {
  url = "../channel"
}

solver {
  exclude_newer = "2026-11-01T00:00:00Z"
}

dependencies {
  conda = ["hello-reprobuild", "_r-mutex"]
}

platform {
  targets = ["linux-64", "linux-aarch64"]
}

hardware {
  memory = "1GiB"
}

data "scratch" {
  url    = "s3://lab-bucket/scratch"
  path   = "/scratch"
  mode   = "mount"
  source = "pvc:lab-scratch" # where launch --to kubernetes mounts it from
}
