package catalog

import (
	"sort"
	"strings"

	"github.com/reprobuild/reprobuild/internal/lock"
)

// PackageChange is one package that differs between two locks. Old is "" for an added
// package and New is "" for a removed one.
type PackageChange struct {
	Platform string `json:"platform"`
	Name     string `json:"name"`
	Old      string `json:"old,omitempty"`
	New      string `json:"new,omitempty"`
}

// DiffLine is one line of a line diff: Op is ' ', '+' or '-'.
type DiffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// Diff is what changed from one version to the next.
type Diff struct {
	From    int64           `json:"from"`
	To      int64           `json:"to"`
	Added   []PackageChange `json:"added"`
	Removed []PackageChange `json:"removed"`
	Changed []PackageChange `json:"changed"`
	Recipe  []DiffLine      `json:"recipe"`
	// Note says why the package lists may be incomplete (a version without a lock).
	Note string `json:"note,omitempty"`
}

func lockPackages(text string) (map[string]string, bool) {
	out := map[string]string{}
	if strings.TrimSpace(text) == "" {
		return out, false
	}
	l, err := lock.Parse([]byte(text))
	if err != nil {
		return out, false
	}
	for _, t := range l.Targets {
		for _, p := range t.Packages {
			out[t.Platform+"\x00"+p.Name] = p.Version + " " + p.Build
		}
	}
	return out, true
}

// DiffVersions compares two versions' locks (packages added, removed, changed, per
// platform) and recipes (a line diff). from may be nil for a first version.
func DiffVersions(from, to *Version) *Diff {
	d := &Diff{To: to.Number, Added: []PackageChange{}, Removed: []PackageChange{}, Changed: []PackageChange{}}
	oldRecipe, oldLock := "", ""
	if from != nil {
		d.From = from.Number
		oldRecipe, oldLock = from.Recipe, from.Lock
	}
	a, okA := lockPackages(oldLock)
	b, okB := lockPackages(to.Lock)
	switch {
	case from != nil && !okA:
		d.Note = "the previous version has no lock (its build failed before locking)"
	case !okB:
		d.Note = "this version has no lock yet"
	}
	split := func(k string) (string, string) { p, n, _ := strings.Cut(k, "\x00"); return p, n }
	for k, nv := range b {
		p, n := split(k)
		if ov, ok := a[k]; !ok {
			d.Added = append(d.Added, PackageChange{Platform: p, Name: n, New: nv})
		} else if ov != nv {
			d.Changed = append(d.Changed, PackageChange{Platform: p, Name: n, Old: ov, New: nv})
		}
	}
	for k, ov := range a {
		if _, ok := b[k]; !ok {
			p, n := split(k)
			d.Removed = append(d.Removed, PackageChange{Platform: p, Name: n, Old: ov})
		}
	}
	for _, l := range [][]PackageChange{d.Added, d.Removed, d.Changed} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Platform != l[j].Platform {
				return l[i].Platform < l[j].Platform
			}
			return l[i].Name < l[j].Name
		})
	}
	d.Recipe = lineDiff(splitLines(oldRecipe), splitLines(to.Recipe))
	return d
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// lineDiff is a longest-common-subsequence line diff; recipes are small.
func lineDiff(a, b []string) []DiffLine {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	out := []DiffLine{}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, DiffLine{" ", a[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, DiffLine{"-", a[i]})
			i++
		default:
			out = append(out, DiffLine{"+", b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, DiffLine{"-", a[i]})
	}
	for ; j < m; j++ {
		out = append(out, DiffLine{"+", b[j]})
	}
	return out
}
