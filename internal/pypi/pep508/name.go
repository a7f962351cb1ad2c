package pep508

import (
	"regexp"
	"strings"
)

var (
	validNameRE = regexp.MustCompile(`(?i)^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$`)
	normNameRE  = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
)

// NormalizeName is PEP 503's normal form of a project (or extra) name: lower case,
// each run of "-", "_" and "." replaced by one "-".
func NormalizeName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// ValidName reports whether name is an acceptable distribution name.
func ValidName(name string) bool { return validNameRE.MatchString(name) }

// IsNormalized reports whether name is already in PEP 503 normal form.
func IsNormalized(name string) bool { return normNameRE.MatchString(name) }
