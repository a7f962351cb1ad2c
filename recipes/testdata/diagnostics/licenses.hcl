licenses {
  allow = ["MIT", "GPL-3.0-only"]
  deny  = ["GPL-3.0-only"]
}
