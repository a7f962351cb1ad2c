// Package gateway serves the frontend compiler through BuildKit's gateway API: it turns
// compiled builds into a (multi-platform) gateway result, and implements the BuildFunc of
// the reprobuild-frontend image, which reads the recipe and lock from the build context.
//
// It may import frontend, recipes, lock and BuildKit's gateway client packages.
package gateway
