reproducibility { level = "bitwise" }
data "weights" {
  url  = "https://example.org/weights.bin"
  path = "/data/weights.bin"
}
