package pep508

import (
	"fmt"
	"regexp"
	"strings"
)

// SyntaxError is a requirement or marker that does not parse; Pos is a byte offset.
type SyntaxError struct {
	Source  string
	Pos     int
	Message string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at column %d of %q", e.Message, e.Pos+1, e.Source)
}

const specPre = `(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?`
const specPost = `(?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?`
const specDev = `(?:[-_.]?dev[-_.]?[0-9]*)?`

// Token rules, as pypa/packaging's tokenizer has them; each is matched at the current
// position only.
var rules = map[string]*regexp.Regexp{
	"LEFT_PARENTHESIS":  regexp.MustCompile(`^\(`),
	"RIGHT_PARENTHESIS": regexp.MustCompile(`^\)`),
	"LEFT_BRACKET":      regexp.MustCompile(`^\[`),
	"RIGHT_BRACKET":     regexp.MustCompile(`^\]`),
	"SEMICOLON":         regexp.MustCompile(`^;`),
	"COMMA":             regexp.MustCompile(`^,`),
	"QUOTED_STRING":     regexp.MustCompile(`^(?:'[^']*'|"[^"]*")`),
	"OP":                regexp.MustCompile(`^(?:===|==|~=|!=|<=|>=|<|>)`),
	"BOOLOP":            regexp.MustCompile(`^(?:or|and)\b`),
	"IN":                regexp.MustCompile(`^in\b`),
	"NOT":               regexp.MustCompile(`^not\b`),
	"VARIABLE": regexp.MustCompile(`^(?:python_version|python_full_version|os[._]name|sys[._]platform|` +
		`platform_(?:release|system)|platform[._](?:version|machine|python_implementation)|` +
		`python_implementation|implementation_(?:name|version)|extras?|dependency_groups)\b`),
	"SPECIFIER": regexp.MustCompile(`(?i)^(?:(?:===\s*[^\s;)]*)|` +
		`(?:(?:==|!=)\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:\.\*|` + specPre + specPost + specDev +
		`(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?)?)|` +
		`(?:~=\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+` + specPre + specPost + specDev + `)|` +
		`(?:(?:<=|>=|<|>)\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*` + specPre + specPost + specDev + `))`),
	"AT":                        regexp.MustCompile(`^@`),
	"URL":                       regexp.MustCompile(`^[^ \t]+`),
	"IDENTIFIER":                regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*\b`),
	"VERSION_PREFIX_TRAIL":      regexp.MustCompile(`^\.\*`),
	"VERSION_LOCAL_LABEL_TRAIL": regexp.MustCompile(`^\+[a-z0-9]+(?:[-_.][a-z0-9]+)*`),
	"WS":                        regexp.MustCompile(`^[ \t]+`),
}

// Rules that begin with \b in packaging's tokenizer: the previous byte must not be a
// word character.
var wordStart = map[string]bool{"BOOLOP": true, "IN": true, "NOT": true, "VARIABLE": true, "IDENTIFIER": true}

type tokenizer struct {
	src     string
	pos     int
	next    string // text of the token matched by the last successful check
	nextLen int
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// check tries rule at the current position and remembers the token for read.
func (t *tokenizer) check(rule string) bool {
	if rule == "END" {
		return t.pos == len(t.src)
	}
	if wordStart[rule] && t.pos > 0 && isWord(t.src[t.pos-1]) {
		return false
	}
	m := rules[rule].FindString(t.src[t.pos:])
	if m == "" {
		return false
	}
	if rule == "SPECIFIER" && !strings.HasPrefix(m, "===") && !ascii(m) {
		return false
	}
	t.next, t.nextLen = m, len(m)
	return true
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (t *tokenizer) read() string {
	s := t.next
	t.pos += t.nextLen
	t.next, t.nextLen = "", 0
	return s
}

func (t *tokenizer) consume(rule string) {
	if t.check(rule) {
		t.read()
	}
}

func (t *tokenizer) fail(msg string) error {
	return &SyntaxError{Source: t.src, Pos: t.pos, Message: msg}
}

func (t *tokenizer) expect(rule, what string) (string, error) {
	if !t.check(rule) {
		return "", t.fail("expected " + what)
	}
	return t.read(), nil
}
