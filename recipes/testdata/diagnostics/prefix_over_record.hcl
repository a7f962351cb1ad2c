channel "c" { url = "https://example.org/c" }
image "x" {
  base   = "scratch"
  prefix = "/opt/reprobuild/env"
}
