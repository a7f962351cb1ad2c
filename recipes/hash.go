package recipes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// hashInput is the canonical form of everything that can change a solve. Fields that
// only shape the image (tags, labels, prefix, runtime) or the fetch (mirrors) are left
// out so editing them does not make the lock stale. Encoding/json writes struct fields in
// declaration order, so the encoding is stable.
type hashInput struct {
	Version  int            `json:"v"`
	Python   *hashPython    `json:"python"`
	Channels []hashChannel  `json:"channels"`
	Solver   hashSolver     `json:"solver"`
	Conda    []string       `json:"conda"`
	Targets  []string       `json:"targets"`
	Glibc    string         `json:"glibc"`
	Cuda     string         `json:"cuda"`
	CPU      string         `json:"cpu"`
	Base     string         `json:"base"`
	Data     []hashDataItem `json:"data"`
	// PyPI parts are left out when empty, so recipes without them keep their hashes.
	PyPI []hashChannel `json:"pypi,omitempty"`
	Pip  []string      `json:"pip,omitempty"`
}

type hashPython struct {
	Version        string `json:"version"`
	Implementation string `json:"implementation"`
	Source         string `json:"source"`
}

type hashChannel struct {
	Name     string   `json:"name"`
	URL      string   `json:"url"`
	Packages []string `json:"packages"`
}

type hashSolver struct {
	ChannelPriority string `json:"channel_priority"`
	ExcludeNewer    string `json:"exclude_newer"`
}

type hashDataItem struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// Hash is the sha256 (hex) of the recipe's solve-relevant content. It does not depend on
// the file name, formatting, comments, attribute order or the order of sets (specs,
// targets, allow-lists, data); channel order counts because it is priority.
func (r *Recipe) Hash() string {
	in := hashInput{
		Version: 1,
		Solver:  hashSolver{ChannelPriority: r.Solver.ChannelPriority, ExcludeNewer: r.Solver.ExcludeNewer},
		Targets: r.Targets(),
		Glibc:   r.Platform.Glibc,
		Cuda:    r.Hardware.Cuda,
		CPU:     r.Hardware.CPU,
		Base:    r.Image.Base,
		Conda:   []string{},
		Data:    []hashDataItem{},
	}
	if r.Python != nil {
		in.Python = &hashPython{Version: r.Python.Version, Implementation: r.Python.Implementation, Source: r.Python.Source}
	}
	in.Channels = []hashChannel{}
	for _, c := range r.Channels {
		pk := slices.Clone(c.Packages)
		slices.Sort(pk)
		in.Channels = append(in.Channels, hashChannel{Name: c.Name, URL: c.URL, Packages: slices.Compact(pk)})
	}
	for _, s := range r.Dependencies.Conda {
		in.Conda = append(in.Conda, normalizeSpace(s.Text))
	}
	slices.Sort(in.Conda)
	in.Conda = slices.Compact(in.Conda)
	slices.Sort(in.Targets)
	for _, d := range r.Data {
		in.Data = append(in.Data, hashDataItem{Name: d.Name, URL: d.URL, SHA256: d.SHA256})
	}
	slices.SortFunc(in.Data, func(a, b hashDataItem) int { return strings.Compare(a.Name, b.Name) })
	in.PyPI, in.Pip = r.hashPyPI()
	b, err := json.Marshal(in)
	if err != nil {
		// Only strings and slices of strings: encoding cannot fail.
		panic("recipes: encoding hash input: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// PythonSpec is the match spec the python block stands for, or "" when the interpreter
// comes from the base image (or there is no python block).
func (r *Recipe) PythonSpec() string {
	if r.Python == nil || r.Python.Source != "channel" || r.Python.Version == "" {
		return ""
	}
	s := "python " + r.Python.Version + ".*"
	if r.Python.Implementation == "pypy" {
		s += " *_pypy"
	}
	return s
}

// RootSpecs are the requirements the solver starts from: the python spec first (when the
// interpreter comes from a channel), then dependencies.conda in recipe order.
func (r *Recipe) RootSpecs() []Spec {
	var out []Spec
	if s := r.PythonSpec(); s != "" {
		out = append(out, Spec{Text: s, Range: r.Python.VersionRange})
	}
	return append(out, r.Dependencies.Conda...)
}

// Targets are the platforms to lock, in recipe order; ["linux-64"] when the recipe has no
// platform targets.
func (r *Recipe) Targets() []string {
	if len(r.Platform.Targets) == 0 {
		return []string{DefaultTarget}
	}
	return slices.Clone(r.Platform.Targets)
}

// ResolveURL turns a channel location as written in the recipe into one that can be
// fetched: URLs are returned unchanged, relative paths become absolute file:// URLs
// against Recipe.Dir.
func (r *Recipe) ResolveURL(u string) string {
	if strings.Contains(u, "://") {
		return u
	}
	p := filepath.FromSlash(u)
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.Dir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
}

// SpecRange finds the recipe range of a root spec by its text, so a later stage that only
// kept the text can still point at the recipe. ok is false when no spec matches.
func (r *Recipe) SpecRange(text string) (hcl.Range, bool) {
	for _, s := range r.RootSpecs() {
		if s.Text == normalizeSpace(text) {
			return s.Range, true
		}
	}
	return hcl.Range{}, false
}
