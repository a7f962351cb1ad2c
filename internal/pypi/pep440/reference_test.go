package pep440

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

var versionRE = regexp.MustCompile(`(?i)^\s*v?(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)` +
	`([._-]?(alpha|a|beta|b|preview|pre|c|rc)[._-]?([0-9]+)?)?` +
	`((?:-([0-9]+))|(?:[._-]?(post|rev|r)[._-]?([0-9]+)?))?` +
	`([._-]?(dev)[._-]?([0-9]+)?)?` +
	`(?:\+([a-z0-9]+(?:[._-][a-z0-9]+)*))?\s*$`)

// parseRE is the regular-expression parser, the reference Parse is checked against.
func parseRE(s string) (Version, error) {
	if simple(s) {
		var v Version
		v.Release = make([]uint64, 0, 4)
		for _, p := range strings.Split(s, ".") {
			n, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return Version{}, fmt.Errorf("%q: %w", s, ErrInvalid)
			}
			v.Release = append(v.Release, n)
		}
		return v, nil
	}
	// Python's \s (the specification's) is Unicode whitespace, wider than RE2's.
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || !isASCII(strings.TrimSpace(s)) {
		return Version{}, fmt.Errorf("%q: %w", s, ErrInvalid)
	}
	var v Version
	var err error
	num := func(x string) uint64 {
		if x == "" || err != nil {
			return 0
		}
		n, e := strconv.ParseUint(x, 10, 64)
		if e != nil {
			err = fmt.Errorf("%q: number %s too large: %w", s, x, ErrInvalid)
		}
		return n
	}
	v.Epoch = num(m[1])
	for _, p := range strings.Split(m[2], ".") {
		v.Release = append(v.Release, num(p))
	}
	if m[4] != "" {
		switch strings.ToLower(m[4]) {
		case "a", "alpha":
			v.PreKind = PreAlpha
		case "b", "beta":
			v.PreKind = PreBeta
		default:
			v.PreKind = PreRC
		}
		v.PreNum = num(m[5])
	}
	if m[6] != "" {
		v.HasPost = true
		v.PostNum = num(m[7] + m[9])
	}
	if m[11] != "" {
		v.HasDev = true
		v.DevNum = num(m[12])
	}
	if m[13] != "" {
		for _, p := range strings.FieldsFunc(m[13], func(r rune) bool { return r == '.' || r == '_' || r == '-' }) {
			if isDigits(p) {
				v.Local = append(v.Local, LocalPart{Num: num(p), IsNum: true})
			} else {
				v.Local = append(v.Local, LocalPart{Str: strings.ToLower(p)})
			}
		}
	}
	if err != nil {
		return Version{}, err
	}
	return v, nil
}

// FuzzParseMatchesRegexp checks the hand-written parser against the regular expression
// of the specification on any input.
func FuzzParseMatchesRegexp(f *testing.F) {
	for _, s := range []string{"1.0", "v1!2.3rc4.post5.dev6+abc.7", "1.0-1", "1.0a.", "1.0prerev1", "1.0.post", " 1.0\t", "1.0+a_b-c", "1..0", "1.0a-", "1.0-", "01.0", "1.0c1", "1.0alpha", "1.0.Dev"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, errA := Parse(s)
		b, errB := parseRE(s)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("%q: Parse err %v, regexp err %v", s, errA, errB)
		}
		if errA == nil && (a.String() != b.String() || Compare(a, b) != 0) {
			t.Fatalf("%q: Parse %q, regexp %q", s, a, b)
		}
	})
}

func TestParseMatchesRegexpOnVectors(t *testing.T) {
	var vs []versionVector
	testutil.ReadJSON(t, vectors+"versions.json", &vs)
	for _, c := range vs {
		a, errA := Parse(c.In)
		b, errB := parseRE(c.In)
		if (errA == nil) != (errB == nil) || errA == nil && a.String() != b.String() {
			t.Errorf("%q: %v %v / %v %v", c.In, a, errA, b, errB)
		}
	}
	_ = fmt.Sprint
}
