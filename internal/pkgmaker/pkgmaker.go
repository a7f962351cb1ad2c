package pkgmaker

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// File is one payload member of a package. Path is relative to the prefix
// (e.g. "lib/libz.so.1" or, for noarch python, "site-packages/x/__init__.py").
type File struct {
	Path string
	Data []byte
	// Mode holds the permission bits (0 means 0644); fs.ModeDir makes an empty directory.
	Mode fs.FileMode
	// Symlink is the link target when the member is a symbolic link.
	Symlink string
	// Hardlink is the Path of another member of the same package this one links to.
	Hardlink string
	// Placeholder is the build prefix embedded in Data that conda replaces on install.
	Placeholder string
	// PlaceholderMode is "text" (the default when Placeholder is set) or "binary".
	PlaceholderMode string
}

// Package describes a package to write. Record.Fn, SHA256, MD5 and Size are ignored
// (they are computed); Record.Subdir defaults to "noarch" for noarch packages.
type Package struct {
	Record conda.PackageRecord
	Files  []File
	// EntryPoints are noarch python console scripts ("name = module:func").
	EntryPoints []string
	// LinkScripts maps an action ("pre-link", "post-link", "pre-unlink") to a shell
	// script, stored where conda looks for it (bin/.<name>-<action>.sh).
	LinkScripts map[string]string
}

// Format is an archive format.
type Format int

// Archive formats.
const (
	// Conda is the v2 format: a stored zip of metadata.json and two zstd tars.
	Conda Format = iota
	// TarBz2 is the v1 format: one bzip2-compressed tar.
	TarBz2
)

// Ext is the file name extension of the format.
func (f Format) Ext() string {
	if f == TarBz2 {
		return ".tar.bz2"
	}
	return ".conda"
}

// fixedTime is the modification time of every member, so output depends only on input.
// 2000-01-01 is inside the range every zip and tar reader accepts.
var fixedTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// zstdLevel and bzip2Level are pinned so archives do not change with library defaults.
const (
	zstdLevel  = zstd.SpeedBetterCompression
	bzip2Level = 9
)

// Error reports a package description that cannot be written.
type Error struct {
	Package string
	Reason  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("pkgmaker: package %s: %s", e.Package, e.Reason)
}

// member is a normalised archive member.
type member struct {
	path     string
	data     []byte
	mode     int64
	typ      byte
	linkname string
}

// Write writes the package into dir as <name>-<version>-<build><ext> and returns its
// record with Fn, Subdir, SHA256, MD5 and Size filled in.
func Write(dir string, p Package, f Format) (conda.PackageRecord, error) {
	rec, data, err := Build(p, f)
	if err != nil {
		return conda.PackageRecord{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return conda.PackageRecord{}, fmt.Errorf("pkgmaker: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, rec.Fn), data, 0o644); err != nil {
		return conda.PackageRecord{}, fmt.Errorf("pkgmaker: %w", err)
	}
	return rec, nil
}

// Build returns the archive bytes of the package and its completed record.
func Build(p Package, f Format) (conda.PackageRecord, []byte, error) {
	rec := p.Record
	id := rec.Name + "-" + rec.Version + "-" + rec.Build
	if rec.Name == "" || rec.Version == "" || rec.Build == "" {
		return rec, nil, &Error{Package: id, Reason: "name, version and build are required"}
	}
	if strings.ContainsAny(id, "/\\ ") {
		return rec, nil, &Error{Package: id, Reason: "name, version and build must not contain '/', '\\' or spaces"}
	}
	if rec.Subdir == "" {
		if rec.Noarch == "" {
			return rec, nil, &Error{Package: id, Reason: "subdir is required for a package that is not noarch"}
		}
		rec.Subdir = "noarch"
	}
	if f != Conda && f != TarBz2 {
		return rec, nil, &Error{Package: id, Reason: fmt.Sprintf("unknown format %d", f)}
	}
	rec.Fn = id + f.Ext()

	payload, info, err := members(p, rec, id)
	if err != nil {
		return rec, nil, err
	}
	var out []byte
	switch f {
	case Conda:
		out, err = buildConda(id, info, payload)
	case TarBz2:
		out, err = buildTarBz2(info, payload)
	}
	if err != nil {
		return rec, nil, &Error{Package: id, Reason: err.Error()}
	}
	s := sha256.Sum256(out)
	m := md5.Sum(out)
	rec.SHA256 = hex.EncodeToString(s[:])
	rec.MD5 = hex.EncodeToString(m[:])
	rec.Size = int64(len(out))
	return rec, out, nil
}

// members turns the description into sorted payload and info members.
func members(p Package, rec conda.PackageRecord, id string) (payload, info []member, err error) {
	fail := func(format string, a ...any) error {
		return &Error{Package: id, Reason: fmt.Sprintf(format, a...)}
	}
	files := slices.Clone(p.Files)
	scriptDir := "bin"
	if rec.Noarch == "python" {
		scriptDir = "python-scripts"
	}
	actions := make([]string, 0, len(p.LinkScripts))
	for a := range p.LinkScripts {
		actions = append(actions, a)
	}
	slices.Sort(actions)
	for _, a := range actions {
		switch a {
		case "pre-link", "post-link", "pre-unlink":
		default:
			return nil, nil, fail("unknown link script action %q (want pre-link, post-link or pre-unlink)", a)
		}
		files = append(files, File{
			Path: scriptDir + "/." + rec.Name + "-" + a + ".sh",
			Data: []byte(p.LinkScripts[a]),
			Mode: 0o755,
		})
	}

	byPath := map[string]File{}
	for _, fl := range files {
		if err := checkPath(fl.Path); err != nil {
			return nil, nil, fail("file %q: %v", fl.Path, err)
		}
		if fl.Path == "info" || strings.HasPrefix(fl.Path, "info/") {
			return nil, nil, fail("file %q: payload paths must not be under info/", fl.Path)
		}
		if _, dup := byPath[fl.Path]; dup {
			return nil, nil, fail("file %q listed twice", fl.Path)
		}
		byPath[fl.Path] = fl
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })

	type pathEntry struct {
		Path        string `json:"_path"`
		FileMode    string `json:"file_mode,omitempty"`
		PathType    string `json:"path_type"`
		Placeholder string `json:"prefix_placeholder,omitempty"`
		SHA256      string `json:"sha256,omitempty"`
		Size        *int64 `json:"size_in_bytes,omitempty"`
	}
	var paths []pathEntry
	var hasPrefix, fileList []string
	for _, fl := range files {
		perm := int64(fl.Mode.Perm())
		if perm == 0 {
			perm = 0o644
		}
		m := member{path: fl.Path, mode: perm}
		pe := pathEntry{Path: fl.Path, PathType: "hardlink"}
		content := fl.Data
		switch {
		case fl.Mode&fs.ModeDir != 0:
			if fl.Symlink != "" || fl.Hardlink != "" || len(fl.Data) > 0 {
				return nil, nil, fail("file %q: a directory has no data or link", fl.Path)
			}
			m.typ, m.mode = tar.TypeDir, 0o755
			pe.PathType = "directory"
			content = nil
		case fl.Symlink != "":
			if fl.Hardlink != "" || len(fl.Data) > 0 {
				return nil, nil, fail("file %q: a symlink has no data or hardlink", fl.Path)
			}
			m.typ, m.linkname, m.mode = tar.TypeSymlink, fl.Symlink, 0o777
			pe.PathType = "softlink"
			// conda-build records the digest of the file the link points to, when known.
			content = nil
			if t, ok := byPath[path.Clean(path.Join(path.Dir(fl.Path), fl.Symlink))]; ok && t.Symlink == "" && t.Hardlink == "" && t.Mode&fs.ModeDir == 0 {
				content = t.Data
			}
		case fl.Hardlink != "":
			t, ok := byPath[fl.Hardlink]
			if !ok || t.Symlink != "" || t.Hardlink != "" || t.Mode&fs.ModeDir != 0 {
				return nil, nil, fail("file %q: hardlink target %q is not a regular file of the package", fl.Path, fl.Hardlink)
			}
			if len(fl.Data) > 0 {
				return nil, nil, fail("file %q: a hardlink has no data of its own", fl.Path)
			}
			m.typ, m.linkname = tar.TypeLink, fl.Hardlink
			content = t.Data
			// Both names hold the same bytes, so both need the prefix replaced, as
			// conda-build records it.
			if fl.Placeholder == "" {
				fl.Placeholder, fl.PlaceholderMode = t.Placeholder, t.PlaceholderMode
			}
		default:
			m.typ, m.data = tar.TypeReg, fl.Data
		}
		if fl.Placeholder != "" {
			mode := fl.PlaceholderMode
			if mode == "" {
				mode = "text"
			}
			if mode != "text" && mode != "binary" {
				return nil, nil, fail("file %q: placeholder mode %q is not text or binary", fl.Path, mode)
			}
			if (m.typ != tar.TypeReg && m.typ != tar.TypeLink) || !bytes.Contains(content, []byte(fl.Placeholder)) {
				return nil, nil, fail("file %q: placeholder %q does not occur in its data", fl.Path, fl.Placeholder)
			}
			pe.Placeholder, pe.FileMode = fl.Placeholder, mode
			ph := fl.Placeholder
			if strings.ContainsAny(ph, " \"") {
				ph = `"` + ph + `"`
			}
			hasPrefix = append(hasPrefix, ph+" "+mode+" "+fl.Path)
		}
		if content != nil || m.typ == tar.TypeReg || m.typ == tar.TypeLink {
			s := sha256.Sum256(content)
			n := int64(len(content))
			pe.SHA256, pe.Size = hex.EncodeToString(s[:]), &n
		}
		payload = append(payload, m)
		paths = append(paths, pe)
		if m.typ != tar.TypeDir {
			fileList = append(fileList, fl.Path)
		}
	}

	add := func(name string, data []byte) {
		info = append(info, member{path: "info/" + name, data: data, mode: 0o644, typ: tar.TypeReg})
	}
	idx, err := indexJSON(rec)
	if err != nil {
		return nil, nil, fail("%v", err)
	}
	add("index.json", idx)
	if paths == nil {
		paths = []pathEntry{}
	}
	pj, err := json.MarshalIndent(struct {
		Paths   []pathEntry `json:"paths"`
		Version int         `json:"paths_version"`
	}{paths, 1}, "", "  ")
	if err != nil {
		return nil, nil, fail("%v", err)
	}
	add("paths.json", append(pj, '\n'))
	add("files", lines(fileList))
	if len(hasPrefix) > 0 {
		add("has_prefix", lines(hasPrefix))
	}
	if len(p.EntryPoints) > 0 && rec.Noarch != "python" {
		return nil, nil, fail("entry points need noarch: python")
	}
	if rec.Noarch != "" {
		noarch := map[string]any{"type": rec.Noarch}
		if len(p.EntryPoints) > 0 {
			for _, ep := range p.EntryPoints {
				name, target, ok := strings.Cut(ep, "=")
				if !ok || strings.TrimSpace(name) == "" || !strings.Contains(target, ":") {
					return nil, nil, fail("entry point %q is not \"name = module:function\"", ep)
				}
			}
			noarch["entry_points"] = p.EntryPoints
		}
		lj, err := json.MarshalIndent(map[string]any{"noarch": noarch, "package_metadata_version": 1}, "", "  ")
		if err != nil {
			return nil, nil, fail("%v", err)
		}
		add("link.json", append(lj, '\n'))
	}
	slices.SortFunc(info, func(a, b member) int { return strings.Compare(a.path, b.path) })
	return payload, info, nil
}

// indexJSON renders info/index.json with sorted keys, as conda-build does.
func indexJSON(rec conda.PackageRecord) ([]byte, error) {
	m := RepodataEntry(rec)
	delete(m, "md5")
	delete(m, "sha256")
	delete(m, "size")
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// RepodataEntry is the repodata.json value of a record: the index.json fields plus the
// archive's digests and size (no fn, url or channel, which repodata keys carry).
func RepodataEntry(rec conda.PackageRecord) map[string]any {
	deps := rec.Depends
	if deps == nil {
		deps = []string{}
	}
	m := map[string]any{
		"name":         rec.Name,
		"version":      rec.Version,
		"build":        rec.Build,
		"build_number": rec.BuildNumber,
		"depends":      deps,
		"subdir":       rec.Subdir,
	}
	opt := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	opt("noarch", rec.Noarch)
	opt("license", rec.License)
	opt("license_family", rec.LicenseFamily)
	opt("features", rec.Features)
	opt("md5", rec.MD5)
	opt("sha256", rec.SHA256)
	if len(rec.Constrains) > 0 {
		m["constrains"] = rec.Constrains
	}
	if len(rec.TrackFeatures) > 0 {
		m["track_features"] = strings.Join(rec.TrackFeatures, " ")
	}
	if rec.Size > 0 {
		m["size"] = rec.Size
	}
	if rec.Timestamp > 0 {
		m["timestamp"] = rec.Timestamp
	}
	return m
}

func lines(ls []string) []byte {
	if len(ls) == 0 {
		return nil
	}
	return []byte(strings.Join(ls, "\n") + "\n")
}

func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.HasPrefix(p, "/"):
		return errors.New("absolute path")
	case strings.Contains(p, "\\"):
		return errors.New("backslash in path")
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return errors.New("path is not clean and relative")
	}
	return nil
}

// writeTar writes members as a tar with fixed owner and time.
func writeTar(w io.Writer, ms []member) error {
	tw := tar.NewWriter(w)
	for _, m := range ms {
		hdr := &tar.Header{
			Typeflag: m.typ,
			Name:     m.path,
			Linkname: m.linkname,
			Mode:     m.mode,
			ModTime:  fixedTime,
			Format:   tar.FormatPAX,
		}
		if m.typ == tar.TypeDir {
			hdr.Name += "/"
		}
		if m.typ == tar.TypeReg {
			hdr.Size = int64(len(m.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if m.typ == tar.TypeReg {
			if _, err := tw.Write(m.data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func buildTarBz2(info, payload []member) ([]byte, error) {
	var buf bytes.Buffer
	bw, err := bzip2.NewWriter(&buf, &bzip2.WriterConfig{Level: bzip2Level})
	if err != nil {
		return nil, err
	}
	if err := writeTar(bw, append(slices.Clone(info), payload...)); err != nil {
		return nil, err
	}
	if err := bw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func buildConda(id string, info, payload []member) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstdLevel), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	zst := func(ms []member) ([]byte, error) {
		var t bytes.Buffer
		if err := writeTar(&t, ms); err != nil {
			return nil, err
		}
		return enc.EncodeAll(t.Bytes(), nil), nil
	}
	pkg, err := zst(payload)
	if err != nil {
		return nil, err
	}
	inf, err := zst(info)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// Member order follows conda-package-handling: metadata, payload, info.
	for _, e := range []struct {
		name string
		data []byte
	}{
		{"metadata.json", []byte(`{"conda_pkg_format_version": 2}`)},
		{"pkg-" + id + ".tar.zst", pkg},
		{"info-" + id + ".tar.zst", inf},
	} {
		// CreateRaw with known sizes writes no data descriptor, so streaming readers
		// can read the archive front to back.
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name:               e.name,
			Method:             zip.Store,
			Modified:           fixedTime,
			CRC32:              crc32.ChecksumIEEE(e.data),
			CompressedSize64:   uint64(len(e.data)),
			UncompressedSize64: uint64(len(e.data)),
		})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
