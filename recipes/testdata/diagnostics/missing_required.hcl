reproducibility {}
channel "cf" {
  mirrors = ["https://mirror.example/cf"]
}
image {
  prefix = "/opt/env"
}
