package solver

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/reprobuild/reprobuild/internal/conda"
)

func byName(sol *Solution) map[string]conda.PackageRecord {
	m := map[string]conda.PackageRecord{}
	for _, r := range sol.Records {
		m[r.Name] = r
	}
	return m
}

func mustSolve(t *testing.T, task Task) *Solution {
	t.Helper()
	sol, err := Solve(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if msg := checkConsistent(task, sol); msg != "" {
		t.Fatal(msg)
	}
	return sol
}

// TestLockedOnCondaForge checks the lock workflow on real conda-forge records:
// relocking changes nothing, adding a spec only adds, Update moves just what it must.
func TestLockedOnCondaForge(t *testing.T) {
	doc := loadOracle(t)
	base := mustSolve(t, subchannelTask(t, doc, []string{"python=3.9", "openssl<3"}))
	old := byName(base)
	if v := old["openssl"].Version; v[0] != '1' {
		t.Fatalf("setup: openssl %s, want 1.x", v)
	}

	t.Run("relock unchanged", func(t *testing.T) {
		task := subchannelTask(t, doc, []string{"python=3.9", "openssl<3"})
		task.Locked = base.Records
		if d := cmp.Diff(base, mustSolve(t, task)); d != "" {
			t.Errorf("relock changed the solution:\n%s", d)
		}
	})
	t.Run("relaxed spec keeps the lock", func(t *testing.T) {
		task := subchannelTask(t, doc, []string{"python=3.9"})
		task.Locked = base.Records
		if d := cmp.Diff(base, mustSolve(t, task)); d != "" {
			t.Errorf("dropping a constraint moved locked packages:\n%s", d)
		}
	})
	t.Run("adding a spec only adds", func(t *testing.T) {
		task := subchannelTask(t, doc, []string{"python=3.9", "openssl<3", "six"})
		task.Locked = base.Records
		got := byName(mustSolve(t, task))
		for n, r := range old {
			if got[n].Fn != r.Fn {
				t.Errorf("%s moved from %s to %s", n, r.Fn, got[n].Fn)
			}
		}
		if _, ok := got["six"]; !ok {
			t.Error("six not added")
		}
	})
	t.Run("update frees one name", func(t *testing.T) {
		task := subchannelTask(t, doc, []string{"python=3.9"})
		task.Locked = base.Records
		task.Update = []string{"openssl"}
		got := byName(mustSolve(t, task))
		if v := got["openssl"].Version; v[0] != '3' {
			t.Errorf("openssl %s after update, want 3.x", v)
		}
		free := mustSolve(t, subchannelTask(t, doc, []string{"python=3.9"}))
		if got["openssl"].Fn != byName(free)["openssl"].Fn {
			t.Errorf("updated openssl %s, an unlocked solve picks %s", got["openssl"].Fn, byName(free)["openssl"].Fn)
		}
		moved := 0
		for n, r := range old {
			if got[n].Fn != r.Fn {
				moved++
				t.Logf("moved: %s %s -> %s", n, r.Version, got[n].Version)
			}
		}
		if moved > 3 {
			t.Errorf("%d packages moved for one update; only openssl and what pins it should", moved)
		}
	})
}

// TestChannelPriority checks strict, flexible and disabled priority and allow-lists
// on two small channels.
func TestChannelPriority(t *testing.T) {
	rec := func(ch, name, version string, deps ...string) conda.PackageRecord {
		return conda.PackageRecord{Name: name, Version: version, Build: "0", Subdir: "noarch", Depends: deps, Channel: ch, Fn: name + "-" + version + "-0.conda"}
	}
	high := ChannelRecords{Name: "high", Records: []conda.PackageRecord{rec("high", "a", "1.0"), rec("high", "b", "1.0")}}
	low := ChannelRecords{Name: "low", Records: []conda.PackageRecord{rec("low", "a", "2.0"), rec("low", "c", "1.0", "a >=2")}}
	cases := []struct {
		name     string
		priority string
		allow    []string
		specs    []string
		want     []string // channel::name-version
		unsat    bool
	}{
		{name: "strict hides lower channel's a", priority: "", specs: []string{"a"}, want: []string{"high::a-1.0"}},
		{name: "strict makes c unsatisfiable", priority: PriorityStrict, specs: []string{"c"}, unsat: true},
		{name: "flexible prefers high but may fall back", priority: PriorityFlexible, specs: []string{"c"}, want: []string{"low::a-2.0", "low::c-1.0"}},
		{name: "flexible prefers the higher channel", priority: PriorityFlexible, specs: []string{"a"}, want: []string{"high::a-1.0"}},
		{name: "disabled takes the highest version", priority: PriorityDisabled, specs: []string{"a"}, want: []string{"low::a-2.0"}},
		{name: "allow-list hides a from high", priority: PriorityStrict, allow: []string{"b*"}, specs: []string{"a"}, want: []string{"low::a-2.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := high
			h.Allow = c.allow
			task := Task{Specs: specs(t, c.specs...), Channels: []ChannelRecords{h, low}, ChannelPriority: c.priority}
			sol, err := Solve(context.Background(), task)
			if c.unsat {
				if _, ok := err.(*UnsatisfiableError); !ok {
					t.Fatalf("want UnsatisfiableError, got %v %v", sol, err)
				}
				t.Logf("\n%v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range sol.Records {
				got = append(got, r.Channel+"::"+r.Name+"-"+r.Version)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestInvalidPriority(t *testing.T) {
	_, err := Solve(context.Background(), Task{ChannelPriority: "sometimes"})
	if _, ok := err.(*TaskError); !ok {
		t.Fatalf("want TaskError, got %v", err)
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	task := subchannelTask(t, loadOracle(t), []string{"python=3.9"})
	if _, err := Solve(ctx, task); err == nil {
		// A solve may finish before the first cancellation check; it must then be
		// a real solution.
		t.Log("solve finished before noticing cancellation")
	}
}
