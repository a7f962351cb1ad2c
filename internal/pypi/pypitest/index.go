package pypitest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// File is one file a test index serves.
type File struct {
	Filename   string
	Body       []byte
	Metadata   string // PEP 658 metadata served beside it ("" = none)
	RequiresPy string
	Yanked     string // non-empty = yanked with this reason ("yes" for no reason)
	Uploaded   time.Time
	// WrongHash publishes a sha256 that does not match Body.
	WrongHash bool
}

// AddWheel adds a built wheel, with its metadata served PEP 658 style.
func (ix *Index) AddWheel(w Wheel, uploaded time.Time) *File {
	f := &File{Filename: w.Filename(), Body: w.Build(), Metadata: w.Metadata(), RequiresPy: w.RequiresPy, Uploaded: uploaded}
	ix.Add(w.Name, f)
	return f
}

// Index is a package index on 127.0.0.1.
type Index struct {
	*httptest.Server
	mu       sync.Mutex
	projects map[string][]*File
	garbage  map[string]string
	// Mode "json" serves only PEP 691 JSON, "html" only PEP 503 HTML, "" negotiates.
	Mode     string
	Requests atomic.Int64
}

// NewIndex starts an index; close it with Close.
func NewIndex() *Index {
	ix := &Index{projects: map[string][]*File{}, garbage: map[string]string{}}
	ix.Server = httptest.NewServer(http.HandlerFunc(ix.serve))
	return ix
}

// SimpleURL is the simple API root.
func (ix *Index) SimpleURL() string { return ix.URL + "/simple" }

// Add serves f under project name.
func (ix *Index) Add(name string, f *File) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := normalize(name)
	ix.projects[n] = append(ix.projects[n], f)
}

// Garbage makes the project page for name return body as-is.
func (ix *Index) Garbage(name, body string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.garbage[normalize(name)] = body
}

func normalize(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("_", "-", ".", "-").Replace(s)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (ix *Index) serve(w http.ResponseWriter, r *http.Request) {
	ix.Requests.Add(1)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/simple/"):
		name := strings.Trim(strings.TrimPrefix(p, "/simple/"), "/")
		if g, ok := ix.garbage[name]; ok {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(g))
			return
		}
		files, ok := ix.projects[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf("%q", sum([]byte(fmt.Sprint(len(files), ix.Mode, r.Header.Get("Accept")))))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		useJSON := ix.Mode == "json" || ix.Mode == "" && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json")
		if useJSON {
			ix.writeJSON(w, name, files)
		} else {
			ix.writeHTML(w, name, files)
		}
	case strings.HasPrefix(p, "/files/"):
		fn := strings.TrimPrefix(p, "/files/")
		meta := strings.HasSuffix(fn, ".metadata")
		fn = strings.TrimSuffix(fn, ".metadata")
		for _, files := range ix.projects {
			for _, f := range files {
				if f.Filename != fn {
					continue
				}
				if meta {
					if f.Metadata == "" {
						break
					}
					w.Write([]byte(f.Metadata))
					return
				}
				w.Write(f.Body)
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *File) hash() string {
	if f.WrongHash {
		return sum(append([]byte("x"), f.Body...))
	}
	return sum(f.Body)
}

func sorted(files []*File) []*File {
	out := slices.Clone(files)
	slices.SortFunc(out, func(a, b *File) int { return strings.Compare(a.Filename, b.Filename) })
	return out
}

func (ix *Index) writeJSON(w http.ResponseWriter, name string, files []*File) {
	type jf struct {
		Filename     string            `json:"filename"`
		URL          string            `json:"url"`
		Hashes       map[string]string `json:"hashes"`
		RequiresPy   *string           `json:"requires-python,omitempty"`
		Yanked       any               `json:"yanked"`
		CoreMetadata any               `json:"core-metadata"`
		UploadTime   string            `json:"upload-time,omitempty"`
		Size         int               `json:"size"`
	}
	page := map[string]any{"meta": map[string]string{"api-version": "1.1"}, "name": name}
	var out []jf
	for _, f := range sorted(files) {
		j := jf{Filename: f.Filename, URL: "../../files/" + f.Filename, Hashes: map[string]string{"sha256": f.hash()}, Yanked: false, CoreMetadata: false, Size: len(f.Body)}
		if f.RequiresPy != "" {
			rp := f.RequiresPy
			j.RequiresPy = &rp
		}
		if f.Yanked != "" {
			j.Yanked = f.Yanked
		}
		if f.Metadata != "" {
			j.CoreMetadata = map[string]string{"sha256": sum([]byte(f.Metadata))}
		}
		if !f.Uploaded.IsZero() {
			j.UploadTime = f.Uploaded.UTC().Format("2006-01-02T15:04:05.000000Z")
		}
		out = append(out, j)
	}
	page["files"] = out
	w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
	json.NewEncoder(w).Encode(page)
}

func (ix *Index) writeHTML(w http.ResponseWriter, name string, files []*File) {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for %s</title></head><body>\n", html.EscapeString(name))
	for _, f := range sorted(files) {
		attrs := ""
		if f.RequiresPy != "" {
			attrs += fmt.Sprintf(` data-requires-python="%s"`, html.EscapeString(f.RequiresPy))
		}
		if f.Yanked != "" {
			attrs += fmt.Sprintf(` data-yanked="%s"`, html.EscapeString(f.Yanked))
		}
		if f.Metadata != "" {
			attrs += fmt.Sprintf(` data-core-metadata="sha256=%s"`, sum([]byte(f.Metadata)))
		}
		fmt.Fprintf(&b, "<a href=\"../../files/%s#sha256=%s\"%s>%s</a><br/>\n", f.Filename, f.hash(), attrs, html.EscapeString(f.Filename))
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}
