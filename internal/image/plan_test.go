package image

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanLayersExamples(t *testing.T) {
	tests := []struct {
		name   string
		pkgs   []Sized
		budget int
		want   [][]string
	}{
		{name: "empty", pkgs: nil, budget: 4, want: [][]string{}},
		{
			name:   "fewer packages than alone slots",
			pkgs:   []Sized{{"b", 1}, {"a", 2}},
			budget: 16,
			want:   [][]string{{"a"}, {"b"}},
		},
		{
			name:   "budget 1 puts everything together",
			pkgs:   []Sized{{"c", 5}, {"a", 1}, {"b", 9}},
			budget: 1,
			want:   [][]string{{"a", "b", "c"}},
		},
		{
			name:   "duplicate name counts once with its larger size",
			pkgs:   []Sized{{"x", 1}, {"x", 100}, {"y", 50}, {"z", 10}},
			budget: 2,
			want:   [][]string{{"x"}, {"y", "z"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanLayers(tt.pkgs, tt.budget)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func groupKeys(groups [][]string) map[string]bool {
	m := make(map[string]bool, len(groups))
	for _, g := range groups {
		m[strings.Join(g, ",")] = true
	}
	return m
}

// changed counts groups of b that are not in a: the layers a rebuild must create.
func changed(a, b [][]string) int {
	ka, n := groupKeys(a), 0
	for k := range groupKeys(b) {
		if !ka[k] {
			n++
		}
	}
	return n
}

func randomPkgs(r *rand.Rand, n int) []Sized {
	pkgs := make([]Sized, n)
	for i := range pkgs {
		// Sizes spread over five orders of magnitude, as in a real environment.
		pkgs[i] = Sized{Name: fmt.Sprintf("pkg-%d-%d", i, r.Intn(1e6)), Size: int64(r.ExpFloat64() * 1e6)}
	}
	return pkgs
}

// TestPlanLayersProperties checks, over random package sets: the budget holds, every
// package is in exactly one group, input order does not matter, the biggest packages are
// alone, and adding or removing one package changes at most two groups either way.
func TestPlanLayersProperties(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for iter := 0; iter < 300; iter++ {
		n := r.Intn(200)
		budget := 1 + r.Intn(20)
		pkgs := randomPkgs(r, n)
		plan := PlanLayers(pkgs, budget)

		if len(plan) > budget {
			t.Fatalf("iter %d: %d groups for budget %d", iter, len(plan), budget)
		}
		var all []string
		for _, g := range plan {
			all = append(all, g...)
		}
		sort.Strings(all)
		var names []string
		for _, p := range pkgs {
			names = append(names, p.Name)
		}
		sort.Strings(names)
		if diff := cmp.Diff(names, all); diff != "" {
			t.Fatalf("iter %d: packages not each in one group (-want +got):\n%s", iter, diff)
		}

		shuffled := append([]Sized(nil), pkgs...)
		r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if diff := cmp.Diff(plan, PlanLayers(shuffled, budget)); diff != "" {
			t.Fatalf("iter %d: plan depends on input order:\n%s", iter, diff)
		}

		if n > 0 && budget >= 2 {
			biggest := pkgs[0]
			for _, p := range pkgs {
				if p.Size > biggest.Size || (p.Size == biggest.Size && p.Name < biggest.Name) {
					biggest = p
				}
			}
			if !groupKeys(plan)[biggest.Name] {
				t.Fatalf("iter %d: biggest package %s is not alone", iter, biggest.Name)
			}
		}

		// Add one package.
		added := append(append([]Sized(nil), pkgs...), Sized{Name: fmt.Sprintf("new-%d", iter), Size: int64(r.ExpFloat64() * 1e6)})
		after := PlanLayers(added, budget)
		if c, d := changed(plan, after), changed(after, plan); c > 2 || d > 2 {
			t.Fatalf("iter %d: adding one package created %d and dropped %d groups", iter, c, d)
		}
		// Remove one package.
		if n > 0 {
			i := r.Intn(n)
			removed := append(append([]Sized(nil), pkgs[:i]...), pkgs[i+1:]...)
			after := PlanLayers(removed, budget)
			if c, d := changed(plan, after), changed(after, plan); c > 2 || d > 2 {
				t.Fatalf("iter %d: removing %s created %d and dropped %d groups", iter, pkgs[i].Name, c, d)
			}
		}
	}
}

func TestPlanLayersDefaultBudget(t *testing.T) {
	plan := PlanLayers(randomPkgs(rand.New(rand.NewSource(3)), 500), 0)
	if len(plan) != DefaultLayerBudget {
		t.Errorf("500 packages with budget 0 gave %d groups, want %d", len(plan), DefaultLayerBudget)
	}
}
