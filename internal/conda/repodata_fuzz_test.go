package conda

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func refString(v any) (string, bool) {
	switch s := v.(type) {
	case nil:
		return "", true
	case string:
		return s, true
	}
	return "", false
}

func refInt(v any) (int64, bool) {
	switch n := v.(type) {
	case nil:
		return 0, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}

func refList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// FuzzParseRepodata checks the hand-written (unsafe-backed) repodata scanner against
// encoding/json: it never panics, it accepts only valid JSON, and every record it
// returns has the fields encoding/json reads from the same document.
func FuzzParseRepodata(f *testing.F) {
	f.Add([]byte(`{"info":{"subdir":"linux-64"},"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0","build_number":0,"depends":["b >=1"],"sha256":"00","size":12,"timestamp":1700000000}},"packages.conda":{"b-1-0.conda":{"name":"b","version":"1","build":"0","build_number":3,"constrains":["c <2"],"license":"MIT","md5":"ff"}},"removed":["x.conda"]}`))
	f.Add([]byte(`{"packages":{"a.conda":{"name":"a\u00e9","version":"1","build":"0","track_features":"x y","noarch":true,"subdir":"noarch"}}}`))
	f.Add([]byte(`{"info":{"subdir":"noarch"},"packages":{},"packages.conda":{"a.conda":{"name":"a","version":"1","build":"py_0","build_number":1.0,"depends":[],"extra":{"deep":[1,2,{"x":null}]}}}}`))
	f.Add([]byte(`{"packages":{"a.conda":{"name":"a","name":"b","version":"1","build":"0"}}}`))
	f.Add([]byte(`{"repodata_version":1,"packages":{"a.conda":{"name":"a","version":"1","build":"0","size":-1}}} `))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := ParseRepodata(data, "https://example.org/c", WithSubdir("linux-64"))
		// The streaming decoder, fed a byte at a time, must agree with the in-memory one.
		streamed, serr := ReadRepodata(iotest.OneByteReader(bytes.NewReader(data)), "https://example.org/c", WithSubdir("linux-64"))
		if (err == nil) != (serr == nil) {
			t.Fatalf("ParseRepodata error %v, ReadRepodata error %v: %q", err, serr, data)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(rd, streamed) {
			t.Fatalf("ParseRepodata and ReadRepodata disagree: %q", data)
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON: %q", data)
		}
		if !utf8.Valid(data) {
			return // encoding/json turns invalid UTF-8 into U+FFFD; the scanner keeps the bytes
		}
		if !uniqueTopKeys(data) {
			return // a repeated section: encoding/json keeps the last, the scanner reads both
		}
		// Keys are matched exactly (a struct would let encoding/json match "PACKAGES").
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatalf("accepted what encoding/json rejects (%v): %q", err, data)
		}
		entries := map[string]map[string]any{}
		for _, section := range []string{"packages", "packages.conda"} {
			var recs map[string]map[string]any
			if raw, ok := top[section]; ok {
				if err := json.Unmarshal(raw, &recs); err != nil {
					t.Fatalf("accepted a %s section encoding/json rejects (%v): %q", section, err, data)
				}
			}
			for fn, e := range recs {
				entries[fn] = e
			}
		}
		if len(rd.Packages) != len(entries) {
			t.Fatalf("%d records, encoding/json sees %d: %q", len(rd.Packages), len(entries), data)
		}
		for _, r := range rd.Packages {
			e, ok := entries[r.Fn]
			if !ok {
				t.Fatalf("record %q is not in the document: %q", r.Fn, data)
			}
			for key, got := range map[string]string{"name": r.Name, "version": r.Version, "md5": r.MD5, "sha256": r.SHA256, "license": r.License} {
				if v, present := e[key]; present {
					if want, ok := refString(v); ok && want != got {
						t.Fatalf("%s %s: %q, encoding/json %q: %q", r.Fn, key, got, want, data)
					}
				}
			}
			if v, present := e["build"]; present {
				if want, ok := refString(v); ok && want != "" && want != r.Build {
					t.Fatalf("%s build: %q, encoding/json %q: %q", r.Fn, r.Build, want, data)
				}
			}
			for key, got := range map[string]int64{"build_number": r.BuildNumber, "size": r.Size} {
				if v, present := e[key]; present {
					if want, ok := refInt(v); ok && want != got {
						t.Fatalf("%s %s: %d, encoding/json %d: %q", r.Fn, key, got, want, data)
					}
				}
			}
			for key, got := range map[string][]string{"depends": r.Depends, "constrains": r.Constrains} {
				if v, present := e[key]; present {
					if want, ok := refList(v); ok && !slices.Equal(want, got) {
						t.Fatalf("%s %s: %q, encoding/json %q: %q", r.Fn, key, got, want, data)
					}
				}
			}
		}
	})
}

// uniqueTopKeys reports whether the document's top-level object names each key once.
func uniqueTopKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return false
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return true
}
