package pypitest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Wheel describes a wheel to build.
type Wheel struct {
	Name, Version string
	Tag           string // default py3-none-any
	Requires      []string
	RequiresPy    string
	Extras        []string
	// Files are extra archive members (path -> content), e.g. "pkg/__init__.py".
	Files map[string]string
	// Scripts are console_scripts: name -> "module:attr".
	Scripts map[string]string
	// NotPurelib sets Root-Is-Purelib: false.
	NotPurelib bool
}

// Filename is the wheel's file name.
func (w Wheel) Filename() string {
	tag := w.Tag
	if tag == "" {
		tag = "py3-none-any"
	}
	return fmt.Sprintf("%s-%s-%s.whl", strings.ReplaceAll(w.Name, "-", "_"), w.Version, tag)
}

// DistInfo is the .dist-info directory name.
func (w Wheel) DistInfo() string {
	return fmt.Sprintf("%s-%s.dist-info", strings.ReplaceAll(w.Name, "-", "_"), w.Version)
}

// Metadata is the core metadata text.
func (w Wheel) Metadata() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", w.Name, w.Version)
	if w.RequiresPy != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", w.RequiresPy)
	}
	for _, e := range w.Extras {
		fmt.Fprintf(&b, "Provides-Extra: %s\n", e)
	}
	for _, r := range w.Requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	b.WriteString("\nA test package.\n")
	return b.String()
}

// Entry is one archive member for Zip.
type Entry struct {
	Name string
	Body string
	Mode uint32 // unix mode bits; 0 means a 0644 file
}

// Build returns the wheel's bytes, with a correct RECORD.
func (w Wheel) Build() []byte {
	di := w.DistInfo()
	files := map[string]string{}
	for k, v := range w.Files {
		files[k] = v
	}
	if len(files) == 0 {
		mod := strings.ReplaceAll(w.Name, "-", "_")
		files[mod+"/__init__.py"] = fmt.Sprintf("__version__ = %q\n", w.Version)
	}
	files[di+"/METADATA"] = w.Metadata()
	purelib := "true"
	if w.NotPurelib {
		purelib = "false"
	}
	tag := w.Tag
	if tag == "" {
		tag = "py3-none-any"
	}
	files[di+"/WHEEL"] = fmt.Sprintf("Wheel-Version: 1.0\nGenerator: pypitest\nRoot-Is-Purelib: %s\nTag: %s\n", purelib, tag)
	if len(w.Scripts) > 0 {
		var b strings.Builder
		b.WriteString("[console_scripts]\n")
		names := make([]string, 0, len(w.Scripts))
		for n := range w.Scripts {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(&b, "%s = %s\n", n, w.Scripts[n])
		}
		files[di+"/entry_points.txt"] = b.String()
	}
	var entries []Entry
	for k, v := range files {
		entries = append(entries, Entry{Name: k, Body: v})
	}
	return Zip(entries, di+"/RECORD", nil)
}

// RecordLine is the RECORD row of a file with this content.
func RecordLine(name, body string) string {
	sum := sha256.Sum256([]byte(body))
	return fmt.Sprintf("%s,sha256=%s,%d", name, base64.RawURLEncoding.EncodeToString(sum[:]), len(body))
}

// Zip writes entries in name order, then a RECORD at record (unless record is "")
// listing them, with lines in override replacing the computed ones (name -> line,
// "" drops the line).
func Zip(entries []Entry, record string, override map[string]string) []byte {
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var rec strings.Builder
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		mode := e.Mode
		if mode == 0 {
			mode = 0o100644
		}
		h.CreatorVersion = 3 << 8 // unix
		h.ExternalAttrs = mode << 16
		f, err := zw.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		f.Write([]byte(e.Body))
		line := RecordLine(e.Name, e.Body)
		if o, ok := override[e.Name]; ok {
			line = o
		}
		if line != "" {
			rec.WriteString(line + "\n")
		}
	}
	if record != "" {
		for name, line := range override {
			if !slices.ContainsFunc(entries, func(e Entry) bool { return e.Name == name }) && line != "" {
				rec.WriteString(line + "\n")
			}
		}
		rec.WriteString(record + ",,\n")
		f, _ := zw.Create(record)
		f.Write([]byte(rec.String()))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
