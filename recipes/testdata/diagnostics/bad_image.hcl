image "app" {
  base = "debian@sha256:1234"
  tags = ["registry.example/lab/app:1.0", "bad tag"]
}
channel "cf" {
  url     = "https://conda.anaconda.org/conda-forge"
  mirrors = ["mirror.example/conda-forge", "gopher://mirror.example/cf"]
}
python {
  version        = "3.11"
  implementation = "jython"
}
