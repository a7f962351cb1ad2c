package activate

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Dir is where activation scripts live, relative to the environment prefix.
const Dir = "etc/conda/activate.d"

// Script is one activation script: its path in the image (no leading slash) and bytes.
type Script struct {
	Path string
	Data []byte
}

// IsScript reports whether p (an image path without leading slash) is a POSIX shell
// activation script of the environment at prefix ("/opt/env"). Other shells' scripts
// (.fish, .csh, .bat, .ps1) are not sourced by sh.
func IsScript(p, prefix string) bool {
	dir := strings.TrimPrefix(path.Join(prefix, Dir), "/")
	return path.Dir(p) == dir && strings.HasSuffix(p, ".sh")
}

// Result is what Evaluate found.
type Result struct {
	// Env are the exported variables the scripts set, when Exact.
	Env map[string]string
	// Exact says the scripts were fully understood: sourcing them in a container whose
	// environment is the known one gives exactly Env.
	Exact bool
	// Reason says why not, as "PATH:LINE: what".
	Reason string
}

// Evaluate runs the scripts, in the order conda sources them (sorted by path), over the
// known environment (which must hold CONDA_PREFIX) and returns the variables they
// export. It understands comments, `export NAME=VALUE`, `NAME=VALUE`, `export NAME`,
// and values made of literals, quotes and $NAME / ${NAME} of known variables.
func Evaluate(scripts []Script, known map[string]string) Result {
	sorted := append([]Script(nil), scripts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	vars := map[string]string{}
	for k, v := range known {
		vars[k] = v
	}
	exported := map[string]bool{}
	for _, s := range sorted {
		for i, raw := range strings.Split(string(s.Data), "\n") {
			line := strings.TrimSpace(raw)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			for _, cmd := range splitCommands(line) {
				if err := evalLine(cmd, vars, exported); err != nil {
					return Result{Reason: fmt.Sprintf("/%s:%d: %v", s.Path, i+1, err)}
				}
			}
		}
	}
	env := map[string]string{}
	for k := range exported {
		if v, ok := vars[k]; ok && (known[k] != v || !inKnown(known, k)) {
			env[k] = v
		}
	}
	return Result{Env: env, Exact: true}
}

func inKnown(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// splitCommands splits a line at the semicolons outside quotes.
func splitCommands(line string) []string {
	var out []string
	quote, start := byte(0), 0
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ';':
			out = append(out, line[start:i])
			start = i + 1
		}
	}
	out = append(out, line[start:])
	var cmds []string
	for _, c := range out {
		if c = strings.TrimSpace(c); c != "" {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// evalLine runs one simple command.
func evalLine(line string, vars map[string]string, exported map[string]bool) error {
	export := false
	if rest, ok := strings.CutPrefix(line, "export "); ok {
		export, line = true, strings.TrimSpace(rest)
	}
	words, err := splitWords(line)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return fmt.Errorf("%q is not an assignment this build can compute", line)
	}
	for _, w := range words {
		name, value, isAssign := strings.Cut(w, "=")
		if !validName(name) {
			return fmt.Errorf("%q is not an assignment or export this build can compute", line)
		}
		if !isAssign {
			if !export {
				return fmt.Errorf("%q runs a command", line)
			}
			exported[name] = true
			continue
		}
		v, err := expand(value, vars)
		if err != nil {
			return err
		}
		vars[name] = v
		if export {
			exported[name] = true
		}
	}
	return nil
}

// splitWords splits a line into words at unquoted blanks, keeping quotes in the words
// (expand removes them), and refuses shell syntax other than quoting.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '`' || (quote == '"' && c == '\\') {
				return nil, fmt.Errorf("%q uses escapes or command substitution", line)
			}
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
		case strings.IndexByte("|&;<>()`\\*?[]!{}~", c) >= 0 && !(c == '{' || c == '}'):
			return nil, fmt.Errorf("%q uses shell syntax (%c) this build cannot compute", line, c)
		default:
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q has an unterminated quote", line)
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words, nil
}

// expand removes quotes and substitutes $NAME and ${NAME} of known variables.
func expand(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case c == '$' && quote != '\'':
			name, n := "", 0
			if i+1 < len(s) && s[i+1] == '{' {
				end := strings.IndexByte(s[i+2:], '}')
				if end < 0 {
					return "", fmt.Errorf("unterminated ${ in %q", s)
				}
				name, n = s[i+2:i+2+end], end+3
			} else {
				j := i + 1
				for j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
					j++
				}
				name, n = s[i+1:j], j-i
			}
			if !validName(name) {
				return "", fmt.Errorf("%q uses a parameter expansion this build cannot compute", s)
			}
			v, ok := vars[name]
			if !ok {
				return "", fmt.Errorf("%q reads $%s, whose value in the container is not known at build time", s, name)
			}
			b.WriteString(v)
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func validName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Entrypoint is the entrypoint that sources the scripts when the container starts, as
// micromamba's images do, then runs the image's own entrypoint (prepended to the command).
// It needs /bin/sh in the image.
func Entrypoint(prefix string, entrypoint []string) []string {
	dir := path.Join(prefix, Dir)
	script := `for f in ` + dir + `/*.sh; do [ -r "$f" ] && . "$f"; done; exec "$@"`
	return append([]string{"/bin/sh", "-c", script, "reprobuild-activate"}, entrypoint...)
}

// MaxScriptSize bounds one activation script an engine reads from a built tree: they are
// a few lines; a larger file is read no further than this.
const MaxScriptSize = 1 << 20

// NotRegular is what an engine passes for an activation script that is not a regular
// file (a link, a directory): a script that is never exact, so the image sources the
// real thing when it starts. Every engine passes the same bytes.
func NotRegular(p, linkname string) Script {
	return Script{Path: p, Data: []byte("# not a regular file: " + linkname + "\n:")}
}
