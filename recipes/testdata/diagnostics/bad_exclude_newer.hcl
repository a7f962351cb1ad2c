solver {
  channel_priority = "strict"
  exclude_newer    = "2026-11-01 00:00"
}
