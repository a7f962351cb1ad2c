image "app" { prefix = "opt/env" }
python {
  version = "three"
  source  = "base"
}
hardware {
  cuda   = "12.x"
  memory = "lots"
  gpus   = -1
}
data "w" {
  url    = "https://example.org/w"
  sha256 = "ABC"
  path   = "data/w"
}
runtime { workdir = "work" }
