package wheel

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
)

// Scheme says where each part of a wheel goes, as slash-separated paths relative to
// the install root (the environment prefix).
type Scheme struct {
	Purelib string // e.g. lib/python3.12/site-packages
	Platlib string
	Scripts string // e.g. bin
	Headers string // e.g. include/python3.12; the distribution name is appended
	Data    string // e.g. "" (the prefix itself)
}

// Options configure Install.
type Options struct {
	// Root is the directory the environment prefix is written under.
	Root string
	// Scheme is where the parts go under Root.
	Scheme Scheme
	// Python is the interpreter as the installed environment sees it; it becomes the
	// shebang of entry-point scripts and of "#!python" scripts.
	Python string
	// Installer is written to the INSTALLER file.
	Installer string
}

// Installed describes one installed wheel.
type Installed struct {
	Name     string // as the dist-info directory spells it
	Version  string
	DistInfo string   // relative to Root
	Files    []string // every file written, relative to Root, sorted
}

// PathError is a wheel entry whose path is unsafe (absolute, "..", escaping).
type PathError struct {
	Wheel, Entry, Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("wheel %s: entry %q %s; refusing to install it", e.Wheel, e.Entry, e.Reason)
}

// RecordError is a wheel whose contents do not match its RECORD.
type RecordError struct {
	Wheel, Entry, Reason string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("wheel %s: %s: %s (RECORD does not match the archive; the wheel is corrupt or tampered with)", e.Wheel, e.Entry, e.Reason)
}

type recordRow struct {
	algo, digest string
	size         int64
	hasSize      bool
}

// Install unpacks the wheel read from r into opt.Root. On error every file it wrote is
// removed again; it never overwrites an existing file.
func Install(r io.ReaderAt, size int64, wheelFile string, opt Options) (*Installed, error) {
	fn, err := ParseFilename(path.Base(wheelFile))
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: not a zip archive: %w", wheelFile, err)
	}
	inst := &installer{opt: opt, wheel: path.Base(wheelFile)}
	inst.sink = inst.writeDisk
	res, err := inst.run(zr, fn)
	if err != nil {
		inst.rollback()
		return nil, err
	}
	return res, nil
}

// File is one file of an in-memory install.
type File struct {
	Path string // relative to the prefix, slash-separated
	Data []byte
	Mode os.FileMode
}

// InstallFiles is Install without a disk: it returns the files the wheel installs
// (sorted by path; directories are implied). opt.Root is not used.
func InstallFiles(r io.ReaderAt, size int64, wheelFile string, opt Options) ([]File, *Installed, error) {
	fn, err := ParseFilename(path.Base(wheelFile))
	if err != nil {
		return nil, nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("wheel %s: not a zip archive: %w", wheelFile, err)
	}
	inst := &installer{opt: opt, wheel: path.Base(wheelFile)}
	var files []File
	seen := map[string]bool{}
	inst.sink = func(dest string, body []byte, mode os.FileMode) error {
		if seen[dest] {
			return fmt.Errorf("wheel %s: %s is written twice", inst.wheel, dest)
		}
		seen[dest] = true
		files = append(files, File{Path: dest, Data: body, Mode: mode})
		return nil
	}
	res, err := inst.run(zr, fn)
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, res, nil
}

type installer struct {
	opt     Options
	wheel   string
	sink    func(dest string, body []byte, mode os.FileMode) error
	written []string // relative to Root
	dirs    []string
}

func (in *installer) rollback() {
	for _, f := range slices.Backward(in.written) {
		os.Remove(filepath.Join(in.opt.Root, filepath.FromSlash(f)))
	}
	for _, d := range slices.Backward(in.dirs) {
		os.Remove(filepath.Join(in.opt.Root, filepath.FromSlash(d))) // only if empty
	}
}

// safeEntry checks a zip entry name: relative, clean, no "..", no backslashes.
func (in *installer) safeEntry(name string) error {
	switch {
	case name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) ||
		len(name) > 1 && name[1] == ':':
		return &PathError{in.wheel, name, "is absolute"}
	case strings.ContainsRune(name, 0):
		return &PathError{in.wheel, name, "contains a NUL byte"}
	}
	for _, p := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if p == ".." {
			return &PathError{in.wheel, name, "climbs out with \"..\""}
		}
	}
	return nil
}

func (in *installer) run(zr *zip.Reader, fn Filename) (*Installed, error) {
	// Find the one .dist-info directory, and index the entries.
	files := map[string]*zip.File{}
	var distInfo string
	for _, f := range zr.File {
		if err := in.safeEntry(f.Name); err != nil {
			return nil, err
		}
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if f.Mode()&os.ModeSymlink != 0 || !f.Mode().IsRegular() && f.Mode()&os.ModeType != 0 {
			return nil, &PathError{in.wheel, f.Name, "is not a regular file (symlinks and devices are not allowed in wheels)"}
		}
		clean := path.Clean(f.Name)
		if _, dup := files[clean]; dup {
			return nil, &PathError{in.wheel, f.Name, "appears twice"}
		}
		files[clean] = f
		top, _, _ := strings.Cut(clean, "/")
		if strings.HasSuffix(top, ".dist-info") {
			if distInfo != "" && distInfo != top {
				return nil, fmt.Errorf("wheel %s: two .dist-info directories (%s, %s)", in.wheel, distInfo, top)
			}
			distInfo = top
		}
	}
	if distInfo == "" {
		return nil, fmt.Errorf("wheel %s: no .dist-info directory", in.wheel)
	}
	distName, distVer, _ := strings.Cut(strings.TrimSuffix(distInfo, ".dist-info"), "-")
	if pep508.NormalizeName(distName) != fn.Name {
		return nil, fmt.Errorf("wheel %s: .dist-info directory %s is for another project", in.wheel, distInfo)
	}
	dataDir := strings.TrimSuffix(distInfo, ".dist-info") + ".data"

	wheelMeta, err := in.read(files, distInfo+"/WHEEL")
	if err != nil {
		return nil, err
	}
	hdr := parseKV(wheelMeta)
	wv := hdr["Wheel-Version"]
	if !strings.HasPrefix(wv, "1.") {
		return nil, fmt.Errorf("wheel %s: Wheel-Version %q is not supported (1.x is)", in.wheel, wv)
	}
	rootLib := in.opt.Scheme.Platlib
	if strings.EqualFold(hdr["Root-Is-Purelib"], "true") {
		rootLib = in.opt.Scheme.Purelib
	}

	record, err := in.parseRecord(files, distInfo+"/RECORD")
	if err != nil {
		return nil, err
	}
	// Every file but RECORD and its signatures must be listed with a hash.
	for name := range files {
		switch name {
		case distInfo + "/RECORD", distInfo + "/RECORD.jws", distInfo + "/RECORD.p7s":
			continue
		}
		row, ok := record[name]
		if !ok {
			return nil, &RecordError{in.wheel, name, "is not listed in RECORD"}
		}
		if row.algo == "" {
			return nil, &RecordError{in.wheel, name, "has no hash in RECORD"}
		}
	}
	for name := range record {
		if _, ok := files[name]; !ok && name != distInfo+"/RECORD" {
			return nil, &RecordError{in.wheel, name, "is listed in RECORD but missing from the archive"}
		}
	}

	var entryPoints []byte
	if _, ok := files[distInfo+"/entry_points.txt"]; ok {
		if entryPoints, err = in.read(files, distInfo+"/entry_points.txt"); err != nil {
			return nil, err
		}
	}

	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	newRecord := map[string]string{} // path relative to Root -> "sha256=...,size"
	for _, name := range names {
		switch name {
		case distInfo + "/RECORD", distInfo + "/RECORD.jws", distInfo + "/RECORD.p7s", distInfo + "/INSTALLER":
			continue
		}
		dest, script, err := in.destination(name, dataDir, rootLib)
		if err != nil {
			return nil, err
		}
		f := files[name]
		body, err := in.verified(f, record[name])
		if err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if f.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if script {
			mode = 0o755
			if bytes.HasPrefix(body, []byte("#!python")) {
				_, rest, _ := bytes.Cut(body, []byte("\n"))
				body = append([]byte("#!"+in.opt.Python+"\n"), rest...)
			}
		}
		if err := in.write(dest, body, mode); err != nil {
			return nil, err
		}
		newRecord[dest] = recordHash(body)
	}
	if entryPoints != nil {
		scripts, err := parseEntryPoints(entryPoints)
		if err != nil {
			return nil, fmt.Errorf("wheel %s: entry_points.txt: %w", in.wheel, err)
		}
		for _, s := range scripts {
			dest := path.Join(in.opt.Scheme.Scripts, s.name)
			body := []byte(scriptText(in.opt.Python, s.module, s.attr))
			if err := in.write(dest, body, 0o755); err != nil {
				return nil, err
			}
			newRecord[dest] = recordHash(body)
		}
	}
	installer := in.opt.Installer
	if installer == "" {
		installer = "reprobuild"
	}
	instPath := path.Join(rootLib, distInfo, "INSTALLER")
	if err := in.write(instPath, []byte(installer+"\n"), 0o644); err != nil {
		return nil, err
	}
	newRecord[instPath] = recordHash([]byte(installer + "\n"))

	// The new RECORD: paths relative to the library directory, sorted, itself last.
	recPath := path.Join(rootLib, distInfo, "RECORD")
	keys := make([]string, 0, len(newRecord))
	for k := range newRecord {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, k := range keys {
		rel := relTo(rootLib, k)
		h, sz, _ := strings.Cut(newRecord[k], ",")
		w.Write([]string{rel, h, sz})
	}
	w.Write([]string{relTo(rootLib, recPath), "", ""})
	w.Flush()
	if err := in.write(recPath, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	out := &Installed{Name: distName, Version: distVer, DistInfo: path.Join(rootLib, distInfo)}
	out.Files = append(keys, recPath)
	slices.Sort(out.Files)
	return out, nil
}

// destination maps an archive path to a path under Root.
func (in *installer) destination(name, dataDir, rootLib string) (dest string, script bool, err error) {
	if rest, ok := strings.CutPrefix(name, dataDir+"/"); ok {
		scheme, sub, ok := strings.Cut(rest, "/")
		if !ok || sub == "" {
			return "", false, &PathError{in.wheel, name, "is not inside a .data scheme directory"}
		}
		s := in.opt.Scheme
		var base string
		switch scheme {
		case "purelib":
			base = s.Purelib
		case "platlib":
			base = s.Platlib
		case "scripts":
			base, script = s.Scripts, true
		case "headers":
			dn, _, _ := strings.Cut(dataDir, "-")
			base = path.Join(s.Headers, dn)
		case "data":
			base = s.Data
		default:
			return "", false, &PathError{in.wheel, name, "names an unknown .data scheme " + strconv.Quote(scheme)}
		}
		if script && strings.Contains(sub, "/") {
			return "", false, &PathError{in.wheel, name, "is a script in a subdirectory"}
		}
		return path.Join(base, sub), script, nil
	}
	return path.Join(rootLib, name), false, nil
}

func relTo(base, p string) string {
	r, err := filepath.Rel(filepath.FromSlash("/"+base), filepath.FromSlash("/"+p))
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

func (in *installer) read(files map[string]*zip.File, name string) ([]byte, error) {
	f, ok := files[name]
	if !ok {
		return nil, fmt.Errorf("wheel %s: %s is missing", in.wheel, name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s: %w", in.wheel, name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s: %w", in.wheel, name, err)
	}
	return b, nil
}

func (in *installer) verified(f *zip.File, row recordRow) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s: %w", in.wheel, f.Name, err)
	}
	defer rc.Close()
	var h hash.Hash
	switch row.algo {
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	}
	body, err := io.ReadAll(io.TeeReader(rc, h))
	if err != nil {
		return nil, &RecordError{in.wheel, f.Name, "cannot be read: " + err.Error()}
	}
	if got := base64.RawURLEncoding.EncodeToString(h.Sum(nil)); got != strings.TrimRight(row.digest, "=") {
		return nil, &RecordError{in.wheel, f.Name, fmt.Sprintf("%s is %s, RECORD says %s", row.algo, got, row.digest)}
	}
	if row.hasSize && int64(len(body)) != row.size {
		return nil, &RecordError{in.wheel, f.Name, fmt.Sprintf("size is %d, RECORD says %d", len(body), row.size)}
	}
	return body, nil
}

func (in *installer) parseRecord(files map[string]*zip.File, name string) (map[string]recordRow, error) {
	b, err := in.read(files, name)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, &RecordError{in.wheel, name, "is not valid CSV: " + err.Error()}
	}
	out := make(map[string]recordRow, len(rows))
	for _, r := range rows {
		if len(r) == 0 || len(r) == 1 && r[0] == "" {
			continue
		}
		if len(r) != 3 {
			return nil, &RecordError{in.wheel, name, fmt.Sprintf("row %q does not have three fields", strings.Join(r, ","))}
		}
		if err := in.safeEntry(r[0]); err != nil {
			return nil, err
		}
		var row recordRow
		if r[1] != "" {
			algo, digest, ok := strings.Cut(r[1], "=")
			switch {
			case !ok:
				return nil, &RecordError{in.wheel, r[0], "has a malformed hash " + strconv.Quote(r[1])}
			case algo != "sha256" && algo != "sha384" && algo != "sha512":
				return nil, &RecordError{in.wheel, r[0], "uses hash " + algo + " (sha256 or stronger is required)"}
			}
			row.algo, row.digest = algo, digest
		}
		if r[2] != "" {
			n, err := strconv.ParseInt(r[2], 10, 64)
			if err != nil || n < 0 {
				return nil, &RecordError{in.wheel, r[0], "has a malformed size " + strconv.Quote(r[2])}
			}
			row.size, row.hasSize = n, true
		}
		out[path.Clean(r[0])] = row
	}
	return out, nil
}

// write creates dest (relative to Root) exclusively, checking that no directory on
// the way is a symlink that leads outside Root.
func (in *installer) write(dest string, body []byte, mode os.FileMode) error {
	if err := in.safeEntry(dest); err != nil {
		return err
	}
	return in.sink(dest, body, mode)
}

func (in *installer) writeDisk(dest string, body []byte, mode os.FileMode) error {
	dir := path.Dir(dest)
	if err := in.mkdirs(dir); err != nil {
		return err
	}
	full := filepath.Join(in.opt.Root, filepath.FromSlash(dest))
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("wheel %s: %s already exists in the environment (another package installed it); refusing to overwrite", in.wheel, dest)
		}
		return fmt.Errorf("wheel %s: %w", in.wheel, err)
	}
	in.written = append(in.written, dest)
	if _, err := f.Write(body); err != nil {
		f.Close()
		return fmt.Errorf("wheel %s: writing %s: %w", in.wheel, dest, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wheel %s: writing %s: %w", in.wheel, dest, err)
	}
	// The umask must not shape the result.
	return os.Chmod(full, mode)
}

func (in *installer) mkdirs(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	if err := in.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	full := filepath.Join(in.opt.Root, filepath.FromSlash(dir))
	st, err := os.Lstat(full)
	switch {
	case err == nil && st.IsDir():
		return nil
	case err == nil && st.Mode()&os.ModeSymlink != 0:
		// A symlinked directory from the environment (lib64 -> lib) is fine as long
		// as it stays inside the root.
		target, err := filepath.EvalSymlinks(full)
		if err != nil {
			return fmt.Errorf("wheel %s: %s: %w", in.wheel, dir, err)
		}
		root, _ := filepath.EvalSymlinks(in.opt.Root)
		if rel, err := filepath.Rel(root, target); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return &PathError{in.wheel, dir, "leads through a symlink out of the environment"}
		}
		return nil
	case err == nil:
		return fmt.Errorf("wheel %s: %s exists and is not a directory", in.wheel, dir)
	}
	if err := os.Mkdir(full, 0o755); err != nil {
		return fmt.Errorf("wheel %s: %w", in.wheel, err)
	}
	os.Chmod(full, 0o755)
	in.dirs = append(in.dirs, dir)
	return nil
}

func recordHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + strconv.Itoa(len(b))
}

func parseKV(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

type entryPoint struct{ name, module, attr string }

// parseEntryPoints reads console_scripts and gui_scripts from entry_points.txt.
func parseEntryPoints(b []byte) ([]entryPoint, error) {
	var out []entryPoint
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.TrimSpace(strings.Trim(line, "[]"))
			continue
		}
		if section != "console_scripts" && section != "gui_scripts" {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if i := strings.IndexByte(val, '['); i >= 0 {
			val = strings.TrimSpace(val[:i])
		}
		mod, attr, ok2 := strings.Cut(val, ":")
		mod, attr = strings.TrimSpace(mod), strings.TrimSpace(attr)
		if !ok || !ok2 || name == "" || mod == "" || attr == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." || !validDotted(mod) || !validDotted(attr) {
			return nil, fmt.Errorf("entry point %q is not name = module:attr", line)
		}
		out = append(out, entryPoint{name, mod, attr})
	}
	slices.SortFunc(out, func(a, b entryPoint) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func validDotted(s string) bool {
	for _, p := range strings.Split(s, ".") {
		if !identRE.MatchString(p) {
			return false
		}
	}
	return true
}

// scriptText is the launcher pip and installer write for an entry point.
func scriptText(python, module, attr string) string {
	head, _, _ := strings.Cut(attr, ".")
	return "#!" + python + "\n" +
		"# -*- coding: utf-8 -*-\n" +
		"import re\n" +
		"import sys\n" +
		"from " + module + " import " + head + "\n" +
		"if __name__ == \"__main__\":\n" +
		"    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n" +
		"    sys.exit(" + attr + "())\n"
}
