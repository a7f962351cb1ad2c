package lock

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// Filename is the lock file name, written beside the recipe.
const Filename = "reprobuild.lock"

// header is the first line of every lock Marshal writes.
const header = "# reprobuild.lock: written by reprobuild. Do not edit: change the recipe and run `reprobuild lock`."

// Marshal writes l in the canonical text form described in docs/lockfile.md. Sets are
// sorted (targets by platform, packages by name, data by name, virtual packages by
// name); channels keep their priority order. l is not modified. The same lock always
// gives the same bytes.
func Marshal(l *Lock) ([]byte, error) {
	if l == nil {
		return nil, fmt.Errorf("marshal lock: nil lock")
	}
	var w writer
	w.line(0, header)
	version := l.Version
	if version == 0 {
		version = FormatVersion
	}
	w.fields(0, "version", strconv.Itoa(version))
	w.fields(0, "recipe-hash", l.RecipeHash)
	if len(l.Channels) > 0 {
		w.blank()
		for _, c := range l.Channels {
			w.fields(0, "channel", c.Name, c.URL)
		}
	}
	if len(l.PyPI) > 0 {
		w.blank()
		for _, c := range l.PyPI {
			w.fields(0, "pypi", c.Name, c.URL)
		}
	}
	w.blank()
	w.fields(0, "solver")
	w.opt(1, "channel-priority", l.Solver.ChannelPriority)
	w.opt(1, "exclude-newer", l.Solver.ExcludeNewer)
	w.blank()
	if l.Base.Digest != "" {
		w.fields(0, "base", l.Base.Ref, l.Base.Digest)
	} else {
		w.fields(0, "base", l.Base.Ref)
	}
	data := slices.Clone(l.Data)
	slices.SortStableFunc(data, func(a, b Data) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range data {
		w.blank()
		w.fields(0, "data", d.Name)
		w.opt(1, "url", d.URL)
		w.opt(1, "sha256", d.SHA256)
		w.opt(1, "path", d.Path)
		w.opt(1, "mode", d.Mode)
	}
	targets := slices.Clone(l.Targets)
	slices.SortStableFunc(targets, func(a, b Target) int { return strings.Compare(a.Platform, b.Platform) })
	for i := 1; i < len(targets); i++ {
		if targets[i].Platform == targets[i-1].Platform {
			return nil, fmt.Errorf("marshal lock: platform %s appears twice; merge its targets", targets[i].Platform)
		}
	}
	for _, t := range targets {
		w.blank()
		w.fields(0, "target", t.Platform)
		virt := slices.Clone(t.Virtual)
		slices.SortStableFunc(virt, func(a, b VirtualPackage) int { return strings.Compare(a.Name, b.Name) })
		for _, v := range virt {
			if v.Build != "" {
				w.fields(1, "virtual", v.Name, v.Version, v.Build)
			} else {
				w.fields(1, "virtual", v.Name, v.Version)
			}
		}
		for _, p := range SortedPackages(t.Packages) {
			w.blank()
			writePackage(&w, p)
		}
		pips := slices.Clone(t.Pip)
		slices.SortStableFunc(pips, func(a, b PipPackage) int {
			return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version), strings.Compare(a.URL, b.URL))
		})
		for _, p := range pips {
			w.blank()
			w.fields(1, "pip", p.Name, p.Version)
			w.opt(2, "url", p.URL)
			w.opt(2, "sha256", p.SHA256)
			w.opt(2, "index", p.Index)
			w.opt(2, "requires-python", p.RequiresPython)
			for _, r := range p.Requested {
				w.fields(2, "requested", r)
			}
			for _, d := range p.Depends {
				w.fields(2, "depends", d)
			}
		}
	}
	return w.buf.Bytes(), nil
}

// SortedPackages returns a copy of pkgs in canonical order: by name, then version, build
// and URL, so even an unusual lock with two builds of one name orders the same way.
func SortedPackages(pkgs []conda.PackageRecord) []conda.PackageRecord {
	out := slices.Clone(pkgs)
	slices.SortStableFunc(out, func(a, b conda.PackageRecord) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version),
			strings.Compare(a.Build, b.Build), strings.Compare(a.URL, b.URL))
	})
	return out
}

func writePackage(w *writer, p conda.PackageRecord) {
	w.fields(1, "package", p.Name, p.Version, p.Build)
	w.fields(2, "build-number", strconv.FormatInt(p.BuildNumber, 10))
	w.opt(2, "subdir", p.Subdir)
	w.opt(2, "channel", p.Channel)
	w.opt(2, "fn", p.Fn)
	w.opt(2, "url", p.URL)
	w.opt(2, "sha256", p.SHA256)
	w.opt(2, "md5", p.MD5)
	if p.Size != 0 {
		w.fields(2, "size", strconv.FormatInt(p.Size, 10))
	}
	if p.Timestamp != 0 {
		w.fields(2, "timestamp", strconv.FormatInt(p.Timestamp, 10))
	}
	w.opt(2, "noarch", p.Noarch)
	w.opt(2, "license", p.License)
	w.opt(2, "license-family", p.LicenseFamily)
	w.opt(2, "features", p.Features)
	for _, f := range p.TrackFeatures {
		w.fields(2, "track-feature", f)
	}
	// Depends and constrains keep their repodata order: it is part of the record.
	for _, d := range p.Depends {
		w.fields(2, "depends", d)
	}
	for _, c := range p.Constrains {
		w.fields(2, "constrains", c)
	}
}

type writer struct {
	buf bytes.Buffer
}

func (w *writer) line(indent int, s string) {
	w.buf.WriteString(strings.Repeat("  ", indent))
	w.buf.WriteString(s)
	w.buf.WriteByte('\n')
}

func (w *writer) blank() { w.buf.WriteByte('\n') }

func (w *writer) fields(indent int, key string, values ...string) {
	var b strings.Builder
	b.WriteString(key)
	for _, v := range values {
		b.WriteByte(' ')
		b.WriteString(quote(v))
	}
	w.line(indent, b.String())
}

func (w *writer) opt(indent int, key, value string) {
	if value != "" {
		w.fields(indent, key, value)
	}
}

// quote writes a value bare when it is one plain token, and double-quoted otherwise, so
// common values (names, URLs, hashes) stay easy to read and diff.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '#' {
			return strconv.Quote(s)
		}
	}
	return s
}
