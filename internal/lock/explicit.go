package lock

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// FormatError says a file is not in the format it was read as, and what to do.
type FormatError struct {
	Format string // "@EXPLICIT", "conda-lock", "environment.yml"
	Line   int    // 0 when the problem is not at one line
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s file, line %d: %s", e.Format, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s file: %s", e.Format, e.Msg)
}

// ImportExplicit reads a conda @EXPLICIT file (conda list --explicit, conda-lock
// render) into a one-target lock. The platform comes from a "# platform:" comment or,
// failing that, from the package subdirs. Hashes come from URL fragments: 32 hex digits
// are an md5, "sha256:" or "sha256=" (or bare 64 hex digits) a sha256. Credentials in URLs
// are dropped so they never reach a lock.
func ImportExplicit(data []byte) (*Lock, error) {
	l := &Lock{Version: FormatVersion}
	t := Target{}
	explicit := false
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			c := strings.TrimSpace(strings.TrimPrefix(line, "#"))
			if v, ok := strings.CutPrefix(c, "platform:"); ok {
				t.Platform = strings.TrimSpace(v)
			}
			continue
		}
		if line == "@EXPLICIT" {
			explicit = true
			continue
		}
		if !explicit {
			return nil, &FormatError{Format: "@EXPLICIT", Line: n, Msg: "found a package before the @EXPLICIT line: this is not an explicit file (write one with `conda list --explicit --sha256`)"}
		}
		rec, err := recordFromURL(line)
		if err != nil {
			return nil, &FormatError{Format: "@EXPLICIT", Line: n, Msg: err.Error()}
		}
		t.Packages = append(t.Packages, rec)
	}
	if !explicit {
		return nil, &FormatError{Format: "@EXPLICIT", Msg: "no @EXPLICIT line: this is not an explicit file (write one with `conda list --explicit --sha256`)"}
	}
	if t.Platform == "" {
		t.Platform = inferPlatform(t.Packages)
	}
	if t.Platform == "" {
		return nil, &FormatError{Format: "@EXPLICIT", Msg: "cannot tell the platform: add a \"# platform: linux-64\" line"}
	}
	l.Channels = channelsOf(t.Packages)
	t.Packages = SortedPackages(t.Packages)
	l.Targets = []Target{t}
	return l, nil
}

// recordFromURL builds a package record from an explicit line: URL with an optional
// hash fragment. Name, version and build come from the archive file name.
func recordFromURL(line string) (conda.PackageRecord, error) {
	raw, frag, _ := strings.Cut(line, "#")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return conda.PackageRecord{}, fmt.Errorf("%q is not a package URL", raw)
	}
	u.User = nil
	rec, err := recordFromURLPath(u)
	if err != nil {
		return rec, err
	}
	frag = strings.TrimSpace(frag)
	switch {
	case frag == "":
	case isHex(frag, 32):
		rec.MD5 = frag
	case isHex(frag, 64):
		rec.SHA256 = frag
	case (strings.HasPrefix(frag, "sha256:") || strings.HasPrefix(frag, "sha256=")) && isHex(frag[7:], 64):
		rec.SHA256 = frag[7:]
	case (strings.HasPrefix(frag, "md5:") || strings.HasPrefix(frag, "md5=")) && isHex(frag[4:], 32):
		rec.MD5 = frag[4:]
	default:
		return rec, fmt.Errorf("hash fragment %q is neither an md5 (32 hex digits) nor sha256:HEX (64 hex digits)", frag)
	}
	return rec, nil
}

// recordFromURLPath fills name, version, build, subdir, channel, fn and url from a
// package URL of the form CHANNEL/SUBDIR/NAME-VERSION-BUILD.EXT.
func recordFromURLPath(u *url.URL) (conda.PackageRecord, error) {
	u.Fragment, u.RawFragment = "", ""
	full := u.String()
	dir, fn := path.Split(u.Path)
	stem, ok := strings.CutSuffix(fn, ".conda")
	if !ok {
		stem, ok = strings.CutSuffix(fn, ".tar.bz2")
	}
	if !ok {
		return conda.PackageRecord{}, fmt.Errorf("%q does not end in a .conda or .tar.bz2 archive name", full)
	}
	parts := strings.Split(stem, "-")
	if len(parts) < 3 || slices.Contains(parts[len(parts)-2:], "") {
		return conda.PackageRecord{}, fmt.Errorf("archive name %q is not NAME-VERSION-BUILD", fn)
	}
	rec := conda.PackageRecord{
		Name:    strings.Join(parts[:len(parts)-2], "-"),
		Version: parts[len(parts)-2],
		Build:   parts[len(parts)-1],
		Fn:      fn,
		URL:     full,
	}
	dir = strings.TrimSuffix(dir, "/")
	chPath, subdir := path.Split(dir)
	rec.Subdir = subdir
	ch := *u
	ch.Path = strings.TrimSuffix(chPath, "/")
	ch.RawPath = ""
	rec.Channel = ch.String()
	rec.BuildNumber = buildNumber(rec.Build)
	return rec, nil
}

// buildNumber reads the trailing number of a build string (conda convention
// "hash_N"); repodata is the real source, this is a best effort for imports.
func buildNumber(build string) int64 {
	i := strings.LastIndexByte(build, '_')
	s := build[i+1:]
	var n int64
	if s == "" || len(s) > 9 {
		return 0
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func inferPlatform(pkgs []conda.PackageRecord) string {
	for _, p := range pkgs {
		if p.Subdir != "" && p.Subdir != "noarch" {
			return p.Subdir
		}
	}
	return ""
}

// channelsOf lists the channels packages came from, in first-seen order, each named by
// the last element of its URL path.
func channelsOf(pkgs []conda.PackageRecord) []Channel {
	var out []Channel
	seen := map[string]bool{}
	for _, p := range pkgs {
		if p.Channel == "" || seen[p.Channel] {
			continue
		}
		seen[p.Channel] = true
		out = append(out, Channel{Name: channelName(p.Channel), URL: p.Channel})
	}
	return out
}

func channelName(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	name := path.Base(pu.Path)
	if name == "/" || name == "." || name == "" {
		return pu.Host
	}
	return name
}

// ExportExplicit writes the packages of one target as an @EXPLICIT file that conda and
// micromamba install without solving. Each URL carries the sha256 when the lock has one
// (the stronger hash), the md5 otherwise. Packages are in dependency order (a package
// after what it depends on), ties broken by name, so the output is stable.
func ExportExplicit(l *Lock, platform string) ([]byte, error) {
	return ExportExplicitHash(l, platform, "sha256")
}

// ExportExplicitHash is ExportExplicit with the hash each line carries: "sha256"
// ("#sha256:HEX", read by conda 24.9 and later, mamba and rattler) or "md5" ("#HEX", which
// every conda reads); a package without the hash asked for carries the other one.
func ExportExplicitHash(l *Lock, platform, hash string) ([]byte, error) {
	if hash != "sha256" && hash != "md5" {
		return nil, fmt.Errorf("export @EXPLICIT: hash %q: want sha256 or md5", hash)
	}
	t := l.Target(platform)
	if t == nil {
		return nil, fmt.Errorf("export @EXPLICIT: the lock has no target %s (it has %s); pass one of those with --platform", platform, platformList(l))
	}
	if len(t.Pip) > 0 {
		return nil, fmt.Errorf("export @EXPLICIT: target %s holds %d pip packages, which an explicit file cannot express; export as conda-lock instead", platform, len(t.Pip))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Generated by reprobuild from reprobuild.lock (recipe-hash %s).\n", orNone(l.RecipeHash))
	fmt.Fprintf(&b, "# platform: %s\n", platform)
	b.WriteString("@EXPLICIT\n")
	for _, p := range TopoSorted(t.Packages) {
		if p.URL == "" {
			return nil, fmt.Errorf("export @EXPLICIT: %s-%s-%s has no url; relock with `reprobuild lock`", p.Name, p.Version, p.Build)
		}
		b.WriteString(p.URL)
		switch {
		case p.SHA256 != "" && (hash == "sha256" || p.MD5 == ""):
			b.WriteString("#sha256:" + p.SHA256)
		case p.MD5 != "":
			b.WriteString("#" + p.MD5)
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func platformList(l *Lock) string {
	var ps []string
	for _, t := range l.Targets {
		ps = append(ps, t.Platform)
	}
	if len(ps) == 0 {
		return "no targets"
	}
	return strings.Join(ps, ", ")
}

// TopoSorted orders packages so each comes after the locked packages it depends on
// (by name), choosing the alphabetically first ready package at each step. Cycles are
// broken the same way, so the order is always total and stable.
func TopoSorted(pkgs []conda.PackageRecord) []conda.PackageRecord {
	sorted := SortedPackages(pkgs)
	index := map[string]int{}
	for i, p := range sorted {
		if _, dup := index[p.Name]; !dup {
			index[p.Name] = i
		}
	}
	deps := make([][]int, len(sorted))
	for i, p := range sorted {
		for _, d := range p.Depends {
			if j, ok := index[depName(d)]; ok && j != i {
				deps[i] = append(deps[i], j)
			}
		}
	}
	done := make([]bool, len(sorted))
	out := make([]conda.PackageRecord, 0, len(sorted))
	for len(out) < len(sorted) {
		picked := -1
		for i := range sorted {
			if done[i] {
				continue
			}
			ready := true
			for _, j := range deps[i] {
				if !done[j] {
					ready = false
					break
				}
			}
			if ready {
				picked = i
				break
			}
		}
		if picked < 0 {
			// A dependency cycle: take the first remaining package.
			for i := range sorted {
				if !done[i] {
					picked = i
					break
				}
			}
		}
		done[picked] = true
		out = append(out, sorted[picked])
	}
	return out
}
