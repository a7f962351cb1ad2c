channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
dependencies {
  conda = ["numpy"]
  pip   = ["requests==2.31.0"]
}
