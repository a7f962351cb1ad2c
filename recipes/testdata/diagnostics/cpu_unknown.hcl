hardware { cpu = "haswel" }
