// Package builder is the public orchestration API behind the CLI: parse a recipe, lock it,
// build an image with an engine, export and inspect. Commands in cmd/reprobuild only read
// flags, call one builder function and print.
//
// Both engines build from the same per-target plans (internal/plan): the embedded engine
// executes them (BuildFromLock), the BuildKit engine compiles them with
// frontend.CompileTargets and solves them on buildkitd (BuildKit, ImageBuildKit, LLB).
// Errors name options and files, never CLI flags (FrozenLockError, OutputError, ...);
// types from internal packages that the API hands out have exported names (types.go).
//
// It may import frontend, frontend/gateway, recipes and every internal package; nothing
// but cmd imports it.
package builder
