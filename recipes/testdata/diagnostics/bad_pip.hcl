channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
pypi "pypi" { url = "https://user:secret@pypi.example/simple" }
pypi "pypi" { url = "https://pypi.org/simple" }
pypi "private" {
  url      = "ftp://example.org/simple"
  packages = ["ok-name", "not a name"]
}
dependencies {
  conda = ["numpy"]
  pip   = ["requests >=2.31", "torch ==2.4.*.1", "pkg @ https://example.org/pkg.whl"]
}
