package lock

import (
	"bytes"
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// condaLockFile is the conda-lock "unified" lock file, format version 1 (written by
// conda-lock 1.x to 3.x). Rattler's early versions 2 and 3 share the layout but write
// dependencies as a list; both forms are read.
type condaLockFile struct {
	Version  int               `yaml:"version"`
	Metadata condaLockMetadata `yaml:"metadata"`
	Package  []condaLockPkg    `yaml:"package"`
}

type condaLockMetadata struct {
	ContentHash map[string]string  `yaml:"content_hash"`
	Channels    []condaLockChannel `yaml:"channels"`
	Platforms   []string           `yaml:"platforms"`
	Sources     []string           `yaml:"sources"`
}

type condaLockChannel struct {
	URL         string   `yaml:"url"`
	UsedEnvVars []string `yaml:"used_env_vars"`
}

type condaLockPkg struct {
	Name         string            `yaml:"name"`
	Version      string            `yaml:"version"`
	Manager      string            `yaml:"manager"`
	Platform     string            `yaml:"platform"`
	Dependencies condaLockDeps     `yaml:"dependencies"`
	URL          string            `yaml:"url"`
	Hash         map[string]string `yaml:"hash"`
	Category     string            `yaml:"category"`
	Optional     bool              `yaml:"optional"`
}

// UnmarshalYAML accepts a channel as a mapping with url (conda-lock 1.x and later) or as
// a plain string (older files).
func (c *condaLockChannel) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.URL = n.Value
		return nil
	}
	type plain condaLockChannel
	return n.Decode((*plain)(c))
}

// condaLockDeps is "name: spec" pairs, kept in file order; read from a mapping or from a
// list of "name spec" strings.
type condaLockDeps [][2]string

func (d *condaLockDeps) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			*d = append(*d, [2]string{n.Content[i].Value, n.Content[i+1].Value})
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			name, spec, _ := strings.Cut(strings.TrimSpace(c.Value), " ")
			*d = append(*d, [2]string{name, strings.TrimSpace(spec)})
		}
	case yaml.ScalarNode:
		if n.Tag != "!!null" {
			return fmt.Errorf("line %d: dependencies must be a mapping of name: spec", n.Line)
		}
	default:
		return fmt.Errorf("line %d: dependencies must be a mapping of name: spec", n.Line)
	}
	return nil
}

var versionLineRe = regexp.MustCompile(`(?m)^version:\s*['"]?(-?[0-9]+)`)

// ImportCondaLock reads a conda-lock.yml (unified format, version 1; also the
// version-less files of conda-lock < 1 and rattler's v2/v3 files of the same layout).
// pixi.lock files (version 4 and later, with "environments") are refused with an error
// that says so. Packages listed under several categories are kept once. Conda packages
// go to Target.Packages; pip packages to Target.Pip. The lock has no recipe hash: it did
// not come from a recipe.
func ImportCondaLock(data []byte) (*Lock, error) {
	if m := versionLineRe.FindSubmatch(data); m != nil {
		v, _ := strconv.Atoi(string(m[1]))
		pixi := bytes.Contains(data, []byte("\nenvironments:")) || bytes.HasPrefix(data, []byte("environments:"))
		if !pixi && v > 3 {
			return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("lock format version %d is not one reprobuild reads (conda-lock version 1); regenerate the file with conda-lock or export it as an explicit file", v)}
		}
		if pixi {
			return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("this is a pixi.lock (rattler lock format version %d), not a conda-lock.yml; export it from pixi as an explicit file (`pixi workspace export conda-explicit-spec`) and import that", v)}
		}
		if v < 1 {
			return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("version %d is not a conda-lock format version; regenerate the file with conda-lock", v)}
		}
	}
	var f condaLockFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("not valid conda-lock YAML: %v", err)}
	}
	if len(f.Package) == 0 && len(f.Metadata.Platforms) == 0 {
		return nil, &FormatError{Format: "conda-lock", Msg: "no metadata.platforms and no package list: this is not a conda-lock.yml"}
	}
	l := &Lock{Version: FormatVersion}
	for _, c := range f.Metadata.Channels {
		cu := channelURL(c.URL)
		l.Channels = append(l.Channels, Channel{Name: channelName(cu), URL: cu})
	}
	targets := map[string]*Target{}
	var order []string
	target := func(p string) *Target {
		if t, ok := targets[p]; ok {
			return t
		}
		targets[p] = &Target{Platform: p}
		order = append(order, p)
		return targets[p]
	}
	for _, p := range f.Metadata.Platforms {
		target(p)
	}
	seen := map[string]bool{}
	for i, p := range f.Package {
		if p.Name == "" || p.Platform == "" || p.URL == "" {
			return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("package #%d (%q) lacks a name, platform or url; regenerate the file with conda-lock", i+1, p.Name)}
		}
		key := p.Platform + "\x00" + p.Manager + "\x00" + p.Name + "\x00" + p.URL
		if seen[key] {
			continue // the same package under another category
		}
		seen[key] = true
		t := target(p.Platform)
		var depends []string
		for _, d := range p.Dependencies {
			depends = append(depends, strings.TrimSpace(d[0]+" "+d[1]))
		}
		// A YAML mapping has no order: sort so every reader gets the same lock.
		slices.Sort(depends)
		switch p.Manager {
		case "conda", "":
			u, err := url.Parse(p.URL)
			if err != nil {
				return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("package %s: bad url %q", p.Name, p.URL)}
			}
			u.User = nil
			rec, err := recordFromURLPath(u)
			if err != nil {
				return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("package %s: %v", p.Name, err)}
			}
			// The file's name and version are authoritative; the build comes from the URL.
			rec.Name, rec.Version = p.Name, p.Version
			rec.MD5 = p.Hash["md5"]
			rec.SHA256 = p.Hash["sha256"]
			rec.Depends = depends
			t.Packages = append(t.Packages, rec)
		case "pip":
			t.Pip = append(t.Pip, PipPackage{Name: p.Name, Version: p.Version, URL: p.URL, SHA256: p.Hash["sha256"], Depends: depends})
		default:
			return nil, &FormatError{Format: "conda-lock", Msg: fmt.Sprintf("package %s: unknown manager %q (expected conda or pip)", p.Name, p.Manager)}
		}
	}
	slices.Sort(order)
	for _, p := range order {
		t := targets[p]
		t.Packages = SortedPackages(t.Packages)
		slices.SortStableFunc(t.Pip, func(a, b PipPackage) int {
			return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version), strings.Compare(a.URL, b.URL))
		})
		l.Targets = append(l.Targets, *t)
	}
	return l, nil
}

// channelURL expands a conda channel name ("conda-forge") to its URL; URLs lose a
// trailing slash.
func channelURL(c string) string {
	if strings.Contains(c, "://") {
		return strings.TrimRight(c, "/")
	}
	return "https://conda.anaconda.org/" + strings.Trim(c, "/")
}

// condaLockOut fixes the key order of the conda-lock output.
type condaLockOut struct {
	Version  int               `yaml:"version"`
	Metadata condaLockMetaOut  `yaml:"metadata"`
	Package  []condaLockPkgOut `yaml:"package"`
}

type condaLockMetaOut struct {
	ContentHash map[string]string  `yaml:"content_hash"`
	Channels    []condaLockChannel `yaml:"channels"`
	Platforms   []string           `yaml:"platforms"`
	Sources     []string           `yaml:"sources"`
}

type condaLockPkgOut struct {
	Name         string            `yaml:"name"`
	Version      string            `yaml:"version"`
	Manager      string            `yaml:"manager"`
	Platform     string            `yaml:"platform"`
	Dependencies map[string]string `yaml:"dependencies"`
	URL          string            `yaml:"url"`
	Hash         map[string]string `yaml:"hash"`
	Category     string            `yaml:"category"`
	Optional     bool              `yaml:"optional"`
}

// ExportCondaLock writes l as a conda-lock.yml (format version 1) that `conda-lock
// install` and micromamba read. content_hash holds the recipe hash for every platform
// (conda-lock's own input hash cannot be computed without its inputs). Packages are
// sorted by name, then platform.
func ExportCondaLock(l *Lock) ([]byte, error) {
	out := condaLockOut{Version: 1}
	out.Metadata.ContentHash = map[string]string{}
	out.Metadata.Sources = []string{"reprobuild.hcl"}
	for _, c := range l.Channels {
		out.Metadata.Channels = append(out.Metadata.Channels, condaLockChannel{URL: c.URL, UsedEnvVars: []string{}})
	}
	for _, t := range l.Targets {
		out.Metadata.Platforms = append(out.Metadata.Platforms, t.Platform)
		out.Metadata.ContentHash[t.Platform] = l.RecipeHash
		for _, p := range t.Packages {
			if p.URL == "" {
				return nil, fmt.Errorf("export conda-lock: %s-%s-%s has no url; relock with `reprobuild lock`", p.Name, p.Version, p.Build)
			}
			hash := map[string]string{}
			if p.MD5 != "" {
				hash["md5"] = p.MD5
			}
			if p.SHA256 != "" {
				hash["sha256"] = p.SHA256
			}
			out.Package = append(out.Package, condaLockPkgOut{
				Name: p.Name, Version: p.Version, Manager: "conda", Platform: t.Platform,
				Dependencies: depsMap(p.Depends), URL: p.URL, Hash: hash, Category: "main",
			})
		}
		for _, p := range t.Pip {
			hash := map[string]string{}
			if p.SHA256 != "" {
				hash["sha256"] = p.SHA256
			}
			out.Package = append(out.Package, condaLockPkgOut{
				Name: p.Name, Version: p.Version, Manager: "pip", Platform: t.Platform,
				Dependencies: depsMap(p.Depends), URL: p.URL, Hash: hash, Category: "main",
			})
		}
	}
	slices.Sort(out.Metadata.Platforms)
	slices.SortStableFunc(out.Package, func(a, b condaLockPkgOut) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Platform, b.Platform); c != 0 {
			return c
		}
		return strings.Compare(a.URL, b.URL)
	})
	var b bytes.Buffer
	b.WriteString("# Generated by reprobuild from reprobuild.lock. Install with:\n#     conda-lock install -n ENV conda-lock.yml\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("export conda-lock: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("export conda-lock: %w", err)
	}
	return b.Bytes(), nil
}

// depsMap turns "name spec" strings into conda-lock's name: spec mapping. A dependency
// without a constraint maps to "" (conda-lock writes both "" and "*"; import keeps
// which). A name given twice keeps both constraints, joined
// with ",".
func depsMap(depends []string) map[string]string {
	m := map[string]string{}
	for _, d := range depends {
		name, spec, _ := strings.Cut(strings.TrimSpace(d), " ")
		spec = strings.TrimSpace(spec)
		if prev, ok := m[name]; ok && prev != spec {
			spec = prev + "," + spec
		}
		m[name] = spec
	}
	return m
}
