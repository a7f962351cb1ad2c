channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
dependecies {
  conda = ["numpy"]
}
