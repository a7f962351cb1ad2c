platform { targets = ["linux-64", "osx-64"] }
hardware {
  cpu  = "neoverse_v1"
  cuda = "12.4"
}
