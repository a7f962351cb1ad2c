package record

import (
	_ "embed"
	"strings"
	"sync"
)

// spdxIDs is the SPDX License List (licences and exceptions, version 3.28.0), one
// identifier a line, taken from CycloneDX's spdx.schema.json (see testdata/schemas/NOTE.md).
//
//go:embed spdx_ids.txt
var spdxIDs string

// knownIDs maps upper-cased SPDX identifiers to their canonical spelling.
var knownIDs = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, id := range strings.Fields(spdxIDs) {
		m[strings.ToUpper(id)] = id
	}
	return m
})

// canonicalID returns the canonical spelling of a known SPDX identifier or a
// LicenseRef-/DocumentRef- reference, and false for anything else.
func canonicalID(id string) (string, bool) {
	if strings.HasPrefix(id, "LicenseRef-") || strings.HasPrefix(id, "DocumentRef-") {
		return id, true
	}
	plus := strings.HasSuffix(id, "+")
	c, ok := knownIDs()[strings.ToUpper(strings.TrimSuffix(id, "+"))]
	if plus {
		c += "+"
	}
	return c, ok
}

// spdxLicense turns a conda licence field into an SPDX licence expression made only of
// known identifiers. ok is false when the field is empty, free text, or names a licence
// the SPDX list does not know.
func spdxLicense(s string) (string, bool) {
	e, ok := parseLicense(s)
	if !ok {
		return "", false
	}
	return e.canonical(true)
}

// canonical renders the expression with canonical identifiers and upper-case operators.
func (e *licenseExpr) canonical(top bool) (string, bool) {
	if e.op == "" {
		id, ok := canonicalID(e.id)
		if !ok {
			return "", false
		}
		if e.with != "" {
			w, ok := canonicalID(e.with)
			if !ok {
				return "", false
			}
			id += " WITH " + w
		}
		return id, true
	}
	parts := make([]string, len(e.args))
	for i, a := range e.args {
		s, ok := a.canonical(false)
		if !ok {
			return "", false
		}
		parts[i] = s
	}
	s := strings.Join(parts, " "+e.op+" ")
	if !top {
		s = "(" + s + ")"
	}
	return s, true
}

// licenseExpr is a parsed SPDX licence expression: a leaf identifier, or an AND/OR of
// subexpressions. "X WITH exception" keeps X as the leaf and the exception aside.
type licenseExpr struct {
	op   string // "", "AND" or "OR"
	id   string // leaf licence identifier
	with string // exception of a leaf, or ""
	args []*licenseExpr
}

// parseLicense parses s as an SPDX licence expression. ok is false when s is not one
// (conda licence fields are free text, e.g. "BSD 3-Clause"), in which case the SBOMs
// carry it as a named licence rather than an identifier.
func parseLicense(s string) (*licenseExpr, bool) {
	toks := licenseTokens(s)
	if len(toks) == 0 {
		return nil, false
	}
	p := &licenseParser{toks: toks}
	e, ok := p.or()
	if !ok || p.pos != len(toks) {
		return nil, false
	}
	return e, true
}

func licenseTokens(s string) []string {
	var toks []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == '(' || r == ')':
			flush()
			toks = append(toks, string(r))
		case r == ' ' || r == '\t' || r == '\n':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

type licenseParser struct {
	toks []string
	pos  int
}

func (p *licenseParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *licenseParser) or() (*licenseExpr, bool) {
	return p.binary("OR", p.and)
}

func (p *licenseParser) and() (*licenseExpr, bool) {
	return p.binary("AND", p.atom)
}

func (p *licenseParser) binary(op string, next func() (*licenseExpr, bool)) (*licenseExpr, bool) {
	first, ok := next()
	if !ok {
		return nil, false
	}
	args := []*licenseExpr{first}
	for strings.EqualFold(p.peek(), op) {
		p.pos++
		e, ok := next()
		if !ok {
			return nil, false
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return first, true
	}
	return &licenseExpr{op: op, args: args}, true
}

func (p *licenseParser) atom() (*licenseExpr, bool) {
	t := p.peek()
	if t == "(" {
		p.pos++
		e, ok := p.or()
		if !ok || p.peek() != ")" {
			return nil, false
		}
		p.pos++
		return e, true
	}
	if !validLicenseID(t) {
		return nil, false
	}
	p.pos++
	e := &licenseExpr{id: t}
	if strings.EqualFold(p.peek(), "WITH") {
		p.pos++
		if !validLicenseID(p.peek()) {
			return nil, false
		}
		e.with = p.peek()
		p.pos++
	}
	return e, true
}

// validLicenseID checks the SPDX idstring grammar: letters, digits, '.', '-', with an
// optional trailing '+'; operators are not identifiers.
func validLicenseID(t string) bool {
	t = strings.TrimSuffix(t, "+")
	if t == "" {
		return false
	}
	switch strings.ToUpper(t) {
	case "AND", "OR", "WITH":
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

// eval reports whether the expression can be satisfied when ok says which identifiers
// are acceptable: AND needs every part, OR any one.
func (e *licenseExpr) eval(ok func(string) bool) bool {
	switch e.op {
	case "AND":
		for _, a := range e.args {
			if !a.eval(ok) {
				return false
			}
		}
		return true
	case "OR":
		for _, a := range e.args {
			if a.eval(ok) {
				return true
			}
		}
		return false
	}
	return ok(e.id)
}

// noLicense reports licence fields that state nothing: conda writes "None" or leaves the
// field out when a recipe gives no licence.
func noLicense(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "unknown", "noassertion":
		return true
	}
	return false
}
