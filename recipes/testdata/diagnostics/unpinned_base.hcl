reproducibility { level = "bitwise" }
image "app" { base = "debian:bookworm-slim" }
