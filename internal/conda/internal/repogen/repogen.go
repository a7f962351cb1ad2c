// Package repogen builds large repodata.json documents for benchmarks by replicating
// real records under renamed package names. It is test support: it uses
// encoding/json freely and is not imported by the conda package itself.
package repogen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

type section map[string]map[string]json.RawMessage

// Generate writes a repodata.json of at least targetBytes to w, made of copies of the
// records in src (a real repodata.json) whose names (and file names) get a "-rN"
// suffix per copy. It returns the number of records written.
func Generate(w io.Writer, src []byte, targetBytes int64) (int, error) {
	return GenerateOver(w, src, nil, targetBytes)
}

// GenerateOver is Generate with the records of base (a flat {"file name": record} map,
// as conda's test channels store them) written too, under their own names, in
// "packages" or "packages.conda" by file name: a benchmark can then solve real specs
// (python 3.6.* + numpy) against an index of conda-forge size.
func GenerateOver(w io.Writer, src, base []byte, targetBytes int64) (int, error) {
	var doc struct {
		Packages      section `json:"packages"`
		PackagesConda section `json:"packages.conda"`
	}
	if err := json.Unmarshal(src, &doc); err != nil {
		return 0, fmt.Errorf("decoding the source repodata: %w", err)
	}
	// Size one copy as it will be written (compact JSON, renamed keys).
	var perCopy int64
	for _, sec := range []section{doc.Packages, doc.PackagesConda} {
		for fn, rec := range sec {
			b, err := json.Marshal(rec)
			if err != nil {
				return 0, err
			}
			perCopy += int64(len(fn)+len(b)) + 12
		}
	}
	copies := int((targetBytes + perCopy - 1) / perCopy)
	if copies < 1 {
		copies = 1
	}
	cw := &countWriter{w: w}
	n := 0
	fmt.Fprint(cw, `{"info":{"subdir":"linux-64"},`)
	for si, sec := range []struct {
		key string
		s   section
	}{{"packages", doc.Packages}, {"packages.conda", doc.PackagesConda}} {
		if si > 0 {
			fmt.Fprint(cw, ",")
		}
		fmt.Fprintf(cw, "%q:{", sec.key)
		type entry struct {
			fn   string
			rec  map[string]json.RawMessage
			keep bool
		}
		var entries []entry
		if len(base) > 0 {
			var flat section
			if err := json.Unmarshal(base, &flat); err != nil {
				return 0, fmt.Errorf("decoding the base records: %w", err)
			}
			for fn, rec := range flat {
				if strings.HasSuffix(fn, ".conda") == (sec.key == "packages.conda") {
					entries = append(entries, entry{fn: fn, rec: rec, keep: true})
				}
			}
		}
		for c := 0; c < copies; c++ {
			for fn, rec := range sec.s {
				var name string
				if err := json.Unmarshal(rec["name"], &name); err != nil {
					return n, fmt.Errorf("record %s: %w", fn, err)
				}
				newName := fmt.Sprintf("%s-r%d", name, c)
				entries = append(entries, entry{fn: newName + strings.TrimPrefix(fn, name), rec: rec})
			}
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.fn, b.fn) })
		var buf bytes.Buffer
		for i, e := range entries {
			if i > 0 {
				buf.WriteByte(',')
			}
			rec := make(map[string]json.RawMessage, len(e.rec))
			for k, v := range e.rec {
				rec[k] = v
			}
			if !e.keep {
				// The new name is the file name up to the version and build.
				parts := strings.Split(strings.TrimSuffix(strings.TrimSuffix(e.fn, ".conda"), ".tar.bz2"), "-")
				nb, _ := json.Marshal(strings.Join(parts[:len(parts)-2], "-"))
				rec["name"] = nb
				// Each copy is a distinct archive: real repodata never repeats a hash.
				for _, k := range []string{"md5", "sha256"} {
					var h string
					if json.Unmarshal(rec[k], &h) == nil && h != "" {
						sum := sha256.Sum256([]byte(h + e.fn))
						hb, _ := json.Marshal(hex.EncodeToString(sum[:])[:len(h)])
						rec[k] = hb
					}
				}
			}
			kb, _ := json.Marshal(e.fn)
			vb, err := json.Marshal(rec)
			if err != nil {
				return n, err
			}
			buf.Write(kb)
			buf.WriteByte(':')
			buf.Write(vb)
			n++
			if buf.Len() > 1<<20 {
				if _, err := cw.Write(buf.Bytes()); err != nil {
					return n, err
				}
				buf.Reset()
			}
		}
		if _, err := cw.Write(buf.Bytes()); err != nil {
			return n, err
		}
		fmt.Fprint(cw, "}")
	}
	fmt.Fprint(cw, `,"repodata_version":1}`)
	return n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
