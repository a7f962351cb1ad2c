channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
channel "conda-forge" { url = "https://mirror.example/conda-forge" }
channel "local" { url = "https://conda.anaconda.org/conda-forge/" }
