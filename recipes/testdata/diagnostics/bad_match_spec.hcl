channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
dependencies {
  conda = [
    "numpy >=1.26",
    "scipy >=1.1;2",
    "Pandas",
    "matplotlib >=3 py_0 extra",
  ]
}
