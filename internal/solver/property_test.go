package solver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/reprobuild/reprobuild/internal/conda"
)

// genRepo makes a small random repository: a few names with a few versions and
// builds, dependencies and constraints with version ranges between them.
func genRepo(r *rand.Rand) ([]conda.PackageRecord, []string) {
	names := []string{"a", "b", "c", "d", "e"}[:2+r.IntN(4)]
	ops := []string{">=", "<", "==", "!="}
	var recs []conda.PackageRecord
	for _, n := range names {
		for v := 1; v <= 1+r.IntN(3); v++ {
			for b := 0; b < 1+r.IntN(2); b++ {
				rec := conda.PackageRecord{Name: n, Version: fmt.Sprint(v), Build: fmt.Sprintf("b%d", b), BuildNumber: int64(b), Subdir: "linux-64", Timestamp: int64(1000 + r.IntN(5))}
				rec.Fn = fmt.Sprintf("%s-%s-%s.conda", n, rec.Version, rec.Build)
				for _, d := range names {
					if d == n {
						continue
					}
					switch r.IntN(6) {
					case 0, 1:
						rec.Depends = append(rec.Depends, fmt.Sprintf("%s %s%d", d, ops[r.IntN(4)], 1+r.IntN(3)))
					case 2:
						rec.Depends = append(rec.Depends, d)
					case 3:
						rec.Constrains = append(rec.Constrains, fmt.Sprintf("%s %s%d", d, ops[r.IntN(4)], 1+r.IntN(3)))
					}
				}
				recs = append(recs, rec)
			}
		}
	}
	var roots []string
	for i := 0; i < 1+r.IntN(3); i++ {
		n := names[r.IntN(len(names))]
		if r.IntN(2) == 0 {
			roots = append(roots, n)
		} else {
			roots = append(roots, fmt.Sprintf("%s %s%d", n, ops[r.IntN(4)], 1+r.IntN(3)))
		}
	}
	return recs, roots
}

// bruteForce reports whether any choice of at most one record per name is
// consistent, by trying them all.
func bruteForce(task Task) bool {
	byName := map[string][]conda.PackageRecord{}
	var names []string
	for _, r := range task.Channels[0].Records {
		if _, ok := byName[r.Name]; !ok {
			names = append(names, r.Name)
		}
		byName[r.Name] = append(byName[r.Name], r)
	}
	choice := make([]int, len(names)) // 0 = not installed, i = record i-1
	for {
		var sol Solution
		for i, n := range names {
			if choice[i] > 0 {
				sol.Records = append(sol.Records, byName[n][choice[i]-1])
			}
		}
		if checkConsistent(task, &sol) == "" {
			return true
		}
		i := 0
		for ; i < len(names); i++ {
			choice[i]++
			if choice[i] <= len(byName[names[i]]) {
				break
			}
			choice[i] = 0
		}
		if i == len(names) {
			return false
		}
	}
}

// TestPropertyRandomRepos checks on generated repositories that every solution is
// consistent, every unsat verdict agrees with brute force, and shuffling the input
// records does not change the answer.
func TestPropertyRandomRepos(t *testing.T) {
	var sat, unsat int
	for seed := uint64(1); seed <= 400; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		recs, roots := genRepo(r)
		var sp []Spec
		for _, s := range roots {
			sp = append(sp, Spec{MatchSpec: conda.MustParseMatchSpec(s), Text: s})
		}
		task := Task{Specs: sp, Channels: []ChannelRecords{{Name: "gen", Records: recs}}}
		sol, err := Solve(context.Background(), task)
		checkIndexed(t, task, sol, err)
		var ue *UnsatisfiableError
		switch {
		case err == nil:
			sat++
			if msg := checkConsistent(task, sol); msg != "" {
				t.Fatalf("seed %d: inconsistent solution: %s\nroots %v\nrepo %+v", seed, msg, roots, recs)
			}
		case errors.As(err, &ue):
			unsat++
			if bruteForce(task) {
				t.Fatalf("seed %d: solver says unsat, brute force finds a solution\nroots %v\nrepo %+v", seed, roots, recs)
			}
			if ue.Error() == "" || len(ue.Specs) == 0 {
				t.Fatalf("seed %d: empty explanation", seed)
			}
		default:
			t.Fatalf("seed %d: %v", seed, err)
		}
		shuffled := append([]conda.PackageRecord(nil), recs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		task2 := task
		task2.Channels = []ChannelRecords{{Name: "gen", Records: shuffled}}
		sol2, err2 := Solve(context.Background(), task2)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("seed %d: verdict depends on record order", seed)
		}
		if err == nil {
			if d := cmp.Diff(sol, sol2); d != "" {
				t.Fatalf("seed %d: solution depends on record order:\n%s", seed, d)
			}
		} else if err.Error() != err2.Error() {
			t.Fatalf("seed %d: explanation depends on record order:\n%v\n---\n%v", seed, err, err2)
		}
	}
	t.Logf("400 generated repositories: %d solved (all consistent), %d unsat (all confirmed by brute force)", sat, unsat)
	if sat == 0 || unsat == 0 {
		t.Errorf("generator is unbalanced: %d sat, %d unsat", sat, unsat)
	}
}

// FuzzSolve solves repositories generated from the fuzzer's seed: a solution must be
// consistent and an unsat verdict must agree with brute force; nothing may panic.
func FuzzSolve(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1000} {
		f.Add(s, uint64(7))
	}
	f.Fuzz(func(t *testing.T, s1, s2 uint64) {
		recs, roots := genRepo(rand.New(rand.NewPCG(s1, s2)))
		var sp []Spec
		for _, s := range roots {
			sp = append(sp, Spec{MatchSpec: conda.MustParseMatchSpec(s), Text: s})
		}
		task := Task{Specs: sp, Channels: []ChannelRecords{{Name: "gen", Records: recs}}}
		sol, err := Solve(context.Background(), task)
		checkIndexed(t, task, sol, err)
		if err == nil {
			if msg := checkConsistent(task, sol); msg != "" {
				t.Fatalf("inconsistent: %s", msg)
			}
			return
		}
		if bruteForce(task) {
			t.Fatalf("unsat verdict, but brute force finds a solution: %v", err)
		}
	})
}
