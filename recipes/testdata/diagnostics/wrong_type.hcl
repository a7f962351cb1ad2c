image "app" {
  tags = "registry.example/lab/app:1.0"
}
hardware { gpus = "two" }
