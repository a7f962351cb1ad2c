package pep440

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every parse error of this package.
var ErrInvalid = errors.New("not a valid PEP 440 version")

// Pre-release kinds, in their sort order.
const (
	PreNone  = 0
	PreAlpha = 'a'
	PreBeta  = 'b'
	PreRC    = 'c'
)

// LocalPart is one dot-separated segment of a local version label.
type LocalPart struct {
	Num   uint64
	Str   string // lower case; empty when the part is numeric
	IsNum bool
}

// Version is a parsed PEP 440 version. The zero value is not a valid version; use Parse.
type Version struct {
	Epoch   uint64
	Release []uint64
	PreKind byte // PreNone, PreAlpha, PreBeta or PreRC
	PreNum  uint64
	HasPost bool
	PostNum uint64
	HasDev  bool
	DevNum  uint64
	Local   []LocalPart
}

// MustParse is Parse for constants; it panics on a bad version.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func simple(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsPrerelease reports a pre-release or development release.
func (v Version) IsPrerelease() bool { return v.PreKind != PreNone || v.HasDev }

// IsPostrelease reports a post-release.
func (v Version) IsPostrelease() bool { return v.HasPost }

// String is the normalised form.
func (v Version) String() string {
	var b strings.Builder
	b.Grow(16)
	v.writePublic(&b)
	if len(v.Local) > 0 {
		b.WriteByte('+')
		b.WriteString(v.LocalString())
	}
	return b.String()
}

// Public is the normalised form without the local label.
func (v Version) Public() string {
	var b strings.Builder
	v.writePublic(&b)
	return b.String()
}

// Base is epoch and release only.
func (v Version) Base() string {
	var b strings.Builder
	if v.Epoch != 0 {
		b.WriteString(strconv.FormatUint(v.Epoch, 10))
		b.WriteByte('!')
	}
	for i, r := range v.Release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(r, 10))
	}
	return b.String()
}

// LocalString is the normalised local label ("" when there is none).
func (v Version) LocalString() string {
	var b strings.Builder
	for i, p := range v.Local {
		if i > 0 {
			b.WriteByte('.')
		}
		if p.IsNum {
			b.WriteString(strconv.FormatUint(p.Num, 10))
		} else {
			b.WriteString(p.Str)
		}
	}
	return b.String()
}

func (v Version) writePublic(b *strings.Builder) {
	b.WriteString(v.Base())
	switch v.PreKind {
	case PreAlpha:
		b.WriteString("a")
	case PreBeta:
		b.WriteString("b")
	case PreRC:
		b.WriteString("rc")
	}
	if v.PreKind != PreNone {
		b.WriteString(strconv.FormatUint(v.PreNum, 10))
	}
	if v.HasPost {
		b.WriteString(".post")
		b.WriteString(strconv.FormatUint(v.PostNum, 10))
	}
	if v.HasDev {
		b.WriteString(".dev")
		b.WriteString(strconv.FormatUint(v.DevNum, 10))
	}
}

// WithoutLocal returns v with its local label dropped.
func (v Version) WithoutLocal() Version {
	v.Local = nil
	return v
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareRelease compares release segments as if padded with zeros.
func compareRelease(a, b []uint64) int {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		var x, y uint64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := cmpU(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// suffix ranks as pypa/packaging's _cmpkey: a dev-only release sorts before every
// pre-release of the same release, a final release after all of them.
func (v Version) preRank() (int, uint64) {
	switch {
	case v.PreKind == PreNone && !v.HasPost && v.HasDev:
		return -1, 0
	case v.PreKind == PreNone:
		return 3, 0
	case v.PreKind == PreAlpha:
		return 0, v.PreNum
	case v.PreKind == PreBeta:
		return 1, v.PreNum
	}
	return 2, v.PreNum
}

// ComparePublic orders two versions ignoring their local labels.
func ComparePublic(a, b Version) int {
	if c := cmpU(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := compareRelease(a.Release, b.Release); c != 0 {
		return c
	}
	ar, an := a.preRank()
	br, bn := b.preRank()
	if ar != br {
		if ar < br {
			return -1
		}
		return 1
	}
	if c := cmpU(an, bn); c != 0 {
		return c
	}
	if a.HasPost != b.HasPost {
		if b.HasPost {
			return -1
		}
		return 1
	}
	if c := cmpU(a.PostNum, b.PostNum); c != 0 {
		return c
	}
	if a.HasDev != b.HasDev {
		if a.HasDev {
			return -1
		}
		return 1
	}
	return cmpU(a.DevNum, b.DevNum)
}

// Compare orders two versions by PEP 440: -1, 0 or +1.
func Compare(a, b Version) int {
	if c := ComparePublic(a, b); c != 0 {
		return c
	}
	// No local label sorts before any; strings before numbers; shorter before longer.
	for i := 0; i < len(a.Local) && i < len(b.Local); i++ {
		x, y := a.Local[i], b.Local[i]
		switch {
		case x.IsNum && y.IsNum:
			if c := cmpU(x.Num, y.Num); c != 0 {
				return c
			}
		case x.IsNum:
			return 1
		case y.IsNum:
			return -1
		default:
			if c := strings.Compare(x.Str, y.Str); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(a.Local) < len(b.Local):
		return -1
	case len(a.Local) > len(b.Local):
		return 1
	}
	return 0
}

// Compare is the method form of Compare.
func (v Version) Compare(o Version) int { return Compare(v, o) }

// Equal reports PEP 440 equality (1.0 == 1.0.0).
func (v Version) Equal(o Version) bool { return Compare(v, o) == 0 }
