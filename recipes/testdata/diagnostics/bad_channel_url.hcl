channel "a" { url = "ftp://example.org/conda" }
channel "b" { url = "https://user:secret@example.org/conda" }
channel "c" {
  url      = "https://example.org/c"
  packages = ["NumPy"]
}
