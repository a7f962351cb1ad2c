package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
	"github.com/reprobuild/reprobuild/internal/pypi/wheel"
)

// memIndex is a provider over in-memory projects: "name" -> "version" -> requirements.
// A version spelled "1.0!sdist" has only an sdist, "1.0!yanked" is yanked.
type memIndex struct {
	projects map[string]map[string][]string
	calls    int
}

var target = wheel.Target{Python: [2]int{3, 12}, Arch: "x86_64", Glibc: [2]int{2, 28}}

func (m *memIndex) Candidates(_ context.Context, name string) ([]Candidate, error) {
	m.calls++
	vs, ok := m.projects[name]
	if !ok {
		return nil, fmt.Errorf("no index has a project %q", name)
	}
	var files []File
	for v := range vs {
		ver, kind, _ := strings.Cut(v, "!")
		switch kind {
		case "sdist":
			files = append(files, File{Filename: name + "-" + ver + ".tar.gz"})
		case "yanked":
			files = append(files, File{Filename: name + "-" + ver + "-py3-none-any.whl", Yanked: true})
		default:
			files = append(files, File{Filename: name + "-" + ver + "-py3-none-any.whl"})
		}
	}
	return Select(name, files, SelectOptions{Ranker: wheel.NewRanker(target), Python: pep440.MustParse("3.12.1")}), nil
}

func (m *memIndex) Requires(_ context.Context, c Candidate) ([]pep508.Requirement, error) {
	for v, reqs := range m.projects[c.Name] {
		ver, _, _ := strings.Cut(v, "!")
		if pep440.MustParse(ver).Equal(c.Version) {
			var out []pep508.Requirement
			for _, s := range reqs {
				r, err := pep508.ParseRequirement(s)
				if err != nil {
					return nil, err
				}
				out = append(out, r)
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("no %s %s", c.Name, c.Version)
}

var env = pep508.Env{"python_version": "3.12", "python_full_version": "3.12.1", "sys_platform": "linux",
	"platform_machine": "x86_64", "os_name": "posix", "platform_system": "Linux", "implementation_name": "cpython",
	"platform_python_implementation": "CPython"}

func roots(t *testing.T, reqs ...string) []Root {
	var out []Root
	for i, s := range reqs {
		r, err := pep508.ParseRequirement(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Root{Req: r, Where: fmt.Sprintf("reprobuild.hcl:%d", 10+i)})
	}
	return out
}

func pins(ps []Pin) string {
	var s []string
	for _, p := range ps {
		x := p.Name + "==" + p.Version.String()
		if len(p.Extras) > 0 {
			x += "[" + strings.Join(p.Extras, ",") + "]"
		}
		s = append(s, x)
	}
	return strings.Join(s, " ")
}

func TestResolve(t *testing.T) {
	idx := &memIndex{projects: map[string]map[string][]string{
		"requests": {"2.30.0": {"idna<4,>=2.5", "urllib3<3,>=1.21.1"}, "2.31.0": {"idna<4,>=2.5", "urllib3<3,>=1.21.1", "PySocks!=1.5.7,>=1.5.6; extra == 'socks'", "chardet; python_version < '3.0'"}},
		"idna":     {"3.6": nil, "4.0": nil, "3.7": nil},
		"urllib3":  {"1.26.18": nil, "2.2.0": nil, "3.0.0a1": nil},
		"pysocks":  {"1.5.7": nil, "1.7.1": nil},
		"a":        {"1.0": {"c>=1"}, "2.0": {"c<1"}},
		"c":        {"1.0": nil, "2.0": nil},
		"pre":      {"1.0a1": nil, "1.0b2": nil},
		"mixed":    {"1.0": nil, "2.0rc1": nil},
		"yank":     {"1.0": nil, "2.0!yanked": nil},
		"src":      {"1.0!sdist": nil, "0.9": nil},
		"x":        {"1.0": nil, "2.0": nil},
		"y":        {"1.0": {"x<2"}},
	}}
	cases := []struct {
		roots    []string
		provided map[string]Provided
		want     string
		err      string
	}{
		{roots: []string{"requests[socks] >=2.31"}, want: "idna==3.7 pysocks==1.7.1 requests==2.31.0[socks] urllib3==2.2.0"},
		{roots: []string{"requests"}, want: "idna==3.7 requests==2.31.0 urllib3==2.2.0"},
		{roots: []string{"requests", "urllib3<2"}, want: "idna==3.7 requests==2.31.0 urllib3==1.26.18"},
		{roots: []string{"a"}, want: "a==1.0 c==2.0"}, // a 2.0 needs c<1: backtrack
		{roots: []string{"pre"}, want: "pre==1.0b2"},
		{roots: []string{"mixed"}, want: "mixed==1.0"},
		{roots: []string{"mixed>=2.0rc1"}, want: "mixed==2.0rc1"},
		{roots: []string{"yank"}, want: "yank==1.0"},
		{roots: []string{"yank==2.0"}, want: "yank==2.0"},
		{roots: []string{"src<1"}, want: "src==0.9"},
		{roots: []string{"requests; python_version < '3'"}, want: ""},
		{roots: []string{"src>=1"}, err: "only source distributions"},
		{roots: []string{"x>=2", "y"}, err: `x: no single version satisfies: x<2 (from y==1.0), x>=2 (reprobuild.hcl:10)`},
		{roots: []string{"idna>=3.7"}, provided: map[string]Provided{"idna": {pep440.MustParse("3.4"), "conda package idna 3.4"}},
			err: "idna 3.4 is provided by conda package idna 3.4 and cannot be installed again from PyPI, but it does not satisfy: idna>=3.7 (reprobuild.hcl:10)"},
		{roots: []string{"requests"}, provided: map[string]Provided{"idna": {pep440.MustParse("3.4"), "conda package idna 3.4"}}, want: "requests==2.31.0 urllib3==2.2.0"},
		{roots: []string{"c>5"}, err: "c: no version satisfies (available: 2.0 1.0): c>5 (reprobuild.hcl:10)"},
		{roots: []string{"nope"}, err: `no index has a project "nope"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.roots, "+"), func(t *testing.T) {
			got, err := Resolve(context.Background(), Input{Roots: roots(t, c.roots...), Env: env, Provided: c.provided}, idx)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := pins(got); s != c.want {
				t.Errorf("pins %q, want %q", s, c.want)
			}
		})
	}
}

func TestResolveSdistOnlyError(t *testing.T) {
	idx := &memIndex{projects: map[string]map[string][]string{"s": {"1.0!sdist": nil}}}
	_, err := Resolve(context.Background(), Input{Roots: roots(t, "s"), Env: env}, idx)
	var se *SdistOnlyError
	if !errors.As(err, &se) || se.Name != "s" {
		t.Fatalf("%v", err)
	}
}

// TestResolveDeep builds a chain with a conflict at the bottom that forces backtracking
// over every level, and checks the step bound turns it into an error, not a hang.
func TestResolveBounded(t *testing.T) {
	p := map[string]map[string][]string{}
	for i := 0; i < 12; i++ {
		p[fmt.Sprintf("p%d", i)] = map[string][]string{}
		for v := 1; v <= 4; v++ {
			p[fmt.Sprintf("p%d", i)][fmt.Sprintf("%d.0", v)] = []string{fmt.Sprintf("p%d", i+1), "z<1"}
		}
	}
	p["p12"] = map[string][]string{"1.0": nil}
	p["z"] = map[string][]string{"1.0": nil}
	_, err := Resolve(context.Background(), Input{Roots: roots(t, "p0"), Env: env, MaxSteps: 500}, &memIndex{projects: p})
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err %v", err)
	}
}

func TestResolvePrefersLocked(t *testing.T) {
	idx := &memIndex{projects: map[string]map[string][]string{
		"a": {"1.0": {"b"}, "2.0": {"b"}},
		"b": {"1.0": nil, "2.0": nil, "3.0": nil},
	}}
	in := Input{Roots: roots(t, "a", "b<3"), Env: env, Prefer: map[string]pep440.Version{"a": pep440.MustParse("1.0"), "b": pep440.MustParse("3.0")}}
	got, err := Resolve(context.Background(), in, idx)
	if err != nil {
		t.Fatal(err)
	}
	// a keeps its locked 1.0; b's locked 3.0 no longer fits b<3, so the newest that does.
	if s := pins(got); s != "a==1.0 b==2.0" {
		t.Errorf("pins %q", s)
	}
}
