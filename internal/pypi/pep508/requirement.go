package pep508

import (
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
)

// Requirement is a parsed dependency specifier.
type Requirement struct {
	Name      string // as written
	Extras    []string
	Specifier pep440.Specifiers
	URL       string
	Marker    Marker
}

// Normalized is the PEP 503 form of the name.
func (r Requirement) Normalized() string { return NormalizeName(r.Name) }

// ParseRequirement parses one requirement string.
func ParseRequirement(s string) (Requirement, error) {
	t := &tokenizer{src: s}
	t.consume("WS")
	name, err := t.expect("IDENTIFIER", "package name at the start of dependency specifier")
	if err != nil {
		return Requirement{}, err
	}
	r := Requirement{Name: name}
	t.consume("WS")
	if t.check("LEFT_BRACKET") {
		t.read()
		t.consume("WS")
		if t.check("IDENTIFIER") {
			r.Extras = append(r.Extras, t.read())
			for {
				t.consume("WS")
				if t.check("IDENTIFIER") {
					return Requirement{}, t.fail("expected comma between extra names")
				}
				if !t.check("COMMA") {
					break
				}
				t.read()
				t.consume("WS")
				e, err := t.expect("IDENTIFIER", "extra name after comma")
				if err != nil {
					return Requirement{}, err
				}
				r.Extras = append(r.Extras, e)
			}
		}
		t.consume("WS")
		if _, err := t.expect("RIGHT_BRACKET", "closing square bracket of extras"); err != nil {
			return Requirement{}, err
		}
	}
	t.consume("WS")
	var markerStart bool
	if t.check("AT") {
		t.read()
		t.consume("WS")
		if r.URL, err = t.expect("URL", "URL after @"); err != nil {
			return Requirement{}, err
		}
		if t.check("END") {
			return r, nil
		}
		if _, err := t.expect("WS", "whitespace after URL"); err != nil {
			return Requirement{}, err
		}
		if t.check("END") {
			return r, nil
		}
		markerStart = true
	} else {
		spec, err := parseSpecifier(t)
		if err != nil {
			return Requirement{}, err
		}
		if r.Specifier, err = pep440.ParseSpecifiers(spec); err != nil {
			return Requirement{}, t.fail(err.Error())
		}
		t.consume("WS")
		if t.check("END") {
			return r, nil
		}
		markerStart = true
	}
	if markerStart {
		if !t.check("SEMICOLON") {
			if len(r.Specifier) > 0 {
				return Requirement{}, t.fail("expected comma (within version specifier), semicolon (after version specifier) or end")
			}
			return Requirement{}, t.fail("expected semicolon (after name with no version specifier) or end")
		}
		t.read()
		m, err := parseMarker(t)
		if err != nil {
			return Requirement{}, err
		}
		t.consume("WS")
		r.Marker = Marker{root: m}
	}
	if !t.check("END") {
		return Requirement{}, t.fail("expected end of dependency specifier")
	}
	return r, nil
}

func parseSpecifier(t *tokenizer) (string, error) {
	paren := false
	if t.check("LEFT_PARENTHESIS") {
		t.read()
		paren = true
	}
	t.consume("WS")
	var b strings.Builder
	for t.check("SPECIFIER") {
		b.WriteString(t.read())
		if t.check("VERSION_PREFIX_TRAIL") {
			return "", t.fail(".* suffix can only be used with == or != on a plain release")
		}
		if t.check("VERSION_LOCAL_LABEL_TRAIL") {
			return "", t.fail("local version label can only be used with == or !=")
		}
		t.consume("WS")
		if !t.check("COMMA") {
			break
		}
		b.WriteString(t.read())
		t.consume("WS")
	}
	t.consume("WS")
	if paren {
		if _, err := t.expect("RIGHT_PARENTHESIS", "closing parenthesis of version specifier"); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// String is the canonical form, as packaging prints it.
func (r Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		ex := slices.Clone(r.Extras)
		slices.Sort(ex)
		ex = slices.Compact(ex)
		b.WriteString("[" + strings.Join(ex, ",") + "]")
	}
	b.WriteString(r.Specifier.String())
	if r.URL != "" {
		b.WriteString(" @ " + r.URL)
		if !r.Marker.IsEmpty() {
			b.WriteString(" ")
		}
	}
	if !r.Marker.IsEmpty() {
		b.WriteString("; " + r.Marker.String())
	}
	return b.String()
}
