platform { targets = ["linux-64", "linux-arm64", "linux-64"] }
