package pep508

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
)

// Marker is a parsed environment marker. The zero value is the empty marker, which is
// always true.
type Marker struct {
	root []node
}

// node is a comparison (*item), a nested marker ([]node) or "and"/"or".
type node any

type operand struct {
	variable bool
	value    string
}

func (o operand) String() string {
	if o.variable {
		return o.value
	}
	if !strings.Contains(o.value, `"`) {
		return `"` + o.value + `"`
	}
	return "'" + o.value + "'"
}

type item struct {
	lhs, rhs operand
	op       string
}

// Env is a target's marker environment: python_version, python_full_version,
// sys_platform, platform_machine, extra and the others by their PEP 508 names.
type Env map[string]string

// ErrUndefined is wrapped when a marker names a variable the environment lacks or
// compares in a way PEP 508 leaves undefined.
var ErrUndefined = errors.New("undefined marker comparison")

// ParseMarker parses a marker expression.
func ParseMarker(s string) (Marker, error) {
	t := &tokenizer{src: s}
	m, err := parseMarker(t)
	if err != nil {
		return Marker{}, err
	}
	if !t.check("END") {
		return Marker{}, t.fail("expected end of marker expression")
	}
	return Marker{root: m}, nil
}

func parseMarker(t *tokenizer) ([]node, error) {
	a, err := parseAtom(t)
	if err != nil {
		return nil, err
	}
	out := []node{a}
	for t.check("BOOLOP") {
		op := t.read()
		b, err := parseAtom(t)
		if err != nil {
			return nil, err
		}
		out = append(out, op, b)
	}
	return out, nil
}

func parseAtom(t *tokenizer) (node, error) {
	t.consume("WS")
	var n node
	if t.check("LEFT_PARENTHESIS") {
		t.read()
		t.consume("WS")
		m, err := parseMarker(t)
		if err != nil {
			return nil, err
		}
		t.consume("WS")
		if _, err := t.expect("RIGHT_PARENTHESIS", "closing parenthesis of marker expression"); err != nil {
			return nil, err
		}
		n = m
	} else {
		it, err := parseItem(t)
		if err != nil {
			return nil, err
		}
		n = it
	}
	t.consume("WS")
	return n, nil
}

func parseItem(t *tokenizer) (*item, error) {
	t.consume("WS")
	l, err := parseVar(t)
	if err != nil {
		return nil, err
	}
	t.consume("WS")
	var op string
	switch {
	case t.check("IN"):
		t.read()
		op = "in"
	case t.check("NOT"):
		t.read()
		if _, err := t.expect("WS", "whitespace after 'not'"); err != nil {
			return nil, err
		}
		if _, err := t.expect("IN", "'in' after 'not'"); err != nil {
			return nil, err
		}
		op = "not in"
	case t.check("OP"):
		op = t.read()
	default:
		return nil, t.fail("expected marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in")
	}
	t.consume("WS")
	r, err := parseVar(t)
	if err != nil {
		return nil, err
	}
	t.consume("WS")
	it := &item{lhs: l, rhs: r, op: op}
	// PEP 685: extra names compare normalised; so do the members of "extras".
	switch {
	case l.variable && l.value == "extra" && !r.variable:
		it.rhs.value = NormalizeName(r.value)
	case r.variable && r.value == "extra" && !l.variable:
		it.lhs.value = NormalizeName(l.value)
	case r.variable && (r.value == "extras" || r.value == "dependency_groups") && !l.variable:
		it.lhs.value = NormalizeName(l.value)
	}
	return it, nil
}

func parseVar(t *tokenizer) (operand, error) {
	switch {
	case t.check("VARIABLE"):
		v := strings.ReplaceAll(t.read(), ".", "_")
		if v == "python_implementation" {
			v = "platform_python_implementation"
		}
		return operand{variable: true, value: v}, nil
	case t.check("QUOTED_STRING"):
		pos := t.pos
		s := t.read()
		v, err := unquote(s)
		if err != nil {
			return operand{}, &SyntaxError{Source: t.src, Pos: pos, Message: "invalid quoted string"}
		}
		return operand{value: v}, nil
	}
	return operand{}, t.fail("expected a marker variable or quoted string")
}

// unquote reads a Python string literal the way ast.literal_eval does for the simple
// escapes; anything else with a backslash is refused rather than guessed.
func unquote(s string) (string, error) {
	body := s[1 : len(s)-1]
	if !strings.Contains(body, `\`) {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(body) {
			return "", errors.New("trailing backslash")
		}
		switch body[i] {
		case '\\', '\'', '"':
			b.WriteByte(body[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'x', 'u', 'U', 'N', '0', '1', '2', '3', '4', '5', '6', '7', 'a', 'b', 'f', 'v', 'r', '\n':
			return "", errors.New("unsupported escape")
		default:
			b.WriteByte('\\')
			b.WriteByte(body[i])
		}
	}
	return b.String(), nil
}

// IsEmpty reports the empty marker.
func (m Marker) IsEmpty() bool { return len(m.root) == 0 }

// String is the canonical form, as packaging prints it.
func (m Marker) String() string {
	if m.IsEmpty() {
		return ""
	}
	return format(m.root, true)
}

func format(n node, first bool) string {
	switch x := n.(type) {
	case []node:
		if len(x) == 1 {
			switch x[0].(type) {
			case []node, *item:
				return format(x[0], first)
			}
		}
		parts := make([]string, len(x))
		for i, y := range x {
			parts[i] = format(y, false)
		}
		if first {
			return strings.Join(parts, " ")
		}
		return "(" + strings.Join(parts, " ") + ")"
	case *item:
		return x.lhs.String() + " " + x.op + " " + x.rhs.String()
	case string:
		return x
	}
	return ""
}

// Evaluate evaluates the marker in env. A missing "extra" is the empty string, as in
// packaging's "metadata" context; any other missing variable is an error.
func (m Marker) Evaluate(env Env) (bool, error) {
	if m.IsEmpty() {
		return true, nil
	}
	return evalList(m.root, env)
}

func evalList(list []node, env Env) (bool, error) {
	anyGroup := false
	cur := true
	for _, n := range list {
		switch x := n.(type) {
		case string:
			if x == "or" {
				anyGroup = anyGroup || cur
				cur = true
			}
		case []node:
			v, err := evalList(x, env)
			if err != nil {
				return false, err
			}
			cur = cur && v
		case *item:
			v, err := evalItem(x, env)
			if err != nil {
				return false, err
			}
			cur = cur && v
		}
	}
	return anyGroup || cur, nil
}

func lookup(env Env, key string) (string, error) {
	v, ok := env[key]
	if !ok {
		if key == "extra" {
			return "", nil
		}
		return "", fmt.Errorf("marker variable %q is not defined for this target: %w", key, ErrUndefined)
	}
	if key == "extra" && v != "" {
		v = NormalizeName(v)
	}
	if key == "python_full_version" && strings.HasSuffix(v, "+") {
		v += "local"
	}
	return v, nil
}

var versionKeys = map[string]bool{
	"implementation_version": true, "platform_release": true,
	"python_full_version": true, "python_version": true,
}

func evalItem(it *item, env Env) (bool, error) {
	var key, lhs, rhs string
	var err error
	if it.lhs.variable {
		key = it.lhs.value
		if lhs, err = lookup(env, key); err != nil {
			return false, err
		}
		rhs = it.rhs.value
	} else {
		key = it.rhs.value
		lhs = it.lhs.value
		if rhs, err = lookup(env, key); err != nil {
			return false, err
		}
	}
	if key == "extras" || key == "dependency_groups" {
		return false, fmt.Errorf("marker variable %q is not supported: %w", key, ErrUndefined)
	}
	if versionKeys[key] {
		if sp, err := pep440.ParseSpecifier(it.op + rhs); err == nil {
			return pep440.Specifiers{sp}.MatchString(lhs), nil
		}
	}
	switch it.op {
	case "in":
		return strings.Contains(rhs, lhs), nil
	case "not in":
		return !strings.Contains(rhs, lhs), nil
	case "==", "<=", ">=":
		return lhs == rhs, nil
	case "!=":
		return lhs != rhs, nil
	case "<", ">":
		return false, nil
	}
	return false, fmt.Errorf("%q %s %q: %w", lhs, it.op, rhs, ErrUndefined)
}
