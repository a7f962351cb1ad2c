channel "c" { url = "https://example.org/c" }
image "x" {
  base   = "scratch"
  labels = {
    "io.reprobuild.recipe.sha256" = "forged"
    "org.example.team"            = "ok"
  }
}
runtime {
  user = "root; rm -rf /"
  env = {
    "A=B"  = "1"
    ""     = "2"
    GOOD   = "3"
  }
}
