package recipes

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// knownPlatforms are the conda subdirs reprobuild builds for (conda.ParsePlatform is
// the authority; this list only feeds "did you mean").
var knownPlatforms = []string{
	"linux-64", "linux-aarch64", "linux-armv7l", "linux-ppc64le", "linux-s390x",
	"osx-64", "osx-arm64", "win-64", "win-arm64",
}

// platformAliases maps names from other ecosystems (Docker, uname) to conda subdirs.
var platformAliases = map[string]string{
	"linux-arm64": "linux-aarch64", "linux/arm64": "linux-aarch64", "linux-amd64": "linux-64",
	"linux/amd64": "linux-64", "linux-x86_64": "linux-64", "x86_64": "linux-64", "amd64": "linux-64",
	"aarch64": "linux-aarch64", "arm64": "linux-aarch64", "darwin-arm64": "osx-arm64", "darwin-amd64": "osx-64",
}

// checkPlatform reports whether t names a conda platform that can be a build target.
func checkPlatform(t string) (string, bool) {
	if t == "noarch" {
		return "\"noarch\" is not a platform an image can run on. Name a real platform such as \"linux-64\".", false
	}
	if _, err := conda.ParsePlatform(t); err == nil {
		return "", true
	}
	msg := fmt.Sprintf("%q is not a platform reprobuild builds for. Use a conda subdir name such as \"linux-64\" or \"linux-aarch64\".", t)
	if s, ok := platformAliases[t]; ok {
		msg += fmt.Sprintf(" Did you mean %q?", s)
	} else if s := suggest(t, knownPlatforms); s != "" {
		msg += fmt.Sprintf(" Did you mean %q?", s)
	}
	return msg, false
}

// specName is the package name of a match spec (without a channel prefix).
func specName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "::"); i >= 0 {
		s = s[i+2:]
	}
	end := strings.IndexAny(s, " <>=!~[")
	if end >= 0 {
		s = s[:end]
	}
	return s
}

// checkSpec validates a conda match spec as written in a recipe with conda's own parser.
// On failure it returns a message that says how to fix the spec and the byte offset of
// the offending part (found by localSpecCheck, which knows where the name, version and
// build are).
func checkSpec(s string) (string, int, bool) {
	_, err := conda.ParseMatchSpec(s)
	if err == nil {
		return "", 0, true
	}
	reason := err.Error()
	var mse *conda.MatchSpecError
	if errors.As(err, &mse) {
		reason = mse.Reason
		if mse.Err != nil {
			reason = mse.Err.Error()
		}
	}
	hint, off, ok := localSpecCheck(s)
	if ok {
		// conda rejects something the local scan allows: point at the version part.
		name := specName(s)
		off = strings.Index(s, name) + len(name)
		for off < len(s) && s[off] == ' ' {
			off++
		}
		if off >= len(s) {
			off = 0
		}
		hint = "Write a package name with an optional version and build, e.g. \"numpy >=1.26,<2\"."
	}
	return fmt.Sprintf("conda rejects it (%s). %s", strings.TrimSuffix(reason, "."), upperFirst(hint)), off, false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// localSpecCheck is a structural scan of a spec (name, version, build) that finds where a
// problem is; conda.ParseMatchSpec decides whether there is one.
func localSpecCheck(s string) (string, int, bool) {
	if strings.TrimSpace(s) == "" {
		return "the spec is empty. Write a package name with an optional version, e.g. \"numpy >=1.26\".", 0, false
	}
	lead := len(s) - len(strings.TrimLeft(s, " \t"))
	body := s[lead:]
	nameStart := lead
	if i := strings.LastIndex(body, "::"); i >= 0 {
		nameStart = lead + i + 2
	}
	rest := s[nameStart:]
	end := strings.IndexAny(rest, " <>=!~[")
	if end < 0 {
		end = len(rest)
	}
	name := rest[:end]
	if name == "" {
		return "the spec has no package name. Start it with the name, e.g. \"numpy >=1.26\".", nameStart, false
	}
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '*') {
			if c >= 'A' && c <= 'Z' {
				return fmt.Sprintf("package names are lowercase; write %q.", strings.ToLower(name)), nameStart + i, false
			}
			return fmt.Sprintf("%q cannot appear in a package name. Separate the name and version with a space, e.g. \"numpy >=1.26\".", string(c)), nameStart + i, false
		}
	}
	tail := rest[end:]
	off := nameStart + end
	if i := strings.IndexByte(tail, '['); i >= 0 {
		if !strings.HasSuffix(strings.TrimSpace(tail), "]") {
			return "the bracket part is not closed. End it with ']', e.g. \"numpy[version='>=1.26']\".", off + i, false
		}
		tail = tail[:i]
	}
	fields := strings.Fields(tail)
	if len(fields) > 2 {
		idx := strings.Index(tail, fields[2])
		return "a match spec has at most a name, a version and a build. Remove the extra part, or join version constraints with ',' (\"numpy >=1.26,<2\").", off + idx, false
	}
	if len(fields) >= 1 {
		v := fields[0]
		idx := strings.Index(tail, v)
		if msg, at, ok := checkVersionSpec(v); !ok {
			return msg, off + idx + at, false
		}
	}
	return "", 0, true
}

// checkVersionSpec checks the characters and operator placement of a version constraint.
func checkVersionSpec(v string) (string, int, bool) {
	for _, part := range splitKeep(v, ",|") {
		p := part.text
		if p == "" {
			return "there is an empty constraint between ',' or '|' separators; remove the extra separator.", part.at, false
		}
		op := 0
		for op < len(p) && strings.ContainsRune("<>=!~", rune(p[op])) {
			op++
		}
		switch p[:op] {
		case "", "<", ">", "<=", ">=", "==", "!=", "~=", "=":
		default:
			return fmt.Sprintf("%q is not a version operator. Use one of <, <=, >, >=, ==, !=, ~=.", p[:op]), part.at, false
		}
		ver := p[op:]
		if ver == "" {
			return "an operator has no version after it, e.g. \">=1.26\".", part.at, false
		}
		for i, c := range ver {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._*+!-", c)) {
				return fmt.Sprintf("%q cannot appear in a version.", string(c)), part.at + op + i, false
			}
		}
	}
	return "", 0, true
}

type piece struct {
	text string
	at   int
}

func splitKeep(s, seps string) []piece {
	var out []piece
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || strings.ContainsRune(seps, rune(s[i])) {
			out = append(out, piece{s[start:i], start})
			start = i + 1
		}
	}
	return out
}
