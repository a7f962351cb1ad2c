package builder

import (
	"fmt"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// LockWant is what the recipe r expects of its lock: its hash, its targets, and its root
// specs (with the file:line:col they were written at), which every target's locked set
// must satisfy.
func LockWant(r *recipes.Recipe) lock.Want {
	w := lock.Want{RecipeHash: r.Hash(), Targets: r.Targets()}
	for _, s := range r.RootSpecs() {
		w.Specs = append(w.Specs, lock.Spec{Text: s.Text, Origin: fmt.Sprintf("%s:%d:%d", s.Range.Filename, s.Range.Start.Line, s.Range.Start.Column)})
	}
	return w
}
