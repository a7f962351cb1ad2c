channel "conda-forge" {
  url     = "https://conda.anaconda.org/conda-forge"
  mirror  = ["https://mirror.example/conda-forge"]
}
