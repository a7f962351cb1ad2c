package conda

import (
	"fmt"
	"regexp"
	"strings"
)

// pyRegex is a regular expression written for Python's re module and used with
// re.match (anchored at the start). Go's RE2 covers the syntax conda specs use, except
// the lookahead conda itself writes when it intersects two build globs:
// "^(?=A)(?:B)$" — A must match at the start and B must match the whole string. Such
// patterns, nested or not, are split into RE2 expressions matched in turn.
type pyRegex struct {
	re *regexp.Regexp // a plain expression, or nil for a lookahead pair
	// look and rest are the two halves of "(?=look)(?:rest)".
	look, rest *pyRegex
}

// compilePyRegex compiles a "^...$" pattern.
func compilePyRegex(p string) (*pyRegex, error) {
	if !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
		return nil, fmt.Errorf("regular expression %q must start with '^' and end with '$'", p)
	}
	if re, err := regexp.Compile(p); err == nil {
		return &pyRegex{re: re}, nil
	} else if !strings.Contains(p, "(?=") {
		return nil, err
	}
	return compileLookahead(p[1:len(p)-1], true)
}

// compileLookahead compiles an unanchored body; end tells whether it must reach the
// end of the string.
func compileLookahead(body string, end bool) (*pyRegex, error) {
	if strings.HasPrefix(body, "(?=") {
		close := matchingParen(body, 0)
		if close > 0 && strings.HasPrefix(body[close+1:], "(?:") && matchingParen(body, close+1) == len(body)-1 {
			look, err := compileLookahead(body[3:close], false)
			if err != nil {
				return nil, err
			}
			rest, err := compileLookahead(body[close+4:len(body)-1], end)
			if err != nil {
				return nil, err
			}
			return &pyRegex{look: look, rest: rest}, nil
		}
	}
	expr := "^(?:" + body + ")"
	if end {
		expr += "$"
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return &pyRegex{re: re}, nil
}

// matchingParen returns the index of the ')' closing the '(' at i, skipping escapes
// and character classes; -1 if none.
func matchingParen(s string, i int) int {
	depth := 0
	inClass := false
	for j := i; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\\':
			j++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

func (r *pyRegex) MatchString(s string) bool {
	if r.re != nil {
		return r.re.MatchString(s)
	}
	return r.look.MatchString(s) && r.rest.MatchString(s)
}
