// Package gateway implements the BuildFunc of the reprobuild-frontend image: it reads the
// recipe and lock from the build context, plans them (internal/plan) and builds them with
// the same code as the CLI's BuildKit engine (frontend.CompileTargets, Solve), so both
// give the same image.
//
// It may import frontend, internal/plan, internal/activate, internal/lock,
// internal/version, recipes and BuildKit's gateway client packages; not builder, so the
// frontend image links neither the solver, the channel client nor the package store
// (internal/depcheck checks).
package gateway
