package conda

import (
	"fmt"
	"strings"
)

// VersionSpec is a parsed conda version constraint (conda's VersionSpec), e.g.
// ">=1.8,<2|1.7.*". Its grammar, as conda reads it:
//
//   - ',' (and) binds tighter than '|' (or); parentheses group.
//   - "==v" exact (by VersionOrder equality), "!=v", "<", "<=", ">", ">=".
//   - "=v" and "v*"/"v.*" match versions that start with v (see Version.StartsWith);
//     "!=v.*" negates that; ">=v.*" and "=v.*" drop the ".*"; "~=v" is a compatible
//     release (>= v and starting with v minus its last segment).
//   - A bare version means "==v"; "*" matches everything.
//   - A '*' that is not trailing makes a glob ("1.*.1"), matched as a regular
//     expression against the version text; "^...$" is a regular expression.
//
// The zero VersionSpec matches everything.
type VersionSpec struct {
	str  string
	root *vnode
}

type vop uint8

const (
	opAll vop = iota // "*"
	opAnd
	opOr
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opStartsWith
	opNotStartsWith
	opCompatible
	opRegex
	opExactString // a spec containing '@': compared as text
)

type vnode struct {
	op       vop
	ver      Version  // operand of comparison operators
	prefix   Version  // the startswith operand of "~="
	rx       *pyRegex // opRegex
	text     string   // the leaf's canonical text
	children []*vnode
	exact    bool
	// badPrefix records that "~=" lacks a prefix conda could parse; conda raises at
	// match time, which we report as no match.
	badPrefix bool
}

// VersionSpecError reports a version spec conda rejects.
type VersionSpecError struct {
	Spec   string
	Reason string
}

func (e *VersionSpecError) Error() string {
	return fmt.Sprintf("invalid version spec %q: %s", e.Spec, e.Reason)
}

// ParseVersionSpec parses a conda version spec.
func ParseVersionSpec(s string) (VersionSpec, error) {
	n, err := parseVSpec(s)
	if err != nil {
		return VersionSpec{}, err
	}
	return VersionSpec{str: n.text, root: n}, nil
}

// String returns conda's canonical text of the spec (e.g. "1.7*" becomes "1.7.*").
func (s VersionSpec) String() string {
	if s.root == nil {
		return "*"
	}
	return s.str
}

// IsExact reports whether the spec pins one version ("==1.2" or a bare "1.2").
func (s VersionSpec) IsExact() bool { return s.root != nil && s.root.exact }

// MatchesAll reports whether the spec is "*" (or the zero VersionSpec).
func (s VersionSpec) MatchesAll() bool { return s.root == nil || s.root.op == opAll }

// Match reports whether v satisfies the spec.
func (s VersionSpec) Match(v Version) bool {
	if s.root == nil {
		return true
	}
	return s.root.match(&v)
}

// MatchString parses v and matches it; a version conda cannot parse only matches
// specs that never parse it ("*", regular expressions, '@' text specs).
func (s VersionSpec) MatchString(v string) bool {
	pv, err := ParseVersion(v)
	if err != nil {
		if s.root == nil {
			return true
		}
		return s.root.matchUnparsed(v)
	}
	return s.Match(pv)
}

func (n *vnode) matchUnparsed(v string) bool {
	switch n.op {
	case opAll:
		return true
	case opRegex:
		return n.rx.MatchString(v)
	case opExactString:
		return n.text == v
	case opAnd:
		for _, c := range n.children {
			if !c.matchUnparsed(v) {
				return false
			}
		}
		return true
	case opOr:
		for _, c := range n.children {
			if c.matchUnparsed(v) {
				return true
			}
		}
	}
	return false
}

func (n *vnode) match(v *Version) bool {
	switch n.op {
	case opAll:
		return true
	case opAnd:
		for _, c := range n.children {
			if !c.match(v) {
				return false
			}
		}
		return true
	case opOr:
		for _, c := range n.children {
			if c.match(v) {
				return true
			}
		}
		return false
	case opEq:
		return v.Compare(n.ver) == 0
	case opNe:
		return v.Compare(n.ver) != 0
	case opLt:
		return v.Compare(n.ver) < 0
	case opLe:
		return v.Compare(n.ver) <= 0
	case opGt:
		return v.Compare(n.ver) > 0
	case opGe:
		return v.Compare(n.ver) >= 0
	case opStartsWith:
		return v.StartsWith(n.ver)
	case opNotStartsWith:
		return !v.StartsWith(n.ver)
	case opCompatible:
		if n.badPrefix {
			return false
		}
		return v.Compare(n.ver) >= 0 && v.StartsWith(n.prefix)
	case opRegex:
		return n.rx.MatchString(v.orig)
	case opExactString:
		return n.text == v.orig
	}
	return false
}

// needsTree mirrors conda's test for a spec that must go through the expression parser:
// any of "()|,^$" before the first newline.
func needsTree(s string) bool {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.ContainsAny(s, "()|,^$")
}

func parseVSpec(s string) (*vnode, error) { return parseVSpecDepth(s, 0) }

func parseVSpecDepth(s string, depth int) (*vnode, error) {
	if needsTree(s) {
		if depth > 2 {
			return nil, &VersionSpecError{Spec: s, Reason: "expression does not settle into a tree"}
		}
		t, err := treeify(s)
		if err != nil {
			return nil, err
		}
		if t.op == 0 {
			return parseLeaf(t.leaf)
		}
		return buildTree(t, depth)
	}
	return parseLeaf(s)
}

// tree is the expression tree conda's treeify builds: a leaf string or an operator
// with operands.
type tree struct {
	op   byte // 0 for a leaf, ',' or '|'
	leaf string
	args []*tree
}

func buildTree(t *tree, depth int) (*vnode, error) {
	if t.op == 0 {
		return parseVSpecDepth(t.leaf, depth+1)
	}
	n := &vnode{op: opAnd}
	if t.op == '|' {
		n.op = opOr
	}
	texts := make([]*tree, 0, len(t.args))
	for _, a := range t.args {
		c, err := buildTree(a, depth)
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
		texts = append(texts, &tree{leaf: c.text})
	}
	n.text = untreeify(&tree{op: t.op, args: texts}, false, 0)
	return n, nil
}

// untreeify writes a tree back as text; conda parenthesises nested groups.
func untreeify(t *tree, inAnd bool, depth int) string {
	if t.op == 0 {
		return t.leaf
	}
	parts := make([]string, len(t.args))
	for i, a := range t.args {
		parts[i] = untreeify(a, t.op == ',', depth+1)
	}
	res := strings.Join(parts, string(t.op))
	if t.op == '|' && (inAnd || depth > 0) {
		return "(" + res + ")"
	}
	if t.op == ',' && depth > 0 {
		return "(" + res + ")"
	}
	return res
}

// vspecTokens splits "(" + s + ")" the way conda's VSPEC_TOKENS regular expression
// does: a regex "^...$" (with leading blanks), one of "()|," (with leading blanks), or
// a run of anything else.
func vspecTokens(s string) []string {
	var toks []string
	i := 0
	for i < len(s) {
		// Alternative 1: \s*\^[^$]*[$]
		j := i
		for j < len(s) && isPyRegexSpace(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '^' {
			if k := strings.IndexByte(s[j+1:], '$'); k >= 0 {
				end := j + 1 + k + 1
				toks = append(toks, s[i:end])
				i = end
				continue
			}
		}
		// Alternative 2: \s*[()|,]
		if j < len(s) && strings.IndexByte("()|,", s[j]) >= 0 {
			toks = append(toks, s[i:j+1])
			i = j + 1
			continue
		}
		// Alternative 3: [^()|,]+
		k := i
		for k < len(s) && strings.IndexByte("()|,", s[k]) < 0 {
			k++
		}
		toks = append(toks, s[i:k])
		i = k
	}
	return toks
}

// isPyRegexSpace is \s for ASCII; non-ASCII blanks are rare enough in specs that
// treating them as text changes no verdict conda would give a valid spec.
func isPyRegexSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || (c >= 0x1c && c <= 0x1f)
}

func treeify(spec string) (*tree, error) {
	fail := func(reason string) error { return &VersionSpecError{Spec: spec, Reason: reason} }
	toks := vspecTokens("(" + spec + ")")
	var output []*tree
	var stack []byte
	applyOps := func(stop string) error {
		for len(stack) > 0 && strings.IndexByte(stop, stack[len(stack)-1]) < 0 {
			if len(output) < 2 {
				return fail("cannot join single expression")
			}
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			r := output[len(output)-1]
			l := output[len(output)-2]
			output = output[:len(output)-2]
			n := &tree{op: c}
			if l.op == c {
				n.args = append(n.args, l.args...)
			} else {
				n.args = append(n.args, l)
			}
			if r.op == c {
				n.args = append(n.args, r.args...)
			} else {
				n.args = append(n.args, r)
			}
			output = append(output, n)
		}
		return nil
	}
	for _, tok := range toks {
		item := pyStrip(tok)
		switch item {
		case "|":
			if err := applyOps("("); err != nil {
				return nil, err
			}
			stack = append(stack, '|')
		case ",":
			if err := applyOps("|("); err != nil {
				return nil, err
			}
			stack = append(stack, ',')
		case "(":
			stack = append(stack, '(')
		case ")":
			if err := applyOps("("); err != nil {
				return nil, err
			}
			if len(stack) == 0 || stack[len(stack)-1] != '(' {
				return nil, fail("expression must start with '('")
			}
			stack = stack[:len(stack)-1]
		default:
			output = append(output, &tree{leaf: item})
		}
	}
	if len(stack) > 0 {
		return nil, fail(fmt.Sprintf("unable to convert to expression tree: %q", string(stack)))
	}
	if len(output) == 0 {
		return nil, fail("unable to determine version from spec")
	}
	return output[0], nil
}

// splitOperator finds conda's relational operator at the start of s: the maximal run of
// operator characters must be one of = == != <= >= < > ~=, followed by at least one
// non-blank character and nothing blank after it.
func splitOperator(s string) (op, rest string, ok bool) {
	i := 0
	for i < len(s) && strings.IndexByte("=<>!~", s[i]) >= 0 {
		i++
	}
	op, rest = s[:i], s[i:]
	switch op {
	case "=", "==", "!=", "<=", ">=", "<", ">", "~=":
	default:
		return "", "", false
	}
	if rest == "" || strings.IndexFunc(rest, pyIsSpace) >= 0 {
		return "", "", false
	}
	return op, rest, true
}

func parseLeaf(raw string) (*vnode, error) {
	s := pyStrip(raw)
	if s == "" {
		return nil, &VersionSpecError{Spec: raw, Reason: "empty version spec"}
	}
	fail := func(reason string) error { return &VersionSpecError{Spec: s, Reason: reason} }
	n := &vnode{text: s}
	switch {
	case s[0] == '^' || s[len(s)-1] == '$':
		if s[0] != '^' || s[len(s)-1] != '$' {
			return nil, fail("regex specs must start with '^' and end with '$'")
		}
		rx, err := compilePyRegex(s)
		if err != nil {
			return nil, fail("invalid regular expression: " + err.Error())
		}
		n.op, n.rx = opRegex, rx
	case strings.IndexByte("=<>!~", s[0]) >= 0:
		op, vs, ok := splitOperator(s)
		if !ok {
			return nil, fail("invalid operator")
		}
		if strings.HasSuffix(vs, ".*") {
			switch op {
			case "=", ">=":
				vs = vs[:len(vs)-2]
			case "!=":
				vs = vs[:len(vs)-2]
				op = "!=startswith"
			case "~=":
				return nil, fail("invalid operator with '.*'")
			default:
				// conda warns that the ".*" is superfluous and ignores it.
				vs = vs[:len(vs)-2]
			}
		}
		v, err := ParseVersion(vs)
		if err != nil {
			return nil, err
		}
		n.ver = v
		switch op {
		case "==":
			n.op, n.exact = opEq, true
		case "!=":
			n.op = opNe
		case "<":
			n.op = opLt
		case "<=":
			n.op = opLe
		case ">":
			n.op = opGt
		case ">=":
			n.op = opGe
		case "=":
			n.op = opStartsWith
		case "!=startswith":
			n.op = opNotStartsWith
		case "~=":
			n.op = opCompatible
			// conda takes str(version) up to its last '.' as the prefix.
			norm := v.norm
			prefix := ""
			if i := strings.LastIndexByte(norm, '.'); i >= 0 {
				prefix = norm[:i]
			}
			p, err := ParseVersion(prefix)
			if err != nil {
				n.badPrefix = true
			} else {
				n.prefix = p
			}
		}
	case s == "*":
		n.op = opAll
	case strings.Contains(strings.TrimRight(s, "*"), "*"):
		rx := strings.NewReplacer(".", `\.`, "+", `\+`, "*", ".*").Replace(s)
		re, err := compilePyRegex("^(?:" + rx + ")$")
		if err != nil {
			return nil, fail("invalid glob: " + err.Error())
		}
		n.op, n.rx = opRegex, re
	case s[len(s)-1] == '*':
		if !strings.HasSuffix(s, ".*") {
			s = s[:len(s)-1] + ".*"
			n.text = s
		}
		vs := strings.TrimRight(strings.TrimRight(s, "*"), ".")
		v, err := ParseVersion(vs)
		if err != nil {
			return nil, err
		}
		n.op, n.ver = opStartsWith, v
	case strings.IndexByte(s, '@') < 0:
		v, err := ParseVersion(s)
		if err != nil {
			return nil, err
		}
		n.op, n.ver, n.exact = opEq, v, true
	default:
		n.op, n.exact = opExactString, true
	}
	return n, nil
}
