reproducibility { level = "pinned" }
channel "c" { url = "https://example.org/c" }
data "record" {
  url  = "https://example.org/r.json"
  path = "/opt/reprobuild/runtime.json"
}
data "inprefix" {
  url  = "https://example.org/libz.so"
  path = "/opt/env/lib/libz.so"
}
data "meta" {
  url  = "https://example.org/m.json"
  path = "/opt/env/conda-meta/zlib-1.3-0.json"
}
data "above" {
  url  = "https://example.org/opt"
  path = "/opt"
}
data "file" {
  url  = "https://example.org/a"
  path = "/data/a"
}
data "under-file" {
  url  = "https://example.org/b"
  path = "/data/a/b"
}
