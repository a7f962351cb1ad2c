package conda

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// This file parses match spec strings (conda/models/match_spec.py) into MatchSpec.

// rawSpec is the result of conda's _parse_spec_str: field name to raw value, in the
// order the fields were set.
type rawSpec struct {
	keys   []string
	values map[string]string
	// trackFeatures is set by the legacy "feature@" form.
	optional bool
	target   string
	orig     string
	// legacyFeature marks the "feature@" form, whose feature is not split further.
	legacyFeature bool
}

func (r *rawSpec) set(k, v string) {
	if r.values == nil {
		r.values = map[string]string{}
	}
	if _, ok := r.values[k]; !ok {
		r.keys = append(r.keys, k)
	}
	r.values[k] = v
}

func (r *rawSpec) del(k string) {
	if _, ok := r.values[k]; !ok {
		return
	}
	delete(r.values, k)
	r.keys = slices.DeleteFunc(r.keys, func(s string) bool { return s == k })
}

func (r *rawSpec) get(k string) (string, bool) {
	v, ok := r.values[k]
	return v, ok
}

// ParseMatchSpec parses a conda match spec string in any form conda accepts: "name",
// "name ver", "name ver build", "name=ver=build", "name==ver", "name >=1,<2",
// "channel/subdir::name", key-value brackets "name[version='>=1',build=py*]", and URLs
// or paths of .conda/.tar.bz2 files. Options resolve local paths and channel names;
// the defaults are conda's out-of-the-box settings with "/" as the work directory.
// As in conda, the empty string is a spec that matches every record; callers that take
// user input may want to reject it first.
func ParseMatchSpec(s string, opts ...ParseOption) (MatchSpec, error) {
	o := newParseOptions(opts)
	raw, err := o.parseSpecStr(s)
	if err != nil {
		return MatchSpec{}, err
	}
	m, err := o.build(raw)
	if err != nil {
		return MatchSpec{}, err
	}
	m.original = s
	return m, nil
}

// MustParseMatchSpec is ParseMatchSpec for known-good literals; it panics on error.
func MustParseMatchSpec(s string) MatchSpec {
	m, err := ParseMatchSpec(s)
	if err != nil {
		panic(err)
	}
	return m
}

func (o *parseOptions) parseSpecStr(spec string) (*rawSpec, error) {
	original := spec
	fail := func(reason string) error { return &MatchSpecError{Spec: original, Reason: reason} }
	r := &rawSpec{orig: spec}
	if spec == "" {
		// conda builds an empty MatchSpec from an empty string: it matches everything.
		return r, nil
	}
	// Legacy "feature@" form.
	if strings.HasSuffix(spec, "@") {
		r.set("name", "*")
		r.set("track_features", spec[:len(spec)-1])
		r.legacyFeature = true
		return r, nil
	}
	if i := strings.IndexByte(spec, '#'); i >= 0 {
		spec = spec[:i]
	}
	if i := strings.Index(spec, " if "); i >= 0 {
		spec = spec[:i]
	}
	if hasPackageExtension(spec) {
		pr, err := o.parsePackageURL(spec)
		if err != nil {
			return nil, err
		}
		pr.orig = original
		return pr, nil
	}

	brackets := &rawSpec{}
	if b, ok := lastDelimited(spec, '[', ']'); ok {
		spec = strings.ReplaceAll(spec, b, "")
		kvs, ok := scanKeyValues(b[1 : len(b)-1])
		if !ok {
			return nil, fail("key-value mismatch in brackets")
		}
		for _, kv := range kvs {
			v := kv[1]
			if kv[0] == "version" {
				v = sanitizeVersion(v, false)
			}
			brackets.set(kv[0], v)
		}
	}
	if p, ok := lastDelimited(spec, '(', ')'); ok {
		spec = strings.ReplaceAll(spec, p, "")
		inner := p[1 : len(p)-1]
		kvs, _ := scanKeyValues(inner)
		for _, kv := range kvs {
			if kv[0] == "target" {
				r.target = kv[1]
			}
		}
		if strings.Contains(inner, "optional") {
			r.optional = true
		}
	}

	// Channel and namespace: split at the last two ':'.
	var channelStr string
	hasChannel := false
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		head, tail := spec[:i], spec[i+1:]
		if j := strings.LastIndexByte(head, ':'); j >= 0 {
			channelStr, hasChannel = head[:j], true
		}
		spec = tail
	}
	var channel, subdir string
	var hasCh, hasSub bool
	if hasChannel && channelStr != "" {
		channel, subdir = o.parseChannelValue(channelStr)
		hasCh, hasSub = true, subdir != ""
	}
	if bc, ok := brackets.get("channel"); ok {
		brackets.del("channel")
		c, sd := "", ""
		if bc != "" {
			c, sd = o.parseChannelValue(bc)
		}
		if c != "" {
			channel, hasCh = c, true
		}
		if sd != "" {
			subdir, hasSub = sd, true
		}
	}
	if bs, ok := brackets.get("subdir"); ok {
		brackets.del("subdir")
		subdir, hasSub = bs, true
	}

	name, rest, hasRest := splitNameVersion(spec)
	if name == "" {
		shown := "None"
		if hasRest {
			shown = rest
		}
		return nil, fail(fmt.Sprintf("no package name found in '%s'", shown))
	}
	if err := validatePackageName(name); err != "" {
		return nil, fail(err)
	}

	var version, build string
	var hasVersion, hasBuild bool
	if hasRest {
		rest = pyStrip(rest)
	}
	if hasRest && rest != "" {
		if strings.Contains(rest, "[") {
			return nil, fail("multiple brackets sections not allowed")
		}
		version, build, hasBuild = parseVersionPlusBuild(rest)
		version = sanitizeVersion(version, hasBuild)
		hasVersion = true
	}

	r.set("name", name)
	if hasCh {
		r.set("channel", channel)
	}
	if hasSub {
		r.set("subdir", subdir)
	}
	if hasVersion {
		r.set("version", version)
	}
	if hasBuild {
		r.set("build", build)
	}
	// Bracket values override the rest, except the name: a bracketed name must not make
	// a spec that reads as one package select another.
	brackets.del("name")
	for _, k := range brackets.keys {
		r.set(k, brackets.values[k])
	}
	return r, nil
}

// parseChannelValue is conda's _parse_channel: the channel as conda stores it in a
// spec and the subdir it names, if any.
func (o *parseOptions) parseChannelValue(v string) (string, string) {
	c := o.parseChannel(v)
	if hasScheme(v) && o.isNonAliasURL(c) {
		if b := c.baseURL(); b != "" {
			return b, c.platform
		}
	}
	return o.canonicalName(c), c.platform
}

// parsePackageURL handles a spec that names a package file by URL or path.
func (o *parseOptions) parsePackageURL(spec string) (*rawSpec, error) {
	r := &rawSpec{}
	if !hasScheme(spec) {
		spec = percentDecode(o.pathToURL(spec))
	}
	c := o.parseChannel(spec)
	if c.platform != "" {
		name, version, build, ok := splitDist(c.filename)
		if !ok {
			return nil, &MatchSpecError{Spec: spec, Reason: "package file name is not name-version-build: " + c.filename}
		}
		r.set("channel", o.canonicalName(c))
		r.set("subdir", c.platform)
		r.set("name", name)
		r.set("version", version)
		r.set("build", build)
		r.set("fn", c.filename)
		r.set("url", spec)
		return r, nil
	}
	p := spec
	if strings.HasPrefix(spec, "file://") {
		p = percentDecode(strings.TrimPrefix(spec, "file://"))
	}
	r.set("name", "*")
	r.set("fn", path.Base(p))
	r.set("url", spec)
	return r, nil
}

// splitDist splits "name-version-build[.ext]" at its last two dashes.
func splitDist(fn string) (name, version, build string, ok bool) {
	s, _ := stripPackageExtension(fn)
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", "", "", false
	}
	build = s[i+1:]
	s = s[:i]
	j := strings.LastIndexByte(s, '-')
	if j < 0 {
		return "", "", "", false
	}
	return s[:j], s[j+1:], build, true
}

// lastDelimited finds conda's bracket (or parenthesis) section: from the last opening
// character that has a closing one after it, to the last closing character, within the
// first line.
func lastDelimited(s string, open, close byte) (string, bool) {
	line := s
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	end := strings.LastIndexByte(line, close)
	if end < 0 {
		return "", false
	}
	start := strings.LastIndexByte(line[:end], open)
	if start < 0 {
		return "", false
	}
	return line[start : end+1], true
}

func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// scanKeyValues reads key=value pairs as conda's bracket regular expression finds them:
// values may be quoted with ' or " and end at ',' or ' ' (or the end). ok is false when
// a key or value is empty.
func scanKeyValues(s string) (kvs [][2]string, ok bool) {
	isEnd := func(p int) bool { return p == len(s) || (p == len(s)-1 && s[p] == '\n') }
	pos := 0
	for pos <= len(s) {
		found := false
		for p := pos; p < len(s); p++ {
			if !isKeyChar(s[p]) {
				continue
			}
			e := p
			for e < len(s) && isKeyChar(s[e]) {
				e++
			}
			if e >= len(s) || s[e] != '=' {
				// No '=' right after this run of key characters: skip past it.
				p = e
				continue
			}
			key := s[p:e]
			vstart := e + 1
			// Quoted value first.
			if vstart < len(s) && (s[vstart] == '"' || s[vstart] == '\'') {
				q := s[vstart]
				k := vstart + 1
				for k < len(s) && s[k] != '"' && s[k] != '\'' {
					k++
				}
				if k < len(s) && s[k] == q {
					after := k + 1
					if isEnd(after) || s[after] == ',' || s[after] == ' ' {
						kvs = append(kvs, [2]string{key, s[vstart+1 : k]})
						if key == "" || k == vstart+1 {
							return nil, false
						}
						pos = min(after+1, len(s)+1)
						if isEnd(after) {
							pos = len(s) + 1
						}
						found = true
						break
					}
				}
				// An unquoted value cannot start with a quote either; but a shorter key
				// starting later in the same run cannot succeed with the same value, so
				// move past the '='.
				p = e
				continue
			}
			// Unquoted value: up to the first ',' or ' ' or the end, with no quotes.
			k := vstart
			for k < len(s) && !isEnd(k) && s[k] != ',' && s[k] != ' ' && s[k] != '"' && s[k] != '\'' {
				k++
			}
			if isEnd(k) || s[k] == ',' || s[k] == ' ' {
				if k == vstart {
					return nil, false
				}
				kvs = append(kvs, [2]string{key, s[vstart:k]})
				if isEnd(k) {
					pos = len(s) + 1
				} else {
					pos = k + 1
				}
				found = true
				break
			}
			p = e
		}
		if !found {
			break
		}
	}
	return kvs, true
}

// splitNameVersion applies conda's name pattern: a run of characters other than
// " =<>!~", then (optionally) one of "><!=~ " followed by at least one character on the
// same line.
func splitNameVersion(s string) (name, rest string, hasRest bool) {
	i := 0
	for i < len(s) && strings.IndexByte(" =<>!~", s[i]) < 0 {
		i++
	}
	name = s[:i]
	r := s[i:]
	if len(r) >= 2 {
		end := strings.IndexByte(r[1:], '\n')
		if end < 0 {
			end = len(r) - 1
		}
		if end >= 1 {
			return name, r[:1+end], true
		}
	}
	return name, "", false
}

// validatePackageName applies CEP 26 to a non-glob name; it returns a reason or "".
func validatePackageName(name string) string {
	if strings.Contains(name, "*") {
		return ""
	}
	var bad []rune
	var norm strings.Builder
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z':
			r += 32
		case r == 0x212A:
			r = 'k'
		}
		norm.WriteRune(r)
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.' || r == '_' || r == '-'
		if !ok && !slices.Contains(bad, r) {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("package name contains invalid characters (%s)", string(bad))
	}
	n := norm.String()
	if cep26Name(n) || cep26Virtual(n) {
		return ""
	}
	return "invalid package name"
}

func isSep(c byte) bool { return c == '.' || c == '_' || c == '-' }

// cep26Tail accepts runs of [a-z0-9] each followed by at most one separator.
func cep26Tail(t string) bool {
	if t == "" {
		return true
	}
	if isSep(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if isSep(t[i]) && isSep(t[i-1]) {
			return false
		}
	}
	return true
}

func cep26Name(n string) bool {
	if n == "" {
		return false
	}
	c := n[0]
	if !(isAlnum(c) || c == '_') {
		return false
	}
	if c == '_' && len(n) > 1 && n[1] == '_' {
		return false
	}
	t := n[1:]
	if t != "" && isSep(t[0]) {
		t = t[1:]
	}
	return cep26Tail(t)
}

func cep26Virtual(n string) bool {
	if len(n) < 3 || n[0] != '_' || n[1] != '_' || !isAlnum(n[2]) {
		return false
	}
	t := n[3:]
	if t != "" && isSep(t[0]) {
		t = t[1:]
	}
	return cep26Tail(t)
}

// parseVersionPlusBuild reproduces conda's version/build split, a backtracking regular
// expression: the version is the shortest prefix (at least one character, optionally
// followed by one character that is not one of "><!,|") after which either the string
// ends, or a ' ' or '=' not preceded by an operator character starts a build made of
// characters other than "-=,|<>~" running to the end. Spaces are removed from the
// version and the build is trimmed.
func parseVersionPlusBuild(s string) (version, build string, hasBuild bool) {
	n := len(s)
	isEnd := func(p int) bool { return p == n || (p == n-1 && s[p] == '\n') }
	for start := 0; start < n; start++ {
		for l := 1; start+l <= n; l++ {
			if s[start+l-1] == '\n' {
				break
			}
			p := start + l
			cands := [2]int{-1, p}
			if p < n && strings.IndexByte("><!,|", s[p]) < 0 {
				cands[0] = p + 1
			}
			for _, q := range cands {
				if q < 0 {
					continue
				}
				if strings.IndexByte("=!|,<>~", s[q-1]) < 0 && q < n && (s[q] == ' ' || s[q] == '=') {
					for e := q + 2; e <= n; e++ {
						if strings.IndexByte("-=,|<>~", s[e-1]) >= 0 {
							break
						}
						if isEnd(e) {
							return strings.ReplaceAll(s[start:q], " ", ""), pyStrip(s[q+1 : e]), true
						}
					}
				}
				if isEnd(q) {
					return strings.ReplaceAll(s[start:q], " ", ""), "", false
				}
			}
		}
	}
	return strings.ReplaceAll(s, " ", ""), "", false
}

// sanitizeVersion is conda's translation of "=1.2" to "1.2*" and "==1.2" to "1.2".
func sanitizeVersion(v string, hasBuild bool) string {
	if v == "==" || v == "=" || !strings.HasPrefix(v, "=") {
		return v
	}
	bare := strings.TrimLeft(v, "=")
	if strings.HasPrefix(v, "==") && !hasBuild {
		return bare
	}
	if !strings.ContainsAny(bare, "=,|") {
		if !hasBuild && !strings.HasSuffix(bare, "*") {
			return bare + "*"
		}
		return bare
	}
	return v
}

// build compiles the raw fields into a MatchSpec (conda's _build_components).
func (o *parseOptions) build(r *rawSpec) (MatchSpec, error) {
	m := MatchSpec{opts: o, Optional: r.optional, Target: r.target}
	fail := func(reason string, err error) error {
		return &MatchSpecError{Spec: r.original(), Reason: reason, Err: err}
	}
	// "optional" and "target" are constructor arguments in conda, not fields.
	if v, ok := r.get("optional"); ok {
		m.Optional = v != ""
	}
	if v, ok := r.get("target"); ok {
		m.Target = v
	}
	var unknown []string
	for _, k := range r.keys {
		if k == "optional" || k == "target" {
			continue
		}
		if _, ok := fieldBit(k); !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return m, fail(fmt.Sprintf("Cannot match on field(s): %s", strings.Join(unknown, ", ")), nil)
	}
	for _, k := range r.keys {
		v := r.values[k]
		bit, ok := fieldBit(k)
		if !ok {
			continue
		}
		m.has |= bit
		var err error
		switch bit {
		case fName:
			m.Name = strings.ToLower(v)
			m.name, err = newStrMatcher(m.Name, true)
		case fVersion:
			m.Version, err = ParseVersionSpec(v)
		case fBuild:
			m.Build = v
			m.build, err = newStrMatcher(v, true)
		case fBuildNumber:
			m.bn, err = newBuildNumberMatcher(v)
			m.BuildNumber = m.bn.text
		case fChannel:
			m.chn, err = o.newChannelMatcher(v)
			m.Channel = m.chn.text
		case fSubdir:
			m.Subdir = v
		case fMD5:
			m.MD5 = v
		case fSHA256:
			m.SHA256 = v
		case fURL:
			m.URL = v
		case fFn:
			m.Fn = v
		case fLicense:
			m.License = strings.ToLower(v)
			m.license, err = newStrMatcher(m.License, true)
		case fLicenseFamily:
			m.LicenseFamily = strings.ToLower(v)
			m.licFam, err = newStrMatcher(m.LicenseFamily, true)
		case fTrackFeatures:
			if r.legacyFeature {
				m.TrackFeatures = featureSet(trimAll([]string{v}))
			} else {
				m.TrackFeatures = featureSet(splitFeatures(v))
			}
		case fFeatures:
			m.Features = featureSet(splitFeatures(v))
		case fWhen:
			m.when = strings.ToLower(v)
		case fExtras:
			m.extras = splitFeatures(v)
		case fFlags:
			m.flags = splitFeatures(v)
		}
		if err != nil {
			return MatchSpec{}, fail("", err)
		}
	}
	return m, nil
}

func (r *rawSpec) original() string { return r.orig }

func splitFeatures(v string) []string {
	var out []string
	for _, f := range strings.Split(strings.ReplaceAll(v, " ", ","), ",") {
		if f = pyStrip(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// featureSet sorts and de-duplicates, as conda compares features as sets.
func featureSet(fs []string) []string {
	if fs == nil {
		return []string{}
	}
	out := slices.Clone(fs)
	slices.Sort(out)
	return slices.Compact(out)
}
