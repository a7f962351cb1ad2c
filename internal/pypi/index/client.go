package index

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/reprobuild/reprobuild/internal/cas"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
	"github.com/reprobuild/reprobuild/internal/pypi/wheel"
)

// Index is one package index, as a recipe's pypi block declares it.
type Index struct {
	Name    string
	URL     string   // the simple API root, e.g. https://pypi.org/simple
	Mirrors []string // other roots serving the same files
	// Packages, when set, is the allow-list of names (normalised) this index may
	// serve; a name on a list is taken only from its index.
	Packages []string
}

func (ix Index) roots() []string {
	out := []string{strings.TrimSuffix(ix.URL, "/")}
	for _, m := range ix.Mirrors {
		out = append(out, strings.TrimSuffix(m, "/"))
	}
	return out
}

// Option configures a Client.
type Option func(*options)

type options struct {
	httpClient *http.Client
	offline    bool
	retries    int
	backoff    time.Duration
	authorize  func(*http.Request)
}

// WithHTTPClient replaces the HTTP client.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithOffline makes the client use only the cache: a missing page or file is an
// *OfflineError.
func WithOffline(on bool) Option { return func(o *options) { o.offline = on } }

// WithRetries sets extra rounds over an item's locations after the first fails, and
// the backoff before the first extra round, doubled each round (default 2, 500ms).
func WithRetries(n int, backoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = n, backoff }
}

// WithAuthorizer adds credentials to requests (the caller's per-host credentials, as
// for conda channels).
func WithAuthorizer(f func(*http.Request)) Option { return func(o *options) { o.authorize = f } }

// Client reads indexes. It is safe for concurrent use.
type Client struct {
	o     options
	http  *http.Client
	store *cas.Store
	dir   string
}

// New returns a client caching under cacheDir (shared with the conda cache: wheels go
// to cacheDir/cas, pages and metadata to cacheDir/pypi).
func New(cacheDir string, opts ...Option) (*Client, error) {
	o := options{retries: 2, backoff: 500 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	if cacheDir == "" {
		return nil, errors.New("pypi index: no cache directory; pass --cache-dir or set REPROBUILD_CACHE")
	}
	store, err := cas.Open(filepath.Join(cacheDir, "cas"))
	if err != nil {
		return nil, err
	}
	hc := o.httpClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{o: o, http: hc, store: store, dir: filepath.Join(cacheDir, "pypi")}, nil
}

// Store is the wheel store.
func (c *Client) Store() *cas.Store { return c.store }

// OfflineError is something offline mode needed that the cache lacks.
type OfflineError struct{ What string }

func (e *OfflineError) Error() string {
	return fmt.Sprintf("offline: %s is not in the cache; run once online or vendor the packages", e.What)
}

// StatusError is an HTTP error response.
type StatusError struct {
	URL    string
	Status int
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", redact(e.URL), e.Status) }

// NotFoundError is a project an index does not have.
type NotFoundError struct{ Index, Project string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("index %s has no project %q", e.Index, e.Project)
}

// HashError is a downloaded file whose digest differs from the index's.
type HashError struct {
	What, URL, Expected, Actual string
}

func (e *HashError) Error() string {
	return fmt.Sprintf("%s from %s: sha256 mismatch: expected %s, got %s; the file was not cached (a corrupt mirror or a replaced file: relock or fix the index)",
		e.What, redact(e.URL), e.Expected, e.Actual)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User("REDACTED")
	return u.String()
}

func (c *Client) try(ctx context.Context, urls []string, fn func(string) error) error {
	var last error
	wait := c.o.backoff
	dead := make([]bool, len(urls))
	for round := 0; round <= c.o.retries; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		live := false
		for i, u := range urls {
			if dead[i] {
				continue
			}
			live = true
			err := fn(u)
			if err == nil {
				return nil
			}
			last = err
			var se *StatusError
			var fe *FormatError
			var he *HashError
			if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != 408 && se.Status != 429 ||
				errors.As(err, &fe) || errors.As(err, &he) {
				dead[i] = true
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if !live {
			break
		}
	}
	return last
}

func cacheName(u string) string {
	s := sha256.Sum256([]byte(u))
	return hex.EncodeToString(s[:16])
}

// Project fetches a project's page from the index (or a mirror). The name is
// normalised; a 404 from every location is a *NotFoundError.
func (c *Client) Project(ctx context.Context, ix Index, name string) (*Project, error) {
	norm := pep508.NormalizeName(name)
	var urls []string
	for _, r := range ix.roots() {
		urls = append(urls, r+"/"+norm+"/")
	}
	var out *Project
	notFound := 0
	err := c.try(ctx, urls, func(u string) error {
		p, err := c.page(ctx, u)
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) && se.Status == 404 {
				notFound++
			}
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		if notFound > 0 {
			return nil, &NotFoundError{ix.Name, norm}
		}
		return nil, fmt.Errorf("index %s: project %s: %w", ix.Name, norm, err)
	}
	return out, nil
}

// page fetches and parses one page, revalidating a cached copy.
func (c *Client) page(ctx context.Context, u string) (*Project, error) {
	base := filepath.Join(c.dir, "pages", cacheName(u))
	cached, cerr := os.ReadFile(base + ".body")
	meta, _ := os.ReadFile(base + ".meta")
	var etag, lastMod, ctype string
	for _, line := range strings.Split(string(meta), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "etag":
			etag = v
		case "last-modified":
			lastMod = v
		case "content-type":
			ctype = v
		}
	}
	if c.o.offline || strings.HasPrefix(u, "file://") {
		if strings.HasPrefix(u, "file://") {
			return c.filePage(u)
		}
		if cerr != nil {
			return nil, &OfflineError{"index page " + redact(u)}
		}
		return ParsePage(cached, ctype, u)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", jsonType+", text/html;q=0.1")
	if cerr == nil {
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		if lastMod != "" {
			req.Header.Set("If-Modified-Since", lastMod)
		}
	}
	if c.o.authorize != nil {
		c.o.authorize(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && cerr == nil {
		return ParsePage(cached, ctype, u)
	}
	if resp.StatusCode != 200 {
		return nil, &StatusError{u, resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	final := resp.Request.URL.String()
	ct := resp.Header.Get("Content-Type")
	p, err := ParsePage(body, ct, final)
	if err != nil {
		return nil, err // garbage is not cached
	}
	if final == u {
		var m strings.Builder
		fmt.Fprintf(&m, "etag %s\nlast-modified %s\ncontent-type %s\n", resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), ct)
		writeAtomic(base+".body", body)
		writeAtomic(base+".meta", []byte(m.String()))
	}
	return p, nil
}

// filePage reads a static index on disk (as vendor writes it): index.html beside the
// files.
func (c *Client) filePage(u string) (*Project, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	body, err := os.ReadFile(filepath.Join(filepath.FromSlash(pu.Path), "index.html"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &StatusError{u, 404}
		}
		return nil, err
	}
	return ParsePage(body, "text/html", u)
}

func writeAtomic(p string, b []byte) {
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr != nil || cerr != nil {
		os.Remove(f.Name())
		return
	}
	if os.Rename(f.Name(), p) != nil {
		os.Remove(f.Name())
	}
}

// alternatives lists f's URL and its counterparts on the index's mirrors.
func alternatives(ix Index, u string) []string {
	out := []string{u}
	roots := ix.roots()
	for _, r := range roots {
		if rest, ok := strings.CutPrefix(u, r+"/"); ok {
			for _, m := range roots {
				if m != r {
					out = append(out, m+"/"+rest)
				}
			}
			break
		}
	}
	return out
}

// Wheel returns the cached path of a file, downloading and verifying it by sha256 first
// if needed. A file without a sha256 is refused.
func (c *Client) Wheel(ctx context.Context, ix Index, f File) (string, error) {
	if f.SHA256 == "" {
		return "", fmt.Errorf("%s (%s) has no sha256 on index %s; reprobuild only uses verified files", f.Filename, redact(f.URL), ix.Name)
	}
	if p, ok := c.store.Path(f.SHA256); ok {
		return p, nil
	}
	var out string
	err := c.try(ctx, alternatives(ix, f.URL), func(u string) error {
		var r io.ReadCloser
		switch {
		case strings.HasPrefix(u, "file://"):
			pu, err := url.Parse(u)
			if err != nil {
				return err
			}
			fh, err := os.Open(filepath.FromSlash(pu.Path))
			if err != nil {
				return err
			}
			r = fh
		case c.o.offline:
			return &OfflineError{f.Filename + " (" + redact(u) + ")"}
		default:
			req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
			if err != nil {
				return err
			}
			if c.o.authorize != nil {
				c.o.authorize(req)
			}
			resp, err := c.http.Do(req)
			if err != nil {
				return fmt.Errorf("GET %s: %w", redact(u), err)
			}
			if resp.StatusCode != 200 {
				resp.Body.Close()
				return &StatusError{u, resp.StatusCode}
			}
			r = resp.Body
		}
		defer r.Close()
		p, err := c.store.Put(ctx, f.SHA256, r)
		var me *cas.MismatchError
		if errors.As(err, &me) {
			return &HashError{f.Filename, u, me.Expected, me.Actual}
		}
		if err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("fetching %s from index %s: %w", f.Filename, ix.Name, err)
	}
	return out, nil
}

// Metadata returns a wheel's core metadata: the PEP 658 file when the index serves it
// with a hash, else the METADATA inside the verified wheel. Either way what is cached
// was verified.
func (c *Client) Metadata(ctx context.Context, ix Index, f File) (*wheel.Metadata, error) {
	if f.SHA256 == "" {
		return nil, fmt.Errorf("%s (%s) has no sha256 on index %s; reprobuild only uses verified files", f.Filename, redact(f.URL), ix.Name)
	}
	mpath := filepath.Join(c.dir, "metadata", f.SHA256+".metadata")
	if b, err := os.ReadFile(mpath); err == nil {
		return wheel.ParseMetadata(b)
	}
	var body []byte
	if f.HasMetadata && f.MetadataSHA256 != "" && !c.o.offline {
		err := c.try(ctx, alternatives(ix, f.URL+".metadata"), func(u string) error {
			b, err := c.get(ctx, u)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != f.MetadataSHA256 {
				return &HashError{f.Filename + ".metadata", u, f.MetadataSHA256, got}
			}
			body = b
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("fetching the metadata of %s from index %s: %w", f.Filename, ix.Name, err)
		}
	} else {
		p, err := c.Wheel(ctx, ix, f)
		if err != nil {
			return nil, err
		}
		if body, err = metadataFromWheel(p, f.Filename); err != nil {
			return nil, err
		}
	}
	m, err := wheel.ParseMetadata(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Filename, err)
	}
	writeAtomic(mpath, body)
	return m, nil
}

func (c *Client) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	if c.o.authorize != nil {
		c.o.authorize(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, &StatusError{u, resp.StatusCode}
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

func metadataFromWheel(p, filename string) ([]byte, error) {
	fn, err := wheel.ParseFilename(filename)
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("%s: not a zip archive: %w", filename, err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		dir, name := path.Split(zf.Name)
		dir = strings.TrimSuffix(dir, "/")
		if name != "METADATA" || !strings.HasSuffix(dir, ".dist-info") || strings.Contains(dir, "/") {
			continue
		}
		dn, _, _ := strings.Cut(strings.TrimSuffix(dir, ".dist-info"), "-")
		if pep508.NormalizeName(dn) != fn.Name {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		var b bytes.Buffer
		if _, err := io.Copy(&b, io.LimitReader(rc, 16<<20)); err != nil {
			return nil, fmt.Errorf("%s: METADATA: %w", filename, err)
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("%s: no .dist-info/METADATA", filename)
}
