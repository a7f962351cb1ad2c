package pep440

import (
	"fmt"
	"strings"
)

// Parse parses a version in any spelling PEP 440 permits: a hand-written scanner that
// accepts exactly what the specification's regular expression does (the tests check it
// against that expression), without its cost.
func Parse(s string) (Version, error) {
	if simple(s) {
		var v Version
		v.Release = make([]uint64, 0, 4)
		n, i, ok := uint64(0), 0, false
		for ; i <= len(s); i++ {
			if i == len(s) || s[i] == '.' {
				if !ok {
					return Version{}, fmt.Errorf("%q: %w", s, ErrInvalid)
				}
				v.Release = append(v.Release, n)
				n, ok = 0, false
				continue
			}
			d := uint64(s[i] - '0')
			if n > (1<<64-1-d)/10 {
				return Version{}, fmt.Errorf("%q: number too large: %w", s, ErrInvalid)
			}
			n, ok = n*10+d, true
		}
		return v, nil
	}
	p := scanner{s: strings.TrimSpace(s)}
	v, ok := p.version()
	if !ok || !isASCII(p.s) {
		if p.overflow {
			return Version{}, fmt.Errorf("%q: number too large: %w", s, ErrInvalid)
		}
		return Version{}, fmt.Errorf("%q: %w", s, ErrInvalid)
	}
	return v, nil
}

type scanner struct {
	s        string
	i        int
	overflow bool
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isSep(c byte) bool { return c == '.' || c == '_' || c == '-' }

func (p *scanner) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// number reads one or more digits.
func (p *scanner) number() (uint64, bool) {
	start := p.i
	var n uint64
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		d := uint64(p.s[p.i] - '0')
		if n > (1<<64-1-d)/10 {
			p.overflow = true
			return 0, false
		}
		n = n*10 + d
		p.i++
	}
	return n, p.i > start
}

// word reads one of words (case-insensitively), longest first as they are listed.
func (p *scanner) word(words ...string) (string, bool) {
	for _, w := range words {
		if p.i+len(w) > len(p.s) {
			continue
		}
		match := true
		for j := 0; j < len(w); j++ {
			if lower(p.s[p.i+j]) != w[j] {
				match = false
				break
			}
		}
		if match {
			p.i += len(w)
			return w, true
		}
	}
	return "", false
}

func (p *scanner) optSep() {
	if isSep(p.peek()) {
		p.i++
	}
}

func (p *scanner) version() (Version, bool) {
	var v Version
	if lower(p.peek()) == 'v' {
		p.i++
	}
	// Epoch: digits "!".
	start := p.i
	if n, ok := p.number(); ok && p.peek() == '!' {
		v.Epoch = n
		p.i++
	} else {
		if p.overflow {
			return v, false
		}
		p.i = start
	}
	// Release: digits ("." digits)*.
	n, ok := p.number()
	if !ok {
		return v, false
	}
	v.Release = append(make([]uint64, 0, 4), n)
	for p.peek() == '.' {
		save := p.i
		p.i++
		n, ok := p.number()
		if !ok {
			if p.overflow {
				return v, false
			}
			p.i = save
			break
		}
		v.Release = append(v.Release, n)
	}
	// Pre-release: [._-]? (alpha|a|beta|b|preview|pre|c|rc) [._-]? digits?
	save := p.i
	p.optSep()
	if w, ok := p.word("alpha", "beta", "preview", "pre", "rc", "a", "b", "c"); ok {
		switch w {
		case "alpha", "a":
			v.PreKind = PreAlpha
		case "beta", "b":
			v.PreKind = PreBeta
		default:
			v.PreKind = PreRC
		}
		p.optSep()
		if n, ok := p.number(); ok {
			v.PreNum = n
		} else if p.overflow {
			return v, false
		}
	} else {
		p.i = save
	}
	// Post-release: "-" digits | [._-]? (post|rev|r) [._-]? digits?
	save = p.i
	if p.peek() == '-' {
		p.i++
		if n, ok := p.number(); ok {
			v.HasPost, v.PostNum = true, n
		} else {
			if p.overflow {
				return v, false
			}
			p.i = save
		}
	}
	if !v.HasPost {
		p.optSep()
		if _, ok := p.word("post", "rev", "r"); ok {
			v.HasPost = true
			p.optSep()
			if n, ok := p.number(); ok {
				v.PostNum = n
			} else if p.overflow {
				return v, false
			}
		} else {
			p.i = save
		}
	}
	// Development release: [._-]? dev [._-]? digits?
	save = p.i
	p.optSep()
	if _, ok := p.word("dev"); ok {
		v.HasDev = true
		p.optSep()
		if n, ok := p.number(); ok {
			v.DevNum = n
		} else if p.overflow {
			return v, false
		}
	} else {
		p.i = save
	}
	// Local: "+" [a-z0-9]+ ([._-][a-z0-9]+)*
	if p.peek() == '+' {
		p.i++
		for {
			start := p.i
			for p.i < len(p.s) && isAlnum(p.s[p.i]) {
				p.i++
			}
			if p.i == start {
				return v, false
			}
			part := p.s[start:p.i]
			if isDigits(part) {
				var n uint64
				for k := 0; k < len(part); k++ {
					d := uint64(part[k] - '0')
					if n > (1<<64-1-d)/10 {
						p.overflow = true
						return v, false
					}
					n = n*10 + d
				}
				v.Local = append(v.Local, LocalPart{Num: n, IsNum: true})
			} else {
				v.Local = append(v.Local, LocalPart{Str: strings.ToLower(part)})
			}
			if !isSep(p.peek()) {
				break
			}
			p.i++
		}
	}
	return v, p.i == len(p.s)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
