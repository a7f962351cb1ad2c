python { version = "3.11" }
channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
python { version = "3.12" }
