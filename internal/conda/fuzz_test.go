package conda

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// seedStrings adds the values of one JSON field of an oracle file to a fuzz corpus.
func seedStrings(f *testing.F, file, field string) {
	fh, err := os.Open(filepath.Join(specDir, file))
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := map[string]bool{}
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if s, ok := m[field].(string); ok && !seen[s] && len(seen) < 400 {
			seen[s] = true
			f.Add(s)
		}
	}
}

var fuzzProbeVersions = []string{"0", "1.0", "1.7.1", "1.7.0.post123", "2.0a1", "1!1.2", "1.2.3+4", "1.1.1_", "3.9.7", "2013b", "1.0.dev1", "4.3.21.post699+1dab973"}

func FuzzParseVersion(f *testing.F) {
	seedStrings(f, "version_parse.jsonl", "version")
	seedStrings(f, "version_invalid.jsonl", "version")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.String() != s {
			t.Fatalf("String() = %q, want the input %q", v.String(), s)
		}
		if v.Compare(v) != 0 {
			t.Fatalf("%q does not equal itself", s)
		}
		n, err := ParseVersion(v.Normalized())
		if err != nil {
			t.Fatalf("normalised form %q of %q does not parse: %v", v.Normalized(), s, err)
		}
		if n.Normalized() != v.Normalized() || n.Compare(v) != 0 || v.Compare(n) != 0 {
			t.Fatalf("normalised form %q of %q is not equivalent", v.Normalized(), s)
		}
		if !v.StartsWith(v) {
			t.Fatalf("%q does not start with itself", s)
		}
		for _, p := range fuzzProbeVersions {
			o := MustParseVersion(p)
			if v.Compare(o) != -o.Compare(v) {
				t.Fatalf("Compare(%q, %q) is not antisymmetric", s, p)
			}
		}
	})
}

func FuzzParseVersionSpec(f *testing.F) {
	seedStrings(f, "version_spec_match.jsonl", "spec")
	seedStrings(f, "version_spec_invalid.jsonl", "spec")
	seedStrings(f, "oracle_version_spec_match.jsonl", "spec")
	f.Fuzz(func(t *testing.T, s string) {
		vs, err := ParseVersionSpec(s)
		if err != nil {
			return
		}
		c := vs.String()
		if strings.Contains(s, "\n") {
			// conda looks for operators only before the first newline, so a newline can
			// hide them; the stripped canonical text then reads differently. Newlines do
			// not occur in real specs: only the no-panic property is checked.
			return
		}
		vs2, err := ParseVersionSpec(c)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c, s, err)
		}
		if vs2.String() != c {
			// conda rewrites a trailing-star leaf "P*" as "P.*" and matches it as "starts
			// with P"; when P holds another '*' ("1.0**" -> "1.0*.*") the rewritten text
			// reads back as a glob regex instead, so conda's own str() is not a fixpoint
			// there. Require that it settles on the next round.
			if vs3, err := ParseVersionSpec(vs2.String()); err != nil || vs3.String() != vs2.String() {
				t.Fatalf("canonical form of %q does not settle: %q, %q", s, c, vs2.String())
			}
			return
		}
		if starBeforeDotStar(c) {
			// "1.0**" is kept as text "1.0*.*" but matched as "starts with 1.0*"; read
			// again, "1.0*.*" is a glob. conda's str() keeps the text, not the meaning.
			return
		}
		for _, p := range fuzzProbeVersions {
			v := MustParseVersion(p)
			if vs.Match(v) != vs2.Match(v) {
				t.Fatalf("%q and its canonical form %q disagree on %q", s, c, p)
			}
		}
	})
}

func FuzzParseMatchSpec(f *testing.F) {
	seedStrings(f, "oracle_matchspec_fields.jsonl", "spec")
	seedStrings(f, "matchspec_invalid.jsonl", "spec")
	seedStrings(f, "matchspec_match.jsonl", "spec")
	rec := PackageRecord{Name: "numpy", Version: "1.7.1", Build: "py27_0", BuildNumber: 3, Subdir: "linux-64",
		Channel: "https://conda.anaconda.org/conda-forge", Fn: "numpy-1.7.1-py27_0.tar.bz2", License: "BSD"}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatchSpec(s)
		if err != nil {
			return
		}
		c := m.String()
		if strings.Contains(s, "\n") {
			// See FuzzParseVersionSpec: newlines hide operators from conda's parsers.
			return
		}
		if unquotable(m) {
			// conda's canonical string neither quotes nor escapes these characters in
			// field values, so such specs cannot round-trip in conda either; no real
			// package metadata contains them.
			return
		}
		if v := m.Version.String(); m.Has("version") && !strings.ContainsAny(v, "><$^|,") &&
			strings.Contains(strings.TrimRight(v, "*"), "*") {
			// A glob version with an inner '*' ("*.*", "1.*.1", "%00*.*") is written as
			// "=" plus the glob minus its trailing ".*" or '*'; conda reads that back as
			// a different spec, or rejects it ("%00*.*" -> "=%00*"), exactly as conda's
			// own str() output does. No round trip is possible for these.
			return
		}
		m2, err := ParseMatchSpec(c)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c, s, err)
		}
		if c2 := m2.String(); c2 != c {
			// conda's str() is not always a fixpoint: it writes a version "P.*" as "=P",
			// which reads back as "P*"; with trailing dots ("0..*" -> "0=0." -> "0=0") or
			// "*.*" (oracle: "blas *.* mkl" -> "blas=*[build=mkl]" -> "blas[build=mkl]")
			// each reading drops a little more. Require that it settles (each round
			// shortens it, so within len(c) rounds).
			prev := c2
			for round := 0; ; round++ {
				mn, err := ParseMatchSpec(prev)
				if err != nil {
					t.Fatalf("canonical form %q (from %q) does not parse: %v", prev, s, err)
				}
				if mn.String() == prev {
					break
				}
				if round > len(c) {
					t.Fatalf("canonical form of %q does not settle: %q, %q, ...", s, c, c2)
				}
				prev = mn.String()
			}
			return
		}
		if m.Has("version") && starBeforeDotStar(m.Version.String()) {
			return // see FuzzParseVersionSpec: the text is kept, not the meaning
		}
		if m.Match(&rec) != m2.Match(&rec) {
			t.Fatalf("%q and its canonical form %q disagree on a record", s, c)
		}
	})
}

// starBeforeDotStar reports whether a canonical version spec has a leaf "P.*" with
// another '*' in P.
func starBeforeDotStar(spec string) bool {
	for _, leaf := range strings.FieldsFunc(spec, func(r rune) bool { return strings.ContainsRune("()|,", r) }) {
		if strings.HasSuffix(leaf, ".*") && strings.Contains(leaf[:len(leaf)-2], "*") {
			return true
		}
	}
	return false
}

// unquotable reports whether a field value holds a character conda's canonical string
// cannot carry unambiguously.
func unquotable(m MatchSpec) bool {
	vals := []string{m.Name, m.Build, m.BuildNumber, m.Channel, m.Subdir, m.MD5, m.SHA256,
		m.License, m.LicenseFamily, m.Fn, m.URL, strings.Join(m.TrackFeatures, ""), strings.Join(m.Features, "")}
	if m.Has("version") {
		vals = append(vals, m.Version.String())
	}
	// An empty feature set prints as "track_features=", which conda rejects; a feature
	// holding ',' (possible only in the legacy "feature@" form) splits when read back.
	if (m.Has("track_features") && len(m.TrackFeatures) == 0) || (m.Has("features") && len(m.Features) == 0) ||
		strings.Contains(strings.Join(m.TrackFeatures, "")+strings.Join(m.Features, ""), ",") {
		return true
	}
	// An empty value (a package file named "x-1-.conda" has an empty build) prints as
	// nothing after its '=', which conda cannot read back.
	for _, f := range []string{"build", "subdir", "md5", "sha256", "fn", "url", "license", "license_family"} {
		if v, ok := m.ExactValue(f); m.Has(f) && (!ok || v == "") && fieldText(m, f) == "" {
			return true
		}
	}
	if m.Has("name") && (m.Name == "" || validatePackageName(m.Name) != "") {
		// Names taken from a package file name ("-1-0.conda", "!-1-0.conda") are not
		// validated by conda, but a spec naming them cannot be parsed.
		return true
	}
	// A build written after "==version=" cannot hold these (conda's version/build
	// splitter stops at them); package file names can still produce such builds.
	if strings.ContainsAny(m.Build, "-=,|<>~") || strings.IndexFunc(m.Name+m.Build+m.Subdir+m.Channel, pyIsSpace) >= 0 {
		return true
	}
	// "channel/subdir::" is split only at a known subdir; another subdir reads back as
	// part of the channel name.
	if m.Has("subdir") && !slices.Contains(knownSubdirs, m.Subdir) {
		return true
	}
	// conda never quotes channel and subdir values in brackets.
	if strings.ContainsAny(m.Channel+m.Subdir, ",=") {
		return true
	}
	// Outside the brackets a ':' would be read as a channel separator.
	if strings.Contains(m.Name+m.Build+m.Version.String(), ":") {
		return true
	}
	for _, v := range vals {
		if strings.IndexFunc(v, func(r rune) bool { return pyIsSpace(r) || strings.ContainsRune("'\"[]()#@", r) }) >= 0 || strings.Contains(v, " if ") {
			return true
		}
	}
	return false
}

func fieldText(m MatchSpec, f string) string {
	switch f {
	case "build":
		return m.Build
	case "subdir":
		return m.Subdir
	case "md5":
		return m.MD5
	case "sha256":
		return m.SHA256
	case "fn":
		return m.Fn
	case "url":
		return m.URL
	case "license":
		return m.License
	case "license_family":
		return m.LicenseFamily
	}
	return ""
}
