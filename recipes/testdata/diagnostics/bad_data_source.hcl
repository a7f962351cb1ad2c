data "a" {
  url    = "https://example.org/a"
  path   = "/data/a"
  mode   = "mount"
  source = "s3://bucket/a"
}
data "b" {
  url    = "https://example.org/b"
  path   = "/data/b"
  mode   = "mount"
  source = "pvc:Weights_V3"
}
data "c" {
  url    = "https://example.org/c"
  path   = "/data/c"
  mode   = "mount"
  source = "nfs:server:relative/export"
}
data "d" {
  url    = "https://example.org/d"
  path   = "/data/d"
  source = "host:/srv/d"
}
hardware {
  cpus = -2
}
