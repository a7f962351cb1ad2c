package pep440

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ErrInvalidSpecifier is wrapped by every specifier parse error.
var ErrInvalidSpecifier = errors.New("not a valid PEP 440 version specifier")

// Specifier is one clause such as ">=1.0" or "==2.1.*".
type Specifier struct {
	Op       string // ~= == != <= >= < > ===
	Text     string // the version text as written (whitespace trimmed)
	Version  Version
	Wildcard bool // "==X.*" or "!=X.*"
}

// The shapes each operator allows, as the specification lists them.
const (
	specEpochRelease = `v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*`
	specPre          = `(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?`
	specPost         = `(?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?`
	specDev          = `(?:[-_.]?dev[-_.]?[0-9]*)?`
	specLocal        = `(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?`
)

var (
	specRE = regexp.MustCompile(`(?i)^\s*(~=|===|==|!=|<=|>=|<|>)\s*(.*?)\s*$`)
	eqRE   = regexp.MustCompile(`(?i)^` + specEpochRelease + `(?:\.\*|` + specPre + specPost + specDev + specLocal + `)$`)
	compRE = regexp.MustCompile(`(?i)^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+` + specPre + specPost + specDev + `$`)
	ordRE  = regexp.MustCompile(`(?i)^` + specEpochRelease + specPre + specPost + specDev + `$`)
	arbRE  = regexp.MustCompile(`^[^\s;)]*$`)
)

// ParseSpecifier parses one clause.
func ParseSpecifier(s string) (Specifier, error) {
	m := specRE.FindStringSubmatch(s)
	if m == nil {
		return Specifier{}, fmt.Errorf("%q: %w", s, ErrInvalidSpecifier)
	}
	sp := Specifier{Op: m[1], Text: m[2]}
	var ok bool
	switch sp.Op {
	case "===":
		return sp, boolErr(arbRE.MatchString(sp.Text), s)
	}
	if !isASCII(sp.Text) {
		return Specifier{}, fmt.Errorf("%q: %w", s, ErrInvalidSpecifier)
	}
	switch sp.Op {
	case "==", "!=":
		ok = eqRE.MatchString(sp.Text)
	case "~=":
		ok = compRE.MatchString(sp.Text)
	default:
		ok = ordRE.MatchString(sp.Text)
	}
	if !ok {
		return Specifier{}, fmt.Errorf("%q: %w", s, ErrInvalidSpecifier)
	}
	vt := sp.Text
	if strings.HasSuffix(vt, ".*") {
		sp.Wildcard = true
		vt = vt[:len(vt)-2]
	}
	v, err := Parse(vt)
	if err != nil {
		return Specifier{}, fmt.Errorf("%q: %w", s, ErrInvalidSpecifier)
	}
	sp.Version = v
	return sp, nil
}

func boolErr(ok bool, s string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%q: %w", s, ErrInvalidSpecifier)
}

func (s Specifier) String() string { return s.Op + s.Text }

// AllowsPrereleases is packaging's Specifier.prereleases: whether this clause asks
// for pre-releases by naming one. The second result is false when it cannot tell (===
// of something that is not a version).
func (s Specifier) AllowsPrereleases() (allow, known bool) {
	switch {
	case s.Op == "!=":
		return false, true
	case s.Op == "==" && s.Wildcard:
		return false, true
	case s.Op == "===":
		v, err := Parse(s.Text)
		if err != nil {
			return false, false
		}
		return v.IsPrerelease(), true
	}
	return s.Version.IsPrerelease(), true
}

// Contains reports whether v satisfies the clause, pre-releases included.
func (s Specifier) Contains(v Version) bool {
	sv := s.Version
	switch s.Op {
	case "===":
		return strings.EqualFold(v.String(), s.Text)
	case "==":
		return s.equal(v)
	case "!=":
		return !s.equal(v)
	case "~=":
		if Compare(v, sv) < 0 {
			return false
		}
		prefix := sv.Release[:len(sv.Release)-1]
		return v.Epoch == sv.Epoch && prefixMatch(v.Release, prefix)
	case "<=":
		return ComparePublic(v, sv) <= 0
	case ">=":
		return ComparePublic(v, sv) >= 0
	case "<":
		if ComparePublic(v, sv) >= 0 {
			return false
		}
		// "<V" excludes V's own pre-releases: for a final V any pre-release of its
		// release, otherwise V with a dev segment added.
		if isFinal(sv) && v.IsPrerelease() && sameBase(v, sv) {
			return false
		}
		if !sv.HasDev && v.HasDev {
			w := v
			w.HasDev, w.DevNum, w.Local = false, 0, nil
			if ComparePublic(w, sv) == 0 {
				return false
			}
		}
		return true
	case ">":
		if Compare(v, sv) <= 0 {
			return false
		}
		// ">V" excludes V with a local label and, unless V is a post- or dev release,
		// V's post-releases.
		if len(v.Local) > 0 && ComparePublic(v, sv) == 0 {
			return false
		}
		if !sv.HasPost && !sv.HasDev && v.HasPost && sameBase(v, sv) &&
			v.PreKind == sv.PreKind && v.PreNum == sv.PreNum {
			return false
		}
		return true
	}
	return false
}

func (s Specifier) equal(v Version) bool {
	sv := s.Version
	if s.Wildcard {
		return v.Epoch == sv.Epoch && prefixMatch(v.Release, sv.Release) && prefixSuffix(v, sv)
	}
	if len(sv.Local) == 0 {
		return ComparePublic(v, sv) == 0
	}
	return Compare(v, sv) == 0
}

// prefixSuffix handles wildcards on specifiers with a pre/post/dev part ("==1.0a1.*"
// is not allowed by the grammar, so with only epoch and release this is always true).
func prefixSuffix(v, sv Version) bool { return true }

// prefixMatch compares rel, padded with zeros, with the prefix.
func prefixMatch(rel, prefix []uint64) bool {
	for i, p := range prefix {
		var x uint64
		if i < len(rel) {
			x = rel[i]
		}
		if x != p {
			return false
		}
	}
	return true
}

func isFinal(v Version) bool { return v.PreKind == PreNone && !v.HasPost && !v.HasDev }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func sameBase(a, b Version) bool {
	return a.Epoch == b.Epoch && compareRelease(a.Release, b.Release) == 0
}

// Specifiers is a comma-separated set of clauses, all of which must hold.
type Specifiers []Specifier

// ParseSpecifiers parses "" (anything) or a comma-separated list of clauses.
func ParseSpecifiers(s string) (Specifiers, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make(Specifiers, 0, len(parts))
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			continue // packaging drops empty clauses ("==1.0,")
		}
		sp, err := ParseSpecifier(p)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// String is the canonical form: clauses sorted, equal ones ("==1.0", "==1.0.0") once.
func (ss Specifiers) String() string {
	sorted := slices.Clone(ss)
	slices.SortFunc(sorted, func(a, b Specifier) int { return strings.Compare(a.String(), b.String()) })
	var b strings.Builder
	seen := make(map[string]bool, len(sorted))
	for _, s := range sorted {
		k := s.canonical()
		if seen[k] {
			continue
		}
		seen[k] = true
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// canonical is the identity of a clause: "==1.0" and "==1.0.0" are the same clause,
// "~=1.0" and "~=1.0.0" are not.
func (s Specifier) canonical() string {
	if s.Op == "===" || s.Wildcard {
		return s.Op + s.Text
	}
	v := s.Version
	if s.Op != "~=" {
		r := v.Release
		for len(r) > 1 && r[len(r)-1] == 0 {
			r = r[:len(r)-1]
		}
		v.Release = r
	}
	return s.Op + v.String()
}

// MatchString is Contains on a version as written: "===" clauses compare the text
// itself, the others its parsed value. Text that is not a version matches only "===".
func (ss Specifiers) MatchString(raw string) bool {
	v, err := Parse(raw)
	for _, s := range ss {
		if s.Op == "===" {
			if !strings.EqualFold(strings.TrimSpace(raw), s.Text) {
				return false
			}
			continue
		}
		if err != nil || !s.Contains(v) {
			return false
		}
	}
	return true
}

// Contains reports whether v satisfies every clause, pre-releases included.
func (ss Specifiers) Contains(v Version) bool {
	for _, s := range ss {
		if !s.Contains(v) {
			return false
		}
	}
	return true
}

// AllowsPrereleases is packaging's SpecifierSet.prereleases: true when any clause names
// a pre-release, so pre-releases may be chosen even if final releases also match.
func (ss Specifiers) AllowsPrereleases() bool {
	for _, s := range ss {
		if a, _ := s.AllowsPrereleases(); a {
			return true
		}
	}
	return false
}
