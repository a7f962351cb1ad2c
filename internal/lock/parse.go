package lock

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// ParseError is a problem at one line of a lock file.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

const fixHint = "regenerate the lock with `reprobuild lock`"

// Parse reads a lock in the text form Marshal writes. Errors are *ParseError naming the
// line. Unknown keys are errors, not ignored: a lock that says more than this version
// understands must not be half-read.
func Parse(data []byte) (*Lock, error) {
	p := &parser{l: &Lock{}}
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		p.n = i + 1
		if err := p.parseLine(strings.TrimSuffix(raw, "\r")); err != nil {
			return nil, err
		}
	}
	if p.l.Version == 0 {
		return nil, &ParseError{Line: 1, Msg: "no \"version\" line: this is not a reprobuild.lock; " + fixHint}
	}
	return p.l, nil
}

type parser struct {
	l       *Lock
	n       int
	section string // top-level block the indented lines belong to
	pkg     *conda.PackageRecord
	pip     *PipPackage
	data    *Data
}

func (p *parser) errf(format string, args ...any) error {
	return &ParseError{Line: p.n, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseLine(line string) error {
	trimmed := strings.TrimLeft(line, " ")
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return nil
	}
	indentWidth := len(line) - len(trimmed)
	if strings.HasPrefix(trimmed, "\t") || indentWidth%2 != 0 || indentWidth > 4 {
		return p.errf("bad indentation (use 0, 2 or 4 spaces, no tabs); %s", fixHint)
	}
	indent := indentWidth / 2
	toks, err := tokenize(trimmed)
	if err != nil {
		return p.errf("%v; %s", err, fixHint)
	}
	key, args := toks[0], toks[1:]
	if p.l.Version == 0 && key != "version" {
		return p.errf("expected \"version\" first, found %q: this is not a reprobuild.lock (for other formats use `reprobuild init --from FILE`)", key)
	}
	switch indent {
	case 0:
		return p.top(key, args)
	case 1:
		return p.second(key, args)
	default:
		return p.third(key, args)
	}
}

func (p *parser) want(key string, args []string, n ...int) error {
	for _, k := range n {
		if len(args) == k {
			return nil
		}
	}
	return p.errf("%q takes %v value(s), got %d; %s", key, n, len(args), fixHint)
}

func (p *parser) top(key string, args []string) error {
	p.section, p.pkg, p.pip, p.data = key, nil, nil, nil
	switch key {
	case "version":
		if err := p.want(key, args, 1); err != nil {
			return err
		}
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 {
			return p.errf("version %q is not a positive number; %s", args[0], fixHint)
		}
		if v > FormatVersion {
			return p.errf("lock format version %d is newer than this reprobuild understands (%d): upgrade reprobuild", v, FormatVersion)
		}
		p.l.Version = v
	case "recipe-hash":
		if err := p.want(key, args, 1); err != nil {
			return err
		}
		p.l.RecipeHash = args[0]
	case "channel":
		if err := p.want(key, args, 2); err != nil {
			return err
		}
		p.l.Channels = append(p.l.Channels, Channel{Name: args[0], URL: args[1]})
	case "pypi":
		if err := p.want(key, args, 2); err != nil {
			return err
		}
		p.l.PyPI = append(p.l.PyPI, Channel{Name: args[0], URL: args[1]})
	case "solver":
		return p.want(key, args, 0)
	case "base":
		if err := p.want(key, args, 1, 2); err != nil {
			return err
		}
		p.l.Base.Ref = args[0]
		if len(args) == 2 {
			p.l.Base.Digest = args[1]
		}
	case "data":
		if err := p.want(key, args, 1); err != nil {
			return err
		}
		p.l.Data = append(p.l.Data, Data{Name: args[0]})
		p.data = &p.l.Data[len(p.l.Data)-1]
	case "target":
		if err := p.want(key, args, 1); err != nil {
			return err
		}
		if p.l.Target(args[0]) != nil {
			return p.errf("target %s appears twice; %s", args[0], fixHint)
		}
		p.l.Targets = append(p.l.Targets, Target{Platform: args[0]})
	default:
		return p.errf("unknown entry %q (written by a newer reprobuild?); upgrade reprobuild or %s", key, fixHint)
	}
	return nil
}

func (p *parser) second(key string, args []string) error {
	switch p.section {
	case "solver":
		if err := p.want(key, args, 1); err != nil {
			return err
		}
		switch key {
		case "channel-priority":
			p.l.Solver.ChannelPriority = args[0]
		case "exclude-newer":
			p.l.Solver.ExcludeNewer = args[0]
		default:
			return p.errf("unknown solver field %q; %s", key, fixHint)
		}
	case "data":
		if err := p.want(key, args, 1); err != nil {
			return err
		}
		d := p.data
		switch key {
		case "url":
			d.URL = args[0]
		case "sha256":
			d.SHA256 = args[0]
		case "path":
			d.Path = args[0]
		case "mode":
			d.Mode = args[0]
		default:
			return p.errf("unknown data field %q; %s", key, fixHint)
		}
	case "target":
		// The current target is the last one: lines below a target header belong to it.
		t := &p.l.Targets[len(p.l.Targets)-1]
		p.pkg, p.pip = nil, nil
		switch key {
		case "virtual":
			if err := p.want(key, args, 2, 3); err != nil {
				return err
			}
			v := VirtualPackage{Name: args[0], Version: args[1]}
			if len(args) == 3 {
				v.Build = args[2]
			}
			t.Virtual = append(t.Virtual, v)
		case "package":
			if err := p.want(key, args, 3); err != nil {
				return err
			}
			t.Packages = append(t.Packages, conda.PackageRecord{Name: args[0], Version: args[1], Build: args[2]})
			p.pkg = &t.Packages[len(t.Packages)-1]
		case "pip":
			if err := p.want(key, args, 2); err != nil {
				return err
			}
			t.Pip = append(t.Pip, PipPackage{Name: args[0], Version: args[1]})
			p.pip = &t.Pip[len(t.Pip)-1]
		default:
			return p.errf("unknown target entry %q; %s", key, fixHint)
		}
	default:
		return p.errf("indented line %q does not belong to a solver, data or target entry; %s", key, fixHint)
	}
	return nil
}

func (p *parser) third(key string, args []string) error {
	if err := p.want(key, args, 1); err != nil {
		return err
	}
	v := args[0]
	if p.pip != nil {
		switch key {
		case "url":
			p.pip.URL = v
		case "sha256":
			p.pip.SHA256 = v
		case "index":
			p.pip.Index = v
		case "requires-python":
			p.pip.RequiresPython = v
		case "requested":
			p.pip.Requested = append(p.pip.Requested, v)
		case "depends":
			p.pip.Depends = append(p.pip.Depends, v)
		default:
			return p.errf("unknown pip field %q; %s", key, fixHint)
		}
		return nil
	}
	r := p.pkg
	if r == nil {
		return p.errf("line indented by 4 spaces outside a package; %s", fixHint)
	}
	num := func() (int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, p.errf("%s %q is not a non-negative whole number; %s", key, v, fixHint)
		}
		return n, nil
	}
	var err error
	switch key {
	case "build-number":
		r.BuildNumber, err = num()
	case "size":
		r.Size, err = num()
	case "timestamp":
		r.Timestamp, err = num()
	case "subdir":
		r.Subdir = v
	case "channel":
		r.Channel = v
	case "fn":
		r.Fn = v
	case "url":
		r.URL = v
	case "sha256":
		r.SHA256 = v
	case "md5":
		r.MD5 = v
	case "noarch":
		r.Noarch = v
	case "license":
		r.License = v
	case "license-family":
		r.LicenseFamily = v
	case "features":
		r.Features = v
	case "track-feature":
		r.TrackFeatures = append(r.TrackFeatures, v)
	case "depends":
		r.Depends = append(r.Depends, v)
	case "constrains":
		r.Constrains = append(r.Constrains, v)
	default:
		return p.errf("unknown package field %q; %s", key, fixHint)
	}
	return err
}

// tokenize splits a line into space-separated values; a value starting with '"' is a
// quoted string with Go escapes.
func tokenize(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		if s[i] == '"' {
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '"' {
					break
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated quoted value")
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("bad quoted value %s: %v", s[i:j+1], err)
			}
			out = append(out, v)
			i = j + 1
			if i < len(s) && s[i] != ' ' {
				return nil, fmt.Errorf("missing space after quoted value")
			}
			continue
		}
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			j = len(s) - i
		}
		out = append(out, s[i:i+j])
		i += j
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty line")
	}
	return out, nil
}
