reproducibility { level = "bitwize" }
solver { channel_priority = "strictest" }
data "weights" {
  url    = "https://example.org/weights.bin"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  path   = "/data/weights.bin"
  mode   = "copy"
}
