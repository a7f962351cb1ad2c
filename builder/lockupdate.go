package builder

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// UnknownUpdateError says `lock --update NAME` named a package neither the lock nor
// the recipe has, which would otherwise silently free nothing.
type UnknownUpdateError struct {
	Names []string
	Lock  string
}

func (e *UnknownUpdateError) Error() string {
	return fmt.Sprintf("--update %s: no such package in %s or in the recipe's dependencies (check the spelling; `reprobuild show` lists the locked packages)",
		strings.Join(e.Names, ", "), e.Lock)
}

// checkUpdateNames refuses update names that match no locked package and no root spec.
func checkUpdateNames(r *recipes.Recipe, prev *lock.Lock, update []string) error {
	known := map[string]bool{}
	if prev != nil {
		for _, t := range prev.Targets {
			for _, p := range t.Packages {
				known[p.Name] = true
			}
		}
	}
	for _, s := range r.RootSpecs() {
		if ms, err := conda.ParseMatchSpec(s.Text); err == nil {
			known[ms.Name] = true
		}
	}
	var unknown []string
	for _, n := range update {
		if !known[strings.ToLower(n)] && !slices.Contains(unknown, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return &UnknownUpdateError{Names: unknown, Lock: LockPath(r)}
	}
	return nil
}
