channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
dependencies {
  conda = [
    "numpy >=1.26",
    "scipy >=1.1;2",
    "pandas >=1.5,,<3",
    "matplotlib >=",
    "xarray[version='>=2023'",
  ]
}
