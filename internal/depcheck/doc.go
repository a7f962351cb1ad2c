// Package depcheck holds the tests that keep reprobuild's import layers: cmd -> builder ->
// frontend -> internal/*, with an order inside internal/, and the gateway frontend
// binary free of what only the CLI needs. It has no code of its own.
package depcheck
