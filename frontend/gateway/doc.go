// Package gateway implements the BuildFunc of the reprobuild-frontend image: it reads the
// recipe and lock from the build context and builds them with the same code as
// builder.BuildKit (builder.CompileTargets, builder.SolveTargets), so both give the same
// image.
//
// It may import builder, frontend, recipes, lock and BuildKit's gateway client packages.
package gateway
