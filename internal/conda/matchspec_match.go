package conda

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file matches MatchSpecs against package records.

// strMatcher matches a string exactly, by glob ('*' matches any run of characters) or
// by a "^...$" regular expression, as conda's GlobStrMatch does.
type strMatcher struct {
	text  string
	parts []string // glob pieces between '*'; nil for exact or regex
	rx    *pyRegex
	glob  bool
}

func newStrMatcher(v string, allowRegex bool) (strMatcher, error) {
	sm := strMatcher{text: v}
	switch {
	case allowRegex && strings.HasPrefix(v, "^") && strings.HasSuffix(v, "$"):
		rx, err := compilePyRegex(v)
		if err != nil {
			return sm, fmt.Errorf("contains an invalid regular expression %q: %w", v, err)
		}
		sm.rx = rx
	case strings.Contains(v, "*"):
		sm.glob = true
		sm.parts = strings.Split(v, "*")
	}
	return sm, nil
}

func (sm *strMatcher) exact() bool { return sm.rx == nil && !sm.glob }

func (sm *strMatcher) match(s string) bool {
	switch {
	case sm.rx != nil:
		return sm.rx.MatchString(s)
	case sm.glob:
		if strings.Contains(s, "\n") {
			// '.' in conda's compiled glob does not match a newline.
			return false
		}
		return globMatch(sm.parts, s)
	}
	return sm.text == s
}

// globMatch matches s against pattern pieces that '*' separated.
func globMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return parts[0] == s
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}

// buildNumberMatcher is conda's BuildNumberMatch.
type buildNumberMatcher struct {
	text  string
	kind  uint8 // bnAll, bnExact, bnOp, bnNever
	value int64
	op    vop
	ver   Version
}

const (
	bnAll uint8 = iota
	bnExact
	bnOp
	bnNever
)

// pyInt parses a string the way Python's int() does for ASCII input.
func pyInt(s string) (int64, bool) {
	s = pyStrip(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, false
	}
	s = strings.ReplaceAll(s, "_", "")
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func newBuildNumberMatcher(v string) (buildNumberMatcher, error) {
	if n, ok := pyInt(v); ok {
		return buildNumberMatcher{text: strconv.FormatInt(n, 10), kind: bnExact, value: n}, nil
	}
	s := pyStrip(v)
	b := buildNumberMatcher{text: s}
	switch {
	case s == "":
		return b, &VersionSpecError{Spec: v, Reason: "empty build number spec"}
	case s == "*":
		b.kind = bnAll
	case strings.IndexByte("=<>!", s[0]) >= 0:
		op, vs, ok := splitOperator(s)
		if !ok {
			return b, &VersionSpecError{Spec: s, Reason: "invalid operator"}
		}
		ver, err := ParseVersion(vs)
		if err != nil {
			return b, err
		}
		b.kind, b.ver = bnOp, ver
		switch op {
		case "==":
			b.op = opEq
		case "!=":
			b.op = opNe
		case "<":
			b.op = opLt
		case "<=":
			b.op = opLe
		case ">":
			b.op = opGt
		case ">=":
			b.op = opGe
		case "=":
			b.op = opStartsWith
		}
	case s[0] == '^' || s[len(s)-1] == '$':
		if s[0] != '^' || s[len(s)-1] != '$' {
			return b, &VersionSpecError{Spec: s, Reason: "regex specs must start with '^' and end with '$'"}
		}
		if _, err := compilePyRegex(s); err != nil {
			return b, &VersionSpecError{Spec: s, Reason: "invalid regular expression"}
		}
		// conda applies the regular expression to the integer itself, which fails; such a
		// spec never matches.
		b.kind = bnNever
	default:
		// Compared as text with an integer in conda: never equal.
		b.kind = bnNever
	}
	return b, nil
}

func (b *buildNumberMatcher) match(n int64) bool {
	switch b.kind {
	case bnAll:
		return true
	case bnExact:
		return n == b.value
	case bnOp:
		if n < 0 {
			// conda cannot parse "-1" as a version and fails; treat it as no match.
			return false
		}
		// The version of str(n) is epoch 0 and one numeric segment; build it on the stack.
		var comps [2]vcomp
		var ends [2]int32
		comps[0] = vcomp{kind: kNum}
		comps[1] = vcomp{kind: kNum, num: uint64(n)}
		ends[0], ends[1] = 1, 2
		v := Version{comps: comps[:], ends: ends[:], nver: 2}
		node := vnode{op: b.op, ver: b.ver}
		return node.match(&v)
	}
	return false
}

// channelMatcher is conda's ChannelMatch.
type channelMatcher struct {
	text    string // as printed in the canonical string
	canon   string // canonical name (conda's channel "exact value")
	pattern *pyRegex
	ref     channelRef
	nonURL  bool // false when the channel compares by base URL
	all     bool // "*"
}

func (o *parseOptions) newChannelMatcher(v string) (channelMatcher, error) {
	cm := channelMatcher{text: v, canon: v}
	switch {
	case strings.HasPrefix(v, "^") && strings.HasSuffix(v, "$"):
		rx, err := compilePyRegex(v)
		if err != nil {
			return cm, fmt.Errorf("channel %q contains an invalid regular expression: %w", v, err)
		}
		cm.pattern = rx
	case strings.Contains(v, "*"):
		// conda does not escape the other characters of a channel glob.
		rx, err := compilePyRegex("^(?:" + strings.ReplaceAll(v, "*", ".*") + ")$")
		if err != nil {
			return cm, fmt.Errorf("channel %q contains an invalid regular expression: %w", v, err)
		}
		cm.pattern = rx
		cm.all = v == "*"
	default:
		c := o.parseChannel(v)
		cm.ref = c
		cm.canon = o.canonicalName(c)
		if o.isNonAliasURL(c) {
			cm.text = c.baseURL()
			if cm.text == "" {
				cm.text = cm.canon
			}
		} else {
			cm.text = cm.canon
			cm.nonURL = true
		}
	}
	return cm, nil
}

func (cm *channelMatcher) exact() bool { return cm.pattern == nil }

func (o *parseOptions) matchChannel(cm *channelMatcher, recordChannel string) bool {
	other := o.parseChannel(recordChannel)
	if cm.pattern != nil {
		return cm.pattern.MatchString(o.canonicalName(other))
	}
	if !cm.nonURL {
		return cm.ref.baseURL() == other.baseURL()
	}
	if cm.ref.name == other.name {
		return true
	}
	return cm.ref.name == o.canonicalName(other)
}

// Match reports whether the record satisfies every constraint of the spec. It parses
// r.Version when the spec has a version constraint; callers matching many specs against
// the same record should parse the version once and use MatchVersion.
func (m MatchSpec) Match(r *PackageRecord) bool {
	if !m.matchNonVersion(r) {
		return false
	}
	if m.has&fVersion != 0 && !m.Version.MatchesAll() {
		return m.Version.MatchString(r.Version)
	}
	return true
}

// MatchVersion is Match with the record's version already parsed (v must be
// ParseVersion(r.Version)); it does not allocate.
func (m MatchSpec) MatchVersion(r *PackageRecord, v Version) bool {
	if !m.matchNonVersion(r) {
		return false
	}
	if m.has&fVersion != 0 {
		return m.Version.Match(v)
	}
	return true
}

func (m *MatchSpec) matchNonVersion(r *PackageRecord) bool {
	h := m.has
	if h&fName != 0 && !m.name.match(r.Name) {
		return false
	}
	if h == fName || h == fName|fVersion {
		return true
	}
	if h&fBuild != 0 && !m.build.match(r.Build) {
		return false
	}
	if h&fBuildNumber != 0 && !m.bn.match(r.BuildNumber) {
		return false
	}
	if h&fSubdir != 0 && m.Subdir != r.Subdir {
		return false
	}
	if h&fMD5 != 0 && m.MD5 != r.MD5 {
		return false
	}
	if h&fSHA256 != 0 && m.SHA256 != r.SHA256 {
		return false
	}
	if h&fFn != 0 && m.Fn != r.Fn {
		return false
	}
	if h&fURL != 0 && m.URL != r.URL {
		return false
	}
	if h&fLicense != 0 && !m.license.match(strings.ToLower(r.License)) {
		return false
	}
	if h&fLicenseFamily != 0 && !m.licFam.match(strings.ToLower(r.LicenseFamily)) {
		return false
	}
	if h&fTrackFeatures != 0 && !slices.Equal(m.TrackFeatures, featureSet(trimAll(r.TrackFeatures))) {
		return false
	}
	if h&fFeatures != 0 && !slices.Equal(m.Features, featureSet(splitFeatures(r.Features))) {
		return false
	}
	if h&(fExtras|fFlags) != 0 {
		// Records carry no extras or flags; conda cannot match such specs either.
		return false
	}
	if h&fChannel != 0 && !m.opts.matchChannel(&m.chn, r.Channel) {
		return false
	}
	return true
}

func trimAll(fs []string) []string {
	var out []string
	for _, f := range fs {
		if f = pyStrip(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
