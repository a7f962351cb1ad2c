package wheel

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
)

// Tag is one interpreter-abi-platform triple.
type Tag struct{ Interpreter, ABI, Platform string }

func (t Tag) String() string { return t.Interpreter + "-" + t.ABI + "-" + t.Platform }

// Filename is a parsed wheel file name.
type Filename struct {
	Name       string // PEP 503 normalised
	Version    pep440.Version
	BuildNum   int
	BuildTag   string // the rest of the build tag after its number; "" with HasBuild false
	HasBuild   bool
	Tags       []Tag // the expanded tag set, in file name order
	RawVersion string
}

var (
	wheelNameRE = regexp.MustCompile(`^[\p{L}\p{N}_.]+$`)
	buildRE     = regexp.MustCompile(`^([0-9]+)(.*)$`)
	identRE     = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_]*$`)
)

// ParseFilename parses "name-version(-build)?-python-abi-platform.whl".
func ParseFilename(fn string) (Filename, error) {
	bad := func(why string) (Filename, error) {
		return Filename{}, fmt.Errorf("invalid wheel file name %q: %s", fn, why)
	}
	if !strings.HasSuffix(fn, ".whl") {
		return bad("extension must be .whl")
	}
	base := fn[:len(fn)-4]
	dashes := strings.Count(base, "-")
	if dashes != 4 && dashes != 5 {
		return bad("wrong number of parts")
	}
	parts := strings.SplitN(base, "-", dashes-1)
	if strings.Contains(parts[0], "__") || !wheelNameRE.MatchString(parts[0]) {
		return bad("invalid project name")
	}
	v, err := pep440.Parse(parts[1])
	if err != nil {
		return bad("invalid version")
	}
	f := Filename{Name: pep508.NormalizeName(parts[0]), Version: v, RawVersion: parts[1]}
	if dashes == 5 {
		m := buildRE.FindStringSubmatch(parts[2])
		if m == nil {
			return bad("invalid build number " + parts[2])
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return bad("invalid build number " + parts[2])
		}
		f.BuildNum, f.BuildTag, f.HasBuild = n, m[2], true
	}
	tags, err := ParseTagSet(parts[len(parts)-1])
	if err != nil {
		return bad(err.Error())
	}
	f.Tags = tags
	return f, nil
}

// ParseTagSet expands a compressed tag set such as "py2.py3-none-any".
func ParseTagSet(s string) ([]Tag, error) {
	comps := strings.Split(s, "-")
	if len(comps) != 3 {
		return nil, fmt.Errorf("tag %q must have three components", s)
	}
	var parts [3][]string
	for i, c := range comps {
		parts[i] = strings.Split(c, ".")
		for _, p := range parts[i] {
			if p == "" {
				return nil, fmt.Errorf("tag %q has an empty component", s)
			}
		}
	}
	var out []Tag
	for _, in := range parts[0] {
		if !identRE.MatchString(in) {
			return nil, fmt.Errorf("tag %q has an invalid interpreter %q", s, in)
		}
		for _, a := range parts[1] {
			for _, p := range parts[2] {
				out = append(out, Tag{strings.ToLower(in), strings.ToLower(a), strings.ToLower(p)})
			}
		}
	}
	return out, nil
}

// IsWheel reports whether a distribution file name is a wheel (as opposed to an sdist).
func IsWheel(fn string) bool { return strings.HasSuffix(fn, ".whl") }
