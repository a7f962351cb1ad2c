python { version = "3.11"
