package conda

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Version is a parsed conda version string, ordered by conda's VersionOrder rules
// (conda/models/version.py). The rules, as conda documents and implements them:
//
//   - Comparison is case-insensitive and ignores surrounding whitespace.
//   - Allowed characters are a-z, 0-9, '.', '_', '+', '!' and '*'. A '-' is accepted only
//     when the string has no '_', and then reads as '_'.
//   - An optional integer epoch precedes '!' (default 0). An optional local version follows
//     '+'; it is compared only when everything before it is equal.
//   - '.' and '_' split segments. A trailing '_' stays attached to the last segment
//     (openssl-style "1.0.1_" sorts before "1.0.1a").
//   - Each segment splits into runs of digits, runs of '*' and runs of other characters.
//     A segment that starts with a non-digit gets an implicit leading 0.
//   - Missing segments and components compare as the number 0, so "1.1" == "1.1.0".
//   - Strings sort before numbers; strings compare lexically, with "dev" treated as
//     "DEV" (so '*' < "dev" < '_' < letters); "post" is larger than every number.
//
// The zero Version is not valid; obtain one from ParseVersion.
type Version struct {
	orig string
	norm string
	// comps holds every component of every segment, epoch first, then the local part.
	comps []vcomp
	// ends[i] is the end index in comps of segment i.
	ends []int32
	// nver is the number of segments before the local part (the epoch included).
	nver int32
}

type vkind uint8

// Kinds are numbered so that their order is conda's order between kinds.
const (
	kStr vkind = iota // a string run (letters, '_', '*', or "DEV")
	kNum              // a number run that fits in uint64
	kBig              // a number run too large for uint64; str holds its digits
	kInf              // "post"
)

type vcomp struct {
	kind vkind
	num  uint64
	str  string
}

// VersionError reports a version string conda rejects.
type VersionError struct {
	Version string
	Reason  string
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("invalid version %q: %s", e.Version, e.Reason)
}

// ParseVersion parses s with conda's VersionOrder rules.
func ParseVersion(s string) (Version, error) {
	var v Version
	err := v.parse(s)
	return v, err
}

// MustParseVersion is ParseVersion for known-good literals; it panics on error.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func pyIsSpace(r rune) bool {
	// Python's str.strip also strips the ASCII file/group/record/unit separators.
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func pyStrip(s string) string {
	return strings.TrimFunc(s, pyIsSpace)
}

func versionChar(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' || c == '!' || c == '*'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lowerVersion lowers s as Python's str.lower would, as far as it matters for the
// characters a version may contain. ok is false when a non-ASCII rune survives.
func lowerVersion(s string) (out string, ok bool) {
	ascii, upper := true, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if c >= 'A' && c <= 'Z' {
			upper = true
		}
	}
	if ascii {
		if !upper {
			return s, true
		}
		b := []byte(s)
		for i, c := range b {
			if c >= 'A' && c <= 'Z' {
				b[i] = c + 32
			}
		}
		return string(b), true
	}
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if r >= 'A' && r <= 'Z' {
				r += 32
			}
			sb.WriteRune(r)
		case r == 0x212A: // KELVIN SIGN lowers to ASCII 'k' in Python.
			sb.WriteByte('k')
		default:
			return "", false
		}
	}
	return sb.String(), true
}

func (v *Version) parse(s string) error {
	v.orig = s
	fail := func(reason string) error { return &VersionError{Version: s, Reason: reason} }
	t := pyStrip(s)
	if t == "" {
		return fail("empty version string")
	}
	t, ok := lowerVersion(t)
	valid := ok
	hasDash, hasUnderscore := false, false
	if ok {
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c == '-' {
				hasDash = true
			} else if c == '_' {
				hasUnderscore = true
			}
			if !versionChar(c) {
				valid = false
			}
		}
	}
	if !valid && ok && hasDash && !hasUnderscore {
		t = strings.ReplaceAll(t, "-", "_")
		valid = true
		for i := 0; i < len(t); i++ {
			if !versionChar(t[i]) {
				valid = false
				break
			}
		}
	}
	if !valid {
		return fail("invalid character(s)")
	}
	v.norm = t

	epoch := "0"
	rest := t
	if i := strings.IndexByte(t, '!'); i >= 0 {
		if strings.IndexByte(t[i+1:], '!') >= 0 {
			return fail("duplicated epoch separator '!'")
		}
		epoch = t[:i]
		if epoch == "" {
			return fail("epoch must be an integer")
		}
		for j := 0; j < len(epoch); j++ {
			if !isDigit(epoch[j]) {
				return fail("epoch must be an integer")
			}
		}
		rest = t[i+1:]
	}
	main, local, hasLocal := rest, "", false
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		if strings.IndexByte(rest[i+1:], '+') >= 0 {
			return fail("duplicated local version separator '+'")
		}
		main, local, hasLocal = rest[:i], rest[i+1:], true
	}
	if main == "" {
		return fail("Missing version before local version separator '+'")
	}

	// Count segments and components to size the slices once.
	nseg, ncomp := countParts(epoch)
	s1, c1 := countParts(main)
	nseg, ncomp = nseg+s1, ncomp+c1
	if hasLocal {
		s2, c2 := countParts(local)
		nseg, ncomp = nseg+s2, ncomp+c2
	}
	v.ends = make([]int32, 0, nseg)
	v.comps = make([]vcomp, 0, ncomp)

	if err := v.addSegment(epoch); err != "" {
		return fail(err)
	}
	trailing := main[len(main)-1] == '_'
	body := main
	if trailing {
		body = main[:len(main)-1]
	}
	for {
		i := strings.IndexAny(body, "._")
		seg := body
		if i >= 0 {
			seg = body[:i]
		}
		if i < 0 && trailing {
			// The trailing '_' stays attached to the last segment.
			seg = main[len(main)-len(seg)-1:]
		}
		if err := v.addSegment(seg); err != "" {
			return fail(err)
		}
		if i < 0 {
			break
		}
		body = body[i+1:]
	}
	v.nver = int32(len(v.ends))
	if hasLocal {
		body = local
		for {
			i := strings.IndexAny(body, "._")
			seg := body
			if i >= 0 {
				seg = body[:i]
			}
			if err := v.addSegment(seg); err != "" {
				return fail(err)
			}
			if i < 0 {
				break
			}
			body = body[i+1:]
		}
	}
	return nil
}

// countParts returns an upper bound on the segments and components s splits into:
// one component per run of digits, stars or other characters, plus an implicit 0 for a
// segment that does not start with a digit.
func countParts(s string) (segs, comps int) {
	segs = 1
	class := byte(0) // 0 at a segment start
	for i := 0; i < len(s); i++ {
		c := s[i]
		var k byte
		switch {
		case c == '.' || c == '_':
			segs++
			class = 0
			continue
		case isDigit(c):
			k = 1
		case c == '*':
			k = 2
		default:
			k = 3
		}
		if class == 0 && k != 1 {
			comps++ // the implicit leading 0
		}
		if k != class {
			comps++
		}
		class = k
	}
	return segs, comps + 1
}

// addSegment splits one segment into runs and appends them. It returns a reason on error.
func (v *Version) addSegment(seg string) string {
	if seg == "" {
		return "empty version component"
	}
	if !isDigit(seg[0]) {
		v.comps = append(v.comps, vcomp{kind: kNum})
	}
	for i := 0; i < len(seg); {
		j := i + 1
		c := seg[i]
		switch {
		case isDigit(c):
			for j < len(seg) && isDigit(seg[j]) {
				j++
			}
			v.comps = append(v.comps, numComp(seg[i:j]))
		case c == '*':
			for j < len(seg) && seg[j] == '*' {
				j++
			}
			v.comps = append(v.comps, vcomp{kind: kStr, str: seg[i:j]})
		default:
			for j < len(seg) && !isDigit(seg[j]) && seg[j] != '*' {
				j++
			}
			run := seg[i:j]
			switch run {
			case "post":
				v.comps = append(v.comps, vcomp{kind: kInf})
			case "dev":
				v.comps = append(v.comps, vcomp{kind: kStr, str: "DEV"})
			default:
				v.comps = append(v.comps, vcomp{kind: kStr, str: run})
			}
		}
		i = j
	}
	v.ends = append(v.ends, int32(len(v.comps)))
	return ""
}

func numComp(d string) vcomp {
	for len(d) > 1 && d[0] == '0' {
		d = d[1:]
	}
	if len(d) <= 19 {
		var n uint64
		for i := 0; i < len(d); i++ {
			n = n*10 + uint64(d[i]-'0')
		}
		return vcomp{kind: kNum, num: n}
	}
	if len(d) == 20 && d <= "18446744073709551615" {
		var n uint64
		for i := 0; i < len(d); i++ {
			n = n*10 + uint64(d[i]-'0')
		}
		return vcomp{kind: kNum, num: n}
	}
	return vcomp{kind: kBig, str: d}
}

// String returns the version exactly as it was given to ParseVersion.
func (v Version) String() string { return v.orig }

// Normalized returns conda's normalised form: trimmed, lower case, '-' read as '_'.
func (v Version) Normalized() string { return v.norm }

// IsZero reports whether v is the zero Version (never parsed).
func (v Version) IsZero() bool { return v.ends == nil }

// segment returns the components of segment i of the version part (local=false) or
// of the local part; nil when it does not exist.
func (v *Version) segment(i int, local bool) []vcomp {
	if local {
		i += int(v.nver)
		if i >= len(v.ends) {
			return nil
		}
	} else if i >= int(v.nver) {
		return nil
	}
	start := int32(0)
	if i > 0 {
		start = v.ends[i-1]
	}
	return v.comps[start:v.ends[i]]
}

func (v *Version) nseg(local bool) int {
	if local {
		return len(v.ends) - int(v.nver)
	}
	return int(v.nver)
}

var fillComp = vcomp{kind: kNum}

func cmpComp(a, b vcomp) int {
	if a.kind != b.kind {
		ak, bk := a.kind, b.kind
		// Both big and small numbers are numbers: compare by value below.
		if (ak == kNum || ak == kBig) && (bk == kNum || bk == kBig) {
			if ak == kBig {
				return 1
			}
			return -1
		}
		if ak < bk {
			return -1
		}
		return 1
	}
	switch a.kind {
	case kNum:
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	case kBig:
		if len(a.str) != len(b.str) {
			if len(a.str) < len(b.str) {
				return -1
			}
			return 1
		}
		return strings.Compare(a.str, b.str)
	case kStr:
		return strings.Compare(a.str, b.str)
	}
	return 0
}

func cmpSegs(a, b []vcomp) int {
	n := max(len(a), len(b))
	for j := 0; j < n; j++ {
		ca, cb := fillComp, fillComp
		if j < len(a) {
			ca = a[j]
		}
		if j < len(b) {
			cb = b[j]
		}
		if c := cmpComp(ca, cb); c != 0 {
			return c
		}
	}
	return 0
}

// cmpPart compares the first n segments (all when n < 0) of one part of two versions.
func cmpPart(a, b *Version, local bool, n int) int {
	if n < 0 {
		n = max(a.nseg(local), b.nseg(local))
	}
	for i := 0; i < n; i++ {
		if c := cmpSegs(a.segment(i, local), b.segment(i, local)); c != 0 {
			return c
		}
	}
	return 0
}

// Compare orders v and o as conda's VersionOrder does: -1, 0 or +1.
func (v Version) Compare(o Version) int {
	if c := cmpPart(&v, &o, false, -1); c != 0 {
		return c
	}
	return cmpPart(&v, &o, true, -1)
}

// Equal reports whether v and o compare equal (e.g. "1.1" and "1.1.0").
func (v Version) Equal(o Version) bool { return v.Compare(o) == 0 }

// StartsWith reports whether v matches the prefix p in conda's sense (the relation
// behind "1.7.*" and "=1.7"): every segment of p but the last is equal, and the last
// segment of p is a prefix of v's segment at that position, string runs by text.
func (v Version) StartsWith(p Version) bool {
	local := p.nseg(true) > 0
	if local && cmpPart(&v, &p, false, -1) != 0 {
		return false
	}
	nt := p.nseg(local) - 1
	// Segments before the last one of p must be equal (missing ones read as 0).
	for i := 0; i < nt; i++ {
		var a []vcomp
		if i < v.nseg(local) {
			a = v.segment(i, local)
		}
		if cmpSegs(a, p.segment(i, local)) != 0 {
			return false
		}
	}
	var v1 []vcomp
	if nt < v.nseg(local) {
		v1 = v.segment(nt, local)
	}
	v2 := p.segment(nt, local)
	last := len(v2) - 1
	head := v1
	if len(head) > last {
		head = head[:last]
	}
	if cmpSegs(head, v2[:last]) != 0 {
		return false
	}
	c1 := fillComp
	if last < len(v1) {
		c1 = v1[last]
	}
	c2 := v2[last]
	if c2.kind == kStr {
		return c1.kind == kStr && strings.HasPrefix(c1.str, c2.str)
	}
	return cmpComp(c1, c2) == 0
}
