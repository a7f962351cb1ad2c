package solver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/reprobuild/reprobuild/internal/conda"
)

// dummyChannel is rattler's small synthetic test channel.
func dummyChannel(t *testing.T) ChannelRecords {
	t.Helper()
	p := "../../testdata/conda/repodata/rattler-test-data/channels/dummy/linux-64/repodata.json"
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := conda.ParseRepodata(data, "https://conda.anaconda.org/dummy", conda.WithSource(p))
	if err != nil {
		t.Fatal(err)
	}
	return ChannelRecords{Name: "dummy", URL: "https://conda.anaconda.org/dummy", Records: rd.Packages}
}

func specs(t *testing.T, texts ...string) []Spec {
	t.Helper()
	var out []Spec
	for i, s := range texts {
		ms, err := conda.ParseMatchSpec(s)
		if err != nil {
			t.Fatalf("spec %q: %v", s, err)
		}
		out = append(out, Spec{MatchSpec: ms, Text: s, Origin: "reprobuild.hcl:" + string(rune('1'+i)) + ",5"})
	}
	return out
}

// TestExplanations checks the explanations for rattler's error snapshots (the same
// problems on the same dummy channel): each must be an UnsatisfiableError that names
// the requested specs with their origins and the link that breaks.
func TestExplanations(t *testing.T) {
	linux := conda.VirtualPackages(conda.VirtualSpec{Platform: conda.Linux64})
	withCuda := conda.VirtualPackages(conda.VirtualSpec{Platform: conda.Linux64, Cuda: "1"})
	cases := []struct {
		name        string
		specs       []string
		constraints []string
		virtual     []conda.PackageRecord
		exclude     int64
		notFound    bool
		mention     []string
	}{
		{name: "solve_with_error", specs: []string{"foobar >=2", "bors >=2"}, virtual: linux,
			mention: []string{`"foobar >=2" (reprobuild.hcl:1,5)`, `"bors >=2" (reprobuild.hcl:2,5)`, "requires bors <2.0", "only one bors can be installed"}},
		{name: "install_non_existent", specs: []string{"asdfasdf"}, virtual: linux, notFound: true,
			mention: []string{`no package in the channels matches "asdfasdf"`}},
		{name: "exclude_newer_error", specs: []string{"foo >=4"}, virtual: linux, exclude: 1639311132000, notFound: true,
			mention: []string{"foo 4.0.2", "exclude-newer cutoff"}},
		{name: "virtual_package_constrains", specs: []string{"cuda-version"}, virtual: withCuda,
			mention: []string{"constrains __cuda >=12.1", "virtual package of the target"}},
		{name: "panic_on_constraint", specs: []string{"xbar"}, constraints: []string{"xfoo ==1"}, virtual: linux,
			mention: []string{"requires xfoo >=2", `excluded by the constraint "xfoo ==1"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := Task{Specs: specs(t, c.specs...), Channels: []ChannelRecords{dummyChannel(t)}, Virtual: c.virtual, ExcludeNewer: c.exclude}
			for _, s := range c.constraints {
				ms, err := conda.ParseMatchSpec(s)
				if err != nil {
					t.Fatal(err)
				}
				task.Constraints = append(task.Constraints, Spec{MatchSpec: ms, Text: s})
			}
			sol, err := Solve(context.Background(), task)
			checkIndexed(t, task, sol, err)
			var ue *UnsatisfiableError
			if !errors.As(err, &ue) {
				t.Fatalf("want UnsatisfiableError, got solution %v, error %v", sol, err)
			}
			msg := ue.Error()
			t.Logf("\n%s", msg)
			if got := len(ue.NotFound) > 0; got != c.notFound {
				t.Errorf("NotFound = %v, want non-empty %v", ue.NotFound, c.notFound)
			}
			for _, m := range c.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("explanation does not mention %q", m)
				}
			}
			if first, _, _ := strings.Cut(msg, "\n"); !strings.HasPrefix(first, "cannot solve: ") {
				t.Errorf("first line %q does not say what failed", first)
			}
		})
	}
}

// TestDummySolutions checks solutions on the dummy channel that rattler's tests
// assert, and the soft meaning of Locked (rattler's locked are hard).
func TestDummySolutions(t *testing.T) {
	linux := conda.VirtualPackages(conda.VirtualSpec{Platform: conda.Linux64})
	dummy := dummyChannel(t)
	find := func(name, version string) conda.PackageRecord {
		for _, r := range dummy.Records {
			if r.Name == name && r.Version == version {
				return r
			}
		}
		t.Fatalf("no %s %s in dummy channel", name, version)
		return conda.PackageRecord{}
	}
	cases := []struct {
		name    string
		specs   []string
		locked  []conda.PackageRecord
		update  []string
		exclude int64
		want    []string
	}{
		{name: "highest version", specs: []string{"bors"}, want: []string{"bors 2.1 bla_1"}},
		{name: "exclude newer picks older", specs: []string{"bors"}, exclude: 1639311132000, want: []string{"bors 1.2.1 bla_1"}},
		// conda maximises all requested versions before requested builds: foo's
		// build 3 constrains bors <2.0, so build 2 is taken and bors gets 2.1.
		{name: "requested versions before requested builds", specs: []string{"foo 3.*", "bors"}, want: []string{"bors 2.1 bla_1", "foo 3.0.2 py36h1af98f8_2"}},
		// rattler rejects issue_717's constraint as unparseable; conda's MatchSpec
		// reads "ray[default,data] >=2.9.0,<3.0.0", and ray is not installed, so the
		// record is installable, as conda says.
		{name: "issue_717 constraint conda can read", specs: []string{"issue_717"}, want: []string{"issue_717 2.1 issue_717"}},
		{name: "locked kept", specs: []string{"bors"}, locked: []conda.PackageRecord{find("bors", "1.1")}, want: []string{"bors 1.1 bla_1"}},
		{name: "locked moves when it must", specs: []string{"bors >=2"}, locked: []conda.PackageRecord{find("bors", "1.0")}, want: []string{"bors 2.1 bla_1"}},
		{name: "update frees a locked name", specs: []string{"bors"}, locked: []conda.PackageRecord{find("bors", "1.1")}, update: []string{"bors"}, want: []string{"bors 2.1 bla_1"}},
		{name: "virtual dependency", specs: []string{"bar"}, want: []string{"bar 1.2.3 unix_py36h1af98f8_2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := Task{Specs: specs(t, c.specs...), Channels: []ChannelRecords{dummy}, Virtual: linux, Locked: c.locked, Update: c.update, ExcludeNewer: c.exclude}
			sol, err := Solve(context.Background(), task)
			checkIndexed(t, task, sol, err)
			if err != nil {
				t.Fatal(err)
			}
			if msg := checkConsistent(task, sol); msg != "" {
				t.Fatal(msg)
			}
			var got []string
			for _, r := range sol.Records {
				got = append(got, r.Name+" "+r.Version+" "+r.Build)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("solution (-want +got):\n%s", d)
			}
		})
	}
}
