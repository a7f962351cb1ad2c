variable "cuda" {}
hardware {
  cuda = var.cuda
  cpu  = var.cpu
}
