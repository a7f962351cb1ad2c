data "w" {
  url    = "https://example.org/w"
  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  path   = "/data/w"
}
data "w" {
  url  = "https://example.org/w2"
  path = "/data/w2"
}
data "v" {
  url    = "example.org/v"
  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  path   = "/data/w"
}
