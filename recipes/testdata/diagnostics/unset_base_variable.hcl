variable "base" {
  description = "the base image, pinned by digest"
}
image "app" {
  base = var.base
}
python {
  version = "3.11"
  source  = "base"
}
