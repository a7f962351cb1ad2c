// Package builder is the public orchestration API behind the CLI: parse a recipe, lock it,
// build an image with an engine, export and inspect. Commands in cmd/reprobuild only read
// flags, call one builder function and print.
package builder
