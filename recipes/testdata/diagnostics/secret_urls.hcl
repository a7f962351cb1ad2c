channel "private" {
  url     = "https://conda.anaconda.org/t/tk-SECRET-123/private"
  mirrors = ["https://ci:SECRET-pw@mirror.example:8443/private"]
}
