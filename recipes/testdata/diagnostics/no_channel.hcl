python { version = "3.11" }
dependencies { conda = ["numpy", "python >=3.10"] }
