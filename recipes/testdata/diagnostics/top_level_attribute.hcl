channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
channel_priority = "strict"
exclude_newr     = "2026-11-01T00:00:00Z"
