package catalog

import (
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/reprobuild/reprobuild/recipes"
)

// Policy is what the server lets recipes use.
type Policy struct {
	// Allow are URL prefixes recipes may read from: channel URLs and mirrors, data URLs
	// and local oci: bases (e.g. "https://conda.anaconda.org/conda-forge",
	// "file:///srv/channel", "oci:/srv/bases/"). Registry bases pinned by digest are
	// always allowed. Empty allows no channel at all.
	Allow []string
	// AllowPyPI are URL prefixes of the PyPI indexes (simple API roots, and their
	// mirrors) recipes' pypi blocks may use, e.g. "https://pypi.org/simple". A list of
	// its own: a conda channel allowed by Allow is not thereby a package index. Empty
	// allows no index (recipes with pip dependencies are refused).
	AllowPyPI []string
	// MinLevel is the weakest reproducibility level accepted: bitwise, pinned or
	// best-effort ("" accepts every level).
	MinLevel string
}

var levelRank = map[string]int{"best-effort": 1, "pinned": 2, "bitwise": 3}

// Diagnostic is one problem in a submitted recipe, as the CLI reports it.
type Diagnostic struct {
	Severity string `json:"severity"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
}

// RecipeError is a submitted recipe the server refuses: diagnostics from the recipe
// parser (the same as `reprobuild lock` prints) or policy reasons.
type RecipeError struct {
	Message     string       `json:"error"`
	Diagnostics []Diagnostic `json:"diagnostics"`
	// Rendered is the CLI's text rendering, with source lines.
	Rendered string `json:"rendered,omitempty"`
}

func (e *RecipeError) Error() string { return e.Message }

func toDiagnostics(diags hcl.Diagnostics) []Diagnostic {
	out := []Diagnostic{}
	for _, d := range diags {
		x := Diagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			x.Severity = "warning"
		}
		if d.Subject != nil {
			x.File, x.Line, x.Column = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
		}
		out = append(out, x)
	}
	return out
}

// CheckRecipe parses a submitted recipe and applies the policy. filename is the base
// name shown in diagnostics.
func CheckRecipe(filename string, src []byte, p Policy) (*recipes.Recipe, error) {
	r, diags := recipes.Parse(filename, src)
	if diags.HasErrors() {
		n := len(diags.Errs())
		noun := "errors"
		if n == 1 {
			noun = "error"
		}
		return nil, &RecipeError{
			Message:     fmt.Sprintf("recipe %s has %d %s; fix them and submit again", filename, n, noun),
			Diagnostics: toDiagnostics(diags),
			Rendered:    recipes.FormatDiagnostics(filename, src, diags),
		}
	}
	var ds []Diagnostic
	refuse := func(rng hcl.Range, summary, format string, args ...any) {
		ds = append(ds, Diagnostic{Severity: "error", File: filename, Line: rng.Start.Line, Column: rng.Start.Column, Summary: summary, Detail: fmt.Sprintf(format, args...)})
	}
	allowed, allowedPyPI := listed(p.Allow), listed(p.AllowPyPI)
	for _, c := range r.Channels {
		for _, u := range append([]string{c.URL}, c.Mirrors...) {
			if !p.allows(u) {
				refuse(c.Range, "Channel not allowed", "channel %q uses %s, which this server does not allow (allowed: %s); ask an admin to allow it or use an allowed channel.", c.Name, u, allowed)
			}
		}
	}
	for _, ix := range r.PyPI {
		for _, u := range append([]string{ix.URL}, ix.Mirrors...) {
			if !allows(p.AllowPyPI, u) {
				refuse(ix.Range, "Package index not allowed", "pypi index %q uses %s, which this server does not allow as a package index (allowed indexes: %s); ask an admin to allow it (serve --allow-pypi) or use an allowed index.", ix.Name, u, allowedPyPI)
			}
		}
	}
	for _, d := range r.Data {
		if !p.allows(d.URL) {
			refuse(d.Range, "Data source not allowed", "data %q reads %s, which this server does not allow (allowed: %s).", d.Name, d.URL, allowed)
		}
	}
	if strings.HasPrefix(r.Image.Base, "oci:") {
		ref, _, _ := strings.Cut(r.Image.Base, "@")
		if !p.allows(ref) {
			refuse(r.Image.Range, "Base not allowed", "base %s is a local OCI layout this server does not allow (allowed: %s); use a registry base pinned by digest.", ref, allowed)
		}
	}
	if min := levelRank[p.MinLevel]; min > 0 && levelRank[r.Reproducibility.Level] < min {
		refuse(r.Reproducibility.Range, "Reproducibility level too weak", "level %q is below %q, the weakest this server accepts.", r.Reproducibility.Level, p.MinLevel)
	}
	if len(ds) > 0 {
		return nil, &RecipeError{Message: fmt.Sprintf("recipe %s is refused by the server's policy: %s", filename, ds[0].Detail), Diagnostics: ds}
	}
	return r, nil
}

func listed(prefixes []string) string {
	if len(prefixes) == 0 {
		return "none"
	}
	return strings.Join(prefixes, ", ")
}

func (p Policy) allows(u string) bool { return allows(p.Allow, u) }

// allows reports whether u starts with a prefix of allow at a path boundary. Relative
// paths are never allowed: they would read the server's own files.
func allows(allow []string, u string) bool {
	if !strings.Contains(u, ":") {
		return false
	}
	clean := u
	if i := strings.Index(u, "://"); i >= 0 {
		clean = u[:i+3] + path.Clean(u[i+3:])
	} else if rest, ok := strings.CutPrefix(u, "oci:"); ok {
		clean = "oci:" + path.Clean(rest)
	}
	for _, a := range allow {
		a = strings.TrimSuffix(a, "/")
		if clean == a || strings.HasPrefix(clean, a+"/") {
			return true
		}
	}
	return false
}
