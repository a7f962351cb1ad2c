package resolve

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/wheel"
)

// File is a distribution file as an index lists it.
type File struct {
	Filename       string
	URL            string
	SHA256         string
	RequiresPython string
	Yanked         bool
	UploadTime     time.Time
	Index          string
}

// Candidate is one version of a project with the file chosen for the target.
type Candidate struct {
	Name    string // normalised
	Version pep440.Version
	File    File
	// SdistOnly marks a version that has files but no wheel for the target.
	SdistOnly bool
	// Yanked versions are offered only to "==" / "===" pins (PEP 592).
	Yanked bool
}

// SelectOptions say what a file must suit.
type SelectOptions struct {
	Ranker wheel.Ranker
	Python pep440.Version // the locked interpreter's full version
	// ExcludeNewer drops files uploaded after it (zero: no limit). A file whose index
	// gives no upload time (PEP 503 HTML, a static or vendored index) is kept: there
	// is nothing to compare, and such an index changes only when its owner changes it.
	ExcludeNewer time.Time
}

// Select groups a project's files by version and picks, for each, the wheel whose tags
// rank best for the target; versions are returned newest first.
func Select(name string, files []File, o SelectOptions) []Candidate {
	type best struct {
		c    Candidate
		rank int
	}
	byVer := map[string]*best{}
	var order []string
	for _, f := range files {
		if !o.ExcludeNewer.IsZero() && !f.UploadTime.IsZero() && f.UploadTime.After(o.ExcludeNewer) {
			continue
		}
		if f.RequiresPython != "" {
			rp, err := pep440.ParseSpecifiers(f.RequiresPython)
			if err == nil && !rp.Contains(o.Python) {
				continue
			}
		}
		var v pep440.Version
		rank := -1
		isWheel := wheel.IsWheel(f.Filename)
		if isWheel {
			fn, err := wheel.ParseFilename(f.Filename)
			if err != nil || fn.Name != name {
				continue
			}
			v = fn.Version
			rank = o.Ranker.Rank(fn.Tags)
		} else {
			var ok bool
			if v, ok = sdistVersion(name, f.Filename); !ok {
				continue
			}
		}
		key := v.String()
		b, ok := byVer[key]
		if !ok {
			b = &best{c: Candidate{Name: name, Version: v, SdistOnly: true, Yanked: true}, rank: -1}
			byVer[key] = b
			order = append(order, key)
		}
		if !f.Yanked {
			b.c.Yanked = false
		}
		if rank < 0 {
			continue
		}
		// Prefer a non-yanked file, then the better tag, then the smaller name.
		better := b.c.SdistOnly || b.c.File.Yanked && !f.Yanked ||
			b.c.File.Yanked == f.Yanked && (rank < b.rank || rank == b.rank && f.Filename < b.c.File.Filename)
		if better {
			b.c.File, b.rank, b.c.SdistOnly = f, rank, false
		}
	}
	out := make([]Candidate, 0, len(order))
	for _, k := range order {
		out = append(out, byVer[k].c)
	}
	slices.SortFunc(out, func(a, b Candidate) int { return -pep440.Compare(a.Version, b.Version) })
	return out
}

var sdistExts = []string{".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar"}

// sdistVersion reads "name-version.tar.gz" and the like.
func sdistVersion(name, fn string) (pep440.Version, bool) {
	for _, ext := range sdistExts {
		if base, ok := strings.CutSuffix(fn, ext); ok {
			i := strings.LastIndexByte(base, '-')
			if i <= 0 {
				return pep440.Version{}, false
			}
			if norm(base[:i]) != name {
				return pep440.Version{}, false
			}
			v, err := pep440.Parse(base[i+1:])
			return v, err == nil
		}
	}
	return pep440.Version{}, false
}

func norm(s string) string {
	return strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(s))
}

// SdistOnlyError is a requirement that only sdists can satisfy.
type SdistOnlyError struct {
	Name     string
	Versions []string
	Where    string
}

func (e *SdistOnlyError) Error() string {
	return fmt.Sprintf("%s (required by %s) has only source distributions for this target (versions %s); building sdists is not reproducible, so reprobuild installs wheels only: pin a version that has a wheel, or use a conda package",
		e.Name, e.Where, strings.Join(e.Versions, ", "))
}
