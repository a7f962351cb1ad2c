package install

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// Package is one package to install: its record and the path of its archive, whose
// sha256 the caller has already verified.
type Package struct {
	Record  conda.PackageRecord
	Archive string
	// VerifySHA256, when set, makes linking check the archive bytes it reads against
	// Record.SHA256 (small archives read once into memory, larger ones hashed in the
	// pass that parses them: never a copy), for an archive outside the verified cache
	// whose file could change after it was fetched.
	VerifySHA256 bool
}

// Options control linking. The zero value is usable: defaults are set in withDefaults.
type Options struct {
	// Prefix is the environment's absolute path inside the image (default "/opt/env").
	Prefix string
	// PythonVersion ("3.11") places noarch: python packages. Empty means: take it from a
	// package named "python" among those installed.
	PythonVersion string
	// MaxUnpackedSize bounds the unpacked size of one package (default 8 GiB).
	MaxUnpackedSize int64
	// SpoolDir, when set, is an existing directory where members above SpoolThreshold
	// are written instead of being held in memory (Entry.Spool); only files that need
	// prefix replacement are loaded back. The caller removes it when the entries are no
	// longer needed. Empty keeps every file in memory.
	SpoolDir string
}

// Default option values.
const (
	DefaultPrefix          = "/opt/env"
	DefaultMaxUnpackedSize = 8 << 30
)

func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.PythonVersion != "" {
		o.PythonVersion = majorMinor(o.PythonVersion) // "3.11.5" places files like "3.11"
	}
	if o.MaxUnpackedSize <= 0 {
		o.MaxUnpackedSize = DefaultMaxUnpackedSize
	}
	if !strings.HasPrefix(o.Prefix, "/") || path.Clean(o.Prefix) != o.Prefix || o.Prefix == "/" {
		return o, fmt.Errorf("install: prefix %q must be a clean absolute path other than /", o.Prefix)
	}
	return o, nil
}

// linkActions are the scripts conda would run around linking; we never run them.
var linkActions = []string{"pre-link", "post-link", "pre-unlink"}

// Link extracts one package and returns what it contributes to the environment: its files
// under the prefix (paths relative to the image root), the directories they imply,
// noarch python entry points and its conda-meta record. Link scripts are not run; their
// presence is reported in PackageTree.LinkScripts.
func Link(ctx context.Context, p Package, o Options) (*PackageTree, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return link(ctx, p, o)
}

// pathInfo is one info/paths.json entry.
type pathInfo struct {
	Path        string `json:"_path"`
	PathType    string `json:"path_type"`
	SHA256      string `json:"sha256,omitempty"`
	Size        *int64 `json:"size_in_bytes,omitempty"`
	Placeholder string `json:"prefix_placeholder,omitempty"`
	FileMode    string `json:"file_mode,omitempty"`
}

type placeholder struct{ text, mode string }

func pkgName(p Package) string {
	if p.Record.Fn != "" {
		return p.Record.Fn
	}
	return path.Base(p.Archive)
}

func link(ctx context.Context, p Package, o Options) (*PackageTree, error) {
	pkg := pkgName(p)
	want := ""
	if p.VerifySHA256 {
		if want = p.Record.SHA256; want == "" {
			return nil, &MalformedPackageError{Package: pkg, Reason: "no sha256 to verify the archive against"}
		}
	}
	c, err := readArchive(ctx, p.Archive, pkg, want, o.MaxUnpackedSize, o.SpoolDir)
	if err != nil {
		return nil, err
	}
	rec, noarch, entryPoints, err := readMetadata(pkg, p.Record, c.info)
	if err != nil {
		return nil, err
	}
	places, listed, err := placeholders(pkg, c.info)
	if err != nil {
		return nil, err
	}
	pyver := o.PythonVersion
	if noarch == "python" && pyver == "" {
		return nil, &PythonVersionError{Package: pkg}
	}
	root := strings.TrimPrefix(o.Prefix, "/")

	// target maps a package path to its prefix-relative path.
	target := func(p string) string {
		if noarch != "python" {
			return p
		}
		if rest, ok := strings.CutPrefix(p, "site-packages/"); ok {
			return "lib/python" + pyver + "/site-packages/" + rest
		}
		if rest, ok := strings.CutPrefix(p, "python-scripts/"); ok {
			return "bin/" + rest
		}
		return p
	}

	// Member kinds by package path, to refuse a file replacing a directory and a path
	// through a file or symlink; implied directories are recorded as tar.TypeDir.
	kinds := map[string]byte{}
	files := map[string]member{}
	hasChild := map[string]bool{}
	for _, m := range c.payload {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for d := path.Dir(m.name); d != "."; d = path.Dir(d) {
			if k, ok := kinds[d]; ok && k != tar.TypeDir {
				return nil, &UnsafeEntryError{Package: pkg, Entry: m.raw, Reason: fmt.Sprintf("its parent %s is not a directory", d)}
			}
			kinds[d] = tar.TypeDir
			hasChild[d] = true
		}
		if k, ok := kinds[m.name]; ok {
			if k == tar.TypeDir && m.typ == tar.TypeDir {
				continue
			}
			if k == tar.TypeDir || m.typ == tar.TypeDir {
				return nil, &UnsafeEntryError{Package: pkg, Entry: m.raw, Reason: "a file and a directory share this path"}
			}
			return nil, &UnsafeEntryError{Package: pkg, Entry: m.raw, Reason: "stored twice"}
		}
		kinds[m.name] = m.typ
		files[m.name] = m
	}
	// The archive must hold exactly what info/paths.json says, as rattler checks it:
	// conda-meta is then written from the bytes really installed, never from the claim.
	if listed != nil {
		if err := verifyPaths(pkg, listed, files, hasChild); err != nil {
			return nil, err
		}
	}

	var entries []Entry
	var metaPaths []metaPath
	full := func(rel string) string { return root + "/" + rel }
	for _, m := range c.payload {
		if m.typ == tar.TypeDir {
			continue // directories are implied by their contents; empty ones are kept below
		}
		rel := target(m.name)
		mp := metaPath{Path: rel, PathType: "hardlink"}
		switch m.typ {
		case tar.TypeSymlink:
			if strings.HasPrefix(m.linkname, "/") {
				return nil, &PathEscapeError{Package: pkg, Entry: m.raw, Reason: "absolute symlink target " + m.linkname}
			}
			entries = append(entries, Entry{Path: full(rel), Type: TypeSymlink, Mode: 0o777, Linkname: m.linkname})
			mp.PathType = "softlink"
			metaPaths = append(metaPaths, mp)
			continue
		case tar.TypeLink:
			t, ok := files[m.linkname]
			if !ok || t.typ != tar.TypeReg {
				return nil, &UnsafeEntryError{Package: pkg, Entry: m.raw, Reason: fmt.Sprintf("hardlink target %q is not a regular file of the package", m.linkname)}
			}
			// A hardlink becomes an independent copy, as conda links every path on its
			// own; the bytes are shared in memory.
			m.data, m.spool, m.exec = t.data, t.spool, t.exec
		}
		data := m.data
		// conda-meta records the digest of the bytes installed (verifyPaths has checked
		// them against paths.json when the package has one).
		sum := m.digest()
		mp.SHA256 = hex.EncodeToString(sum[:])
		size := m.size()
		mp.Size = &size
		ph, ok := places[m.name]
		if !ok && m.typ == tar.TypeLink {
			// The copy of a hardlinked file needs the same replacement as its target.
			ph, ok = places[m.linkname]
		}
		spool := m.spool
		if ok {
			if spool != nil {
				// Only files that need prefix replacement come back into memory.
				if data, err = spool.ReadAll(); err != nil {
					return nil, fmt.Errorf("package %s: %s: %w", pkg, m.name, err)
				}
				spool = nil
			}
			mp.Placeholder, mp.FileMode = ph.text, ph.mode
			data, err = ReplacePrefix(data, ph.text, o.Prefix, ph.mode, rec.Subdir)
			if err != nil {
				if errors.Is(err, ErrPadding) {
					return nil, &PaddingError{Package: pkg, Path: m.name, Placeholder: ph.text, Prefix: o.Prefix}
				}
				return nil, fmt.Errorf("package %s: %s: %w", pkg, m.name, err)
			}
			s := sha256.Sum256(data)
			mp.SHA256InPrefix = hex.EncodeToString(s[:])
		}
		mode := fileMode(m.exec)
		entries = append(entries, Entry{Path: full(rel), Type: TypeFile, Mode: mode, Data: data, Spool: spool})
		metaPaths = append(metaPaths, mp)
	}
	// Empty directories stored in the archive are kept.
	for name, k := range kinds {
		if k == tar.TypeDir && files[name].typ == tar.TypeDir && !hasChild[name] {
			metaPaths = append(metaPaths, metaPath{Path: target(name), PathType: "directory"})
		}
	}
	for _, ep := range entryPoints {
		e, err := entryPoint(pkg, ep, o.Prefix)
		if err != nil {
			return nil, err
		}
		e.Path = full(e.Path)
		entries = append(entries, e)
		metaPaths = append(metaPaths, metaPath{Path: strings.TrimPrefix(e.Path, root+"/"), PathType: "unix_python_entry_point"})
	}
	slices.SortFunc(metaPaths, func(a, b metaPath) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(metaPaths); i++ {
		if metaPaths[i].Path == metaPaths[i-1].Path {
			return nil, &UnsafeEntryError{Package: pkg, Entry: metaPaths[i].Path, Reason: "two members are installed at this path"}
		}
	}
	meta, err := condaMeta(rec, metaPaths)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", pkg, err)
	}
	entries = append(entries, Entry{
		Path: full("conda-meta/" + rec.Name + "-" + rec.Version + "-" + rec.Build + ".json"),
		Type: TypeFile, Mode: 0o644, Data: meta,
	})
	for _, mp := range metaPaths {
		if mp.PathType == "directory" {
			entries = append(entries, Entry{Path: full(mp.Path), Type: TypeDir, Mode: 0o755})
		}
	}
	entries = addParents(entries)
	if err := checkTree(entries, root, func(string) string { return pkg }); err != nil {
		return nil, err
	}

	var scripts []string
	for _, a := range linkActions {
		if _, ok := files[scriptPath(noarch, rec.Name, a)]; ok {
			scripts = append(scripts, a)
		}
	}
	return &PackageTree{Record: rec, Entries: entries, LinkScripts: scripts}, nil
}

// scriptPath is where a package stores the script conda runs for action.
func scriptPath(noarch, name, action string) string {
	dir := "bin"
	if noarch == "python" {
		dir = "python-scripts"
	}
	return dir + "/." + name + "-" + action + ".sh"
}

func fileMode(exec bool) fs.FileMode {
	if exec {
		return 0o755
	}
	return 0o644
}

// addParents adds a TypeDir entry for every directory implied by an entry and sorts the
// result by path.
func addParents(entries []Entry) []Entry {
	have := make(map[string]bool, len(entries))
	for _, e := range entries {
		have[e.Path] = true
	}
	for _, e := range entries {
		for d := path.Dir(e.Path); d != "." && !have[d]; d = path.Dir(d) {
			have[d] = true
			entries = append(entries, Entry{Path: d, Type: TypeDir, Mode: 0o755})
		}
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return entries
}

// readMetadata completes the record from info/index.json and returns the noarch type and
// entry points.
func readMetadata(pkg string, rec conda.PackageRecord, info map[string][]byte) (conda.PackageRecord, string, []string, error) {
	raw, ok := info["info/index.json"]
	if !ok {
		return rec, "", nil, &MalformedPackageError{Package: pkg, Reason: "no info/index.json"}
	}
	var idx struct {
		Name        string          `json:"name"`
		Version     string          `json:"version"`
		Build       string          `json:"build"`
		BuildNumber int64           `json:"build_number"`
		Depends     []string        `json:"depends"`
		Constrains  []string        `json:"constrains"`
		License     string          `json:"license"`
		Subdir      string          `json:"subdir"`
		Timestamp   int64           `json:"timestamp"`
		Noarch      json.RawMessage `json:"noarch"`
		NoarchPy    bool            `json:"noarch_python"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return rec, "", nil, &MalformedPackageError{Package: pkg, Reason: "info/index.json: " + err.Error()}
	}
	if idx.Name == "" || idx.Version == "" || idx.Build == "" {
		return rec, "", nil, &MalformedPackageError{Package: pkg, Reason: "info/index.json lacks name, version or build"}
	}
	if rec.Name == "" {
		rec.Name, rec.Version, rec.Build, rec.BuildNumber = idx.Name, idx.Version, idx.Build, idx.BuildNumber
		rec.Depends, rec.Constrains, rec.License, rec.Timestamp = idx.Depends, idx.Constrains, idx.License, idx.Timestamp
	} else if rec.Name != idx.Name || rec.Version != idx.Version || rec.Build != idx.Build {
		return rec, "", nil, &MalformedPackageError{Package: pkg, Reason: fmt.Sprintf("archive holds %s-%s-%s, not the locked %s-%s-%s",
			idx.Name, idx.Version, idx.Build, rec.Name, rec.Version, rec.Build)}
	}
	if rec.Subdir == "" {
		rec.Subdir = idx.Subdir
	}
	noarch := ""
	var s string
	var b bool
	switch {
	case json.Unmarshal(idx.Noarch, &s) == nil:
		noarch = s
	case json.Unmarshal(idx.Noarch, &b) == nil && b:
		noarch = "generic"
	}
	if idx.NoarchPy {
		noarch = "python"
	}
	var entryPoints []string
	if lj, ok := info["info/link.json"]; ok {
		var l struct {
			Noarch struct {
				Type        string   `json:"type"`
				EntryPoints []string `json:"entry_points"`
			} `json:"noarch"`
		}
		if err := json.Unmarshal(lj, &l); err != nil {
			return rec, "", nil, &MalformedPackageError{Package: pkg, Reason: "info/link.json: " + err.Error()}
		}
		if l.Noarch.Type != "" {
			noarch = l.Noarch.Type
		}
		entryPoints = l.Noarch.EntryPoints
	}
	if rec.Noarch == "" {
		rec.Noarch = noarch
	}
	if len(entryPoints) > 0 && noarch != "python" {
		return rec, "", nil, &MalformedPackageError{Package: pkg, Reason: "entry points in info/link.json of a package that is not noarch: python"}
	}
	return rec, noarch, entryPoints, nil
}

// placeholders reads prefix placeholders from info/paths.json, or from info/has_prefix in
// packages older than paths.json. The paths.json entries are returned by clean path (nil
// when the package has no paths.json).
func placeholders(pkg string, info map[string][]byte) (map[string]placeholder, map[string]pathInfo, error) {
	out := map[string]placeholder{}
	var listed map[string]pathInfo
	if pj, ok := info["info/paths.json"]; ok {
		var paths struct {
			Paths []pathInfo `json:"paths"`
		}
		if err := json.Unmarshal(pj, &paths); err != nil {
			return nil, nil, &MalformedPackageError{Package: pkg, Reason: "info/paths.json: " + err.Error()}
		}
		listed = make(map[string]pathInfo, len(paths.Paths))
		for _, p := range paths.Paths {
			clean := path.Clean(p.Path)
			if p.Path == "" || clean != p.Path || strings.HasPrefix(clean, "/") || clean == ".." || strings.HasPrefix(clean, "../") {
				return nil, nil, &MalformedPackageError{Package: pkg, Reason: fmt.Sprintf("info/paths.json lists %q, not a clean relative path", p.Path)}
			}
			if _, dup := listed[clean]; dup {
				return nil, nil, &MalformedPackageError{Package: pkg, Reason: fmt.Sprintf("info/paths.json lists %s twice", clean)}
			}
			listed[clean] = p
			if p.Placeholder != "" {
				mode := p.FileMode
				if mode == "" {
					mode = "text"
				}
				out[path.Clean(p.Path)] = placeholder{p.Placeholder, mode}
			}
		}
		return out, listed, nil
	}
	hp, ok := info["info/has_prefix"]
	if !ok {
		return out, nil, nil
	}
	for _, line := range strings.Split(string(hp), "\n") {
		fields, err := splitQuoted(strings.TrimSpace(line))
		if err != nil {
			return nil, nil, &MalformedPackageError{Package: pkg, Reason: fmt.Sprintf("info/has_prefix line %q: %v", line, err)}
		}
		switch len(fields) {
		case 0:
		case 1:
			out[path.Clean(fields[0])] = placeholder{DefaultPlaceholder, "text"}
		case 3:
			out[path.Clean(fields[2])] = placeholder{fields[0], fields[1]}
		default:
			return nil, nil, &MalformedPackageError{Package: pkg, Reason: fmt.Sprintf("info/has_prefix line %q: want 1 or 3 fields", line)}
		}
	}
	return out, nil, nil
}

// splitQuoted splits on spaces, keeping double-quoted fields whole.
func splitQuoted(s string) ([]string, error) {
	var out []string
	for s != "" {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			out = append(out, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}
