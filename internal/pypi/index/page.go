package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// File is one distribution file of a project, as the index lists it.
type File struct {
	Filename       string
	URL            string // absolute
	SHA256         string // lower-case hex; "" when the index gave none
	RequiresPython string
	Yanked         bool
	YankedReason   string
	UploadTime     time.Time // zero when the index does not say (PEP 700 is JSON only)
	Size           int64
	// MetadataSHA256 is the PEP 658 metadata file's sha256 when the index serves one
	// with a hash; HasMetadata is true when it serves one at all.
	HasMetadata    bool
	MetadataSHA256 string
}

// Project is a project page.
type Project struct {
	Name  string // as the page spells it ("" from HTML)
	Files []File
}

// FormatError is a page that is neither PEP 691 JSON nor PEP 503 HTML.
type FormatError struct {
	URL, Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("index page %s is not a simple repository API page (PEP 691 JSON or PEP 503 HTML): %s; check the index URL (it should end in /simple)", e.URL, e.Reason)
}

const jsonType = "application/vnd.pypi.simple.v1+json"

// ParsePage parses a project page body of the given content type, fetched from base.
func ParsePage(body []byte, contentType, base string) (*Project, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	switch {
	case ct == jsonType || ct == "application/json" || ct == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return parseJSON(body, base)
	case ct == "text/html" || ct == "application/vnd.pypi.simple.v1+html" || ct == "":
		return parseHTML(body, base)
	}
	return nil, &FormatError{base, "content type " + contentType}
}

type jsonPage struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Name  string `json:"name"`
	Files []struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython *string           `json:"requires-python"`
		Yanked         json.RawMessage   `json:"yanked"`
		CoreMetadata   json.RawMessage   `json:"core-metadata"`
		DistInfoMeta   json.RawMessage   `json:"dist-info-metadata"`
		UploadTime     string            `json:"upload-time"`
		Size           int64             `json:"size"`
	} `json:"files"`
}

func parseJSON(body []byte, base string) (*Project, error) {
	var p jsonPage
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, &FormatError{base, "invalid JSON: " + err.Error()}
	}
	if !strings.HasPrefix(p.Meta.APIVersion, "1.") {
		return nil, &FormatError{base, fmt.Sprintf("meta.api-version %q (1.x is supported)", p.Meta.APIVersion)}
	}
	bu, err := url.Parse(base)
	if err != nil {
		return nil, &FormatError{base, err.Error()}
	}
	out := &Project{Name: p.Name}
	for _, f := range p.Files {
		if f.Filename == "" || f.URL == "" || strings.ContainsAny(f.Filename, "/\\") {
			return nil, &FormatError{base, fmt.Sprintf("file entry %q without a proper filename or url", f.Filename)}
		}
		u, err := bu.Parse(f.URL)
		if err != nil {
			return nil, &FormatError{base, fmt.Sprintf("file %s: bad url: %v", f.Filename, err)}
		}
		u.Fragment = ""
		nf := File{Filename: f.Filename, URL: u.String(), SHA256: strings.ToLower(f.Hashes["sha256"]), Size: f.Size}
		if f.RequiresPython != nil {
			nf.RequiresPython = *f.RequiresPython
		}
		nf.Yanked, nf.YankedReason = yanked(f.Yanked)
		meta := f.CoreMetadata
		if len(meta) == 0 {
			meta = f.DistInfoMeta
		}
		nf.HasMetadata, nf.MetadataSHA256 = coreMetadata(meta)
		if f.UploadTime != "" {
			t, err := time.Parse(time.RFC3339Nano, f.UploadTime)
			if err != nil {
				return nil, &FormatError{base, fmt.Sprintf("file %s: upload-time %q: %v", f.Filename, f.UploadTime, err)}
			}
			nf.UploadTime = t.UTC()
		}
		out.Files = append(out.Files, nf)
	}
	return out, nil
}

func yanked(raw json.RawMessage) (bool, string) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return true, s
	}
	return false, ""
}

func coreMetadata(raw json.RawMessage) (bool, string) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) == nil {
		return true, strings.ToLower(m["sha256"])
	}
	return false, ""
}

func parseHTML(body []byte, base string) (*Project, error) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, &FormatError{base, "invalid HTML: " + err.Error()}
	}
	bu, err := url.Parse(base)
	if err != nil {
		return nil, &FormatError{base, err.Error()}
	}
	out := &Project{}
	sawHTML := false
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		if n.Type == html.ElementNode && (n.Data == "html" || n.Data == "body") {
			sawHTML = true
		}
		if n.Type == html.ElementNode && n.Data == "base" {
			for _, a := range n.Attr {
				if a.Key == "href" {
					if nb, err := bu.Parse(a.Val); err == nil {
						bu = nb
					}
				}
			}
		}
		if n.Type == html.ElementNode && n.Data == "a" {
			attrs := map[string]string{}
			has := map[string]bool{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
				has[a.Key] = true
			}
			href := attrs["href"]
			u, err := bu.Parse(href)
			if err != nil || href == "" {
				return &FormatError{base, fmt.Sprintf("anchor with bad href %q", href)}
			}
			fn := text(n)
			if fn == "" {
				fn = u.Path[strings.LastIndexByte(u.Path, '/')+1:]
			}
			if strings.ContainsAny(fn, "/\\") {
				return &FormatError{base, fmt.Sprintf("anchor text %q is not a file name", fn)}
			}
			f := File{Filename: fn, RequiresPython: attrs["data-requires-python"]}
			if algo, digest, ok := strings.Cut(u.Fragment, "="); ok && algo == "sha256" {
				f.SHA256 = strings.ToLower(digest)
			}
			u.Fragment = ""
			f.URL = u.String()
			if has["data-yanked"] {
				f.Yanked, f.YankedReason = true, attrs["data-yanked"]
			}
			meta, ok := attrs["data-core-metadata"]
			if !ok {
				meta, ok = attrs["data-dist-info-metadata"]
			}
			if ok {
				f.HasMetadata = meta != "false"
				if algo, digest, ok := strings.Cut(meta, "="); ok && algo == "sha256" {
					f.MetadataSHA256 = strings.ToLower(digest)
				}
			}
			out.Files = append(out.Files, f)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc); err != nil {
		return nil, err
	}
	// html.Parse accepts anything; a page with no anchors that does not look like an
	// HTML document at all is garbage rather than an empty project.
	trimmed := bytes.TrimSpace(body)
	if len(out.Files) == 0 && !(bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<html"))) {
		_ = sawHTML
		return nil, &FormatError{base, "no file links and no HTML document"}
	}
	return out, nil
}

func text(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return strings.TrimSpace(b.String())
}
