package channel

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/reprobuild/reprobuild/internal/cas"
	"github.com/reprobuild/reprobuild/internal/conda"
)

// Channel is a conda channel. URL is canonical, as the lock records it (it may be a
// relative path); Location, when set, is where URL is actually fetched from (e.g. the
// file:// URL a relative path resolves to). Mirrors are base URLs holding the same
// subdirs, tried in order after Location/URL.
type Channel struct {
	Name     string
	URL      string
	Location string
	Mirrors  []string
}

func (ch Channel) location() string {
	if ch.Location != "" {
		return strings.TrimRight(ch.Location, "/")
	}
	return strings.TrimRight(ch.URL, "/")
}

// bases is every base URL to try, in order.
func (ch Channel) bases() []string {
	out := []string{ch.location()}
	for _, m := range ch.Mirrors {
		out = append(out, strings.TrimRight(m, "/"))
	}
	return out
}

// Download is one package to fetch. Record.URL is canonical and Record.SHA256
// required. Location (optional) replaces Record.URL as the first place to fetch from;
// Mirrors are further full URLs of the same file, tried in order.
type Download struct {
	Record   conda.PackageRecord
	Location string
	Mirrors  []string
	// InPlace lets Fetch return a file:// location's own path, after hashing it, when the
	// file is not cached yet, instead of copying it into the cache: for a caller that
	// reads the file once right away and needs no cached copy (a cold image build).
	// Nothing unverified is stored either way; other locations are cached as usual.
	InPlace bool
}

// Download maps a record of this channel to a Download: its URL rebased onto Location
// and onto every mirror. Records of other channels get no mirrors.
func (ch Channel) Download(rec conda.PackageRecord) Download {
	d := Download{Record: rec}
	canon := strings.TrimRight(ch.URL, "/") + "/"
	rest, ok := strings.CutPrefix(rec.URL, canon)
	if !ok && rec.URL == "" && rec.Subdir != "" && rec.Fn != "" {
		rest, ok = rec.Subdir+"/"+rec.Fn, true
	}
	if !ok {
		return d
	}
	if ch.Location != "" {
		d.Location = ch.location() + "/" + rest
	}
	for _, m := range ch.Mirrors {
		d.Mirrors = append(d.Mirrors, strings.TrimRight(m, "/")+"/"+rest)
	}
	return d
}

func (d Download) urls() []string {
	first := d.Location
	if first == "" {
		first = d.Record.URL
	}
	out := []string{}
	if first != "" {
		out = append(out, first)
	}
	return append(out, d.Mirrors...)
}

func pkgName(r conda.PackageRecord) string {
	if r.Name != "" {
		return r.Name + "-" + r.Version + "-" + r.Build
	}
	return r.Fn
}

// Fetch makes every download's file present and verified in the cache and returns the
// cached paths in the same order. Files already cached cost no request. Each file is
// tried at its location and then each mirror, for 1+retries rounds with backoff;
// failures of several files are joined.
func (c *Client) Fetch(ctx context.Context, ds []Download) ([]string, error) {
	paths := make([]string, len(ds))
	errs := make([]error, len(ds))
	var todo []int
	for i, d := range ds {
		if d.Record.SHA256 == "" {
			errs[i] = &MissingHashError{Package: pkgName(d.Record), URL: Redact(d.Record.URL)}
			continue
		}
		if p, ok := c.store.Path(d.Record.SHA256); ok {
			paths[i] = p
			continue
		}
		todo = append(todo, i)
	}
	prog := newProgress(c.o.progress, c.o.terminal, len(todo))
	sem := make(chan struct{}, c.o.parallelism)
	var wg sync.WaitGroup
	for _, i := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			paths[i], errs[i] = c.fetchOne(ctx, ds[i], prog)
		}()
	}
	wg.Wait()
	prog.finish()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return paths, nil
}

func (c *Client) fetchOne(ctx context.Context, d Download, prog *progress) (string, error) {
	rec := d.Record
	name := pkgName(rec)
	urls := d.urls()
	if len(urls) == 0 {
		return "", fmt.Errorf("%s: no URL to fetch it from", name)
	}
	var putOpts []cas.PutOption
	if rec.MD5 != "" {
		putOpts = append(putOpts, cas.WithHash("md5", md5.New(), rec.MD5))
	}
	var path string
	err := c.try(ctx, name, urls, func(ctx context.Context, u string) error {
		if p, ok := c.store.Path(rec.SHA256); ok { // another process won the race
			path = p
			return nil
		}
		if d.InPlace && isFileURL(u) {
			p, err := c.checkInPlace(ctx, u, rec, putOpts)
			if err != nil {
				var me *cas.MismatchError
				if errors.As(err, &me) {
					return &HashMismatchError{Package: name, URL: Redact(u), Algorithm: me.Algorithm, Expected: me.Expected, Actual: me.Actual}
				}
				return err
			}
			path = p
			return nil
		}
		var n int64
		p, err := c.open(ctx, u, func(r io.Reader) (string, error) {
			cr := &countReader{r: r, prog: prog}
			p, err := c.store.Put(ctx, rec.SHA256, cr, freshHashes(putOpts, rec)...)
			n = cr.n
			return p, err
		})
		var me *cas.MismatchError
		if errors.As(err, &me) {
			return &HashMismatchError{Package: name, URL: Redact(u), Algorithm: me.Algorithm, Expected: me.Expected, Actual: me.Actual}
		}
		if err != nil {
			return err
		}
		path = p
		prog.done(name, n, u)
		return nil
	})
	return path, err
}

// checkInPlace verifies the file behind a file:// URL against rec's digests and returns
// its path; the file is neither copied nor cached.
func (c *Client) checkInPlace(ctx context.Context, u string, rec conda.PackageRecord, putOpts []cas.PutOption) (string, error) {
	p, err := fileURLPath(u)
	if err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", Redact(u), err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", Redact(u))
	}
	if err := cas.Check(ctx, rec.SHA256, f, freshHashes(putOpts, rec)...); err != nil {
		return "", err
	}
	return p, nil
}

// freshHashes rebuilds hash options per attempt: a hash.Hash carries state.
func freshHashes(opts []cas.PutOption, rec conda.PackageRecord) []cas.PutOption {
	if len(opts) == 0 {
		return nil
	}
	return []cas.PutOption{cas.WithHash("md5", md5.New(), rec.MD5)}
}

// try runs fn on each URL in order, for 1+retries rounds, until one succeeds. URLs that
// failed permanently (404, 401, a missing file) are not retried.
func (c *Client) try(ctx context.Context, what string, urls []string, fn func(context.Context, string) error) error {
	fe := &FetchError{What: what}
	dead := make([]bool, len(urls))
	wait := c.o.backoff
	for round := 0; round <= c.o.retries; round++ {
		if round > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				fe.Attempts = append(fe.Attempts, ctx.Err())
				return fe
			case <-t.C:
			}
			wait *= 2
		}
		live := false
		for i, u := range urls {
			if dead[i] {
				continue
			}
			live = true
			if c.o.offline && !isFileURL(u) {
				fe.Attempts = append(fe.Attempts, &OfflineError{What: what + " (" + Redact(u) + ")"})
				dead[i] = true
				continue
			}
			err := fn(ctx, u)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				fe.Attempts = append(fe.Attempts, fmt.Errorf("%s: %w", Redact(u), ctx.Err()))
				return fe
			}
			fe.Attempts = append(fe.Attempts, err)
			var se *StatusError
			var he *HashMismatchError
			switch {
			case errors.As(err, &se) && se.permanent(), errors.Is(err, os.ErrNotExist):
				dead[i] = true
			case errors.As(err, &he) && isFileURL(u):
				// A local file does not change between attempts.
				dead[i] = true
			case errors.As(err, new(*RepodataSizeError)), errors.As(err, new(*RedirectError)):
				dead[i] = true
			}
		}
		if !live {
			break
		}
	}
	return fe
}

func isFileURL(u string) bool { return strings.HasPrefix(u, "file://") }

// fileURLPath turns file:///a/b into /a/b.
func fileURLPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" {
		return "", fmt.Errorf("%s is not a file:// URL", Redact(raw))
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("%s: file:// URLs with a host are not supported", Redact(raw))
	}
	return u.Path, nil
}

// errNotModified says a conditional request found the cached copy current.
var errNotModified = errors.New("not modified")

// condHeaders are the validators of a cached copy, sent with a conditional GET.
type condHeaders struct {
	ETag, LastModified string
}

// open GETs u (http, https or file) and hands the body to consume.
func (c *Client) open(ctx context.Context, u string, consume func(io.Reader) (string, error)) (string, error) {
	s, _, err := c.openCond(ctx, u, condHeaders{}, consume)
	return s, err
}

// openCond is open with validators: for http, a response that stalls for the idle
// timeout is aborted, a short body is an error, and when cond is set a 304 returns
// errNotModified. The response headers are returned for caching.
func (c *Client) openCond(ctx context.Context, u string, cond condHeaders, consume func(io.Reader) (string, error)) (string, http.Header, error) {
	switch {
	case isFileURL(u):
		p, err := fileURLPath(u)
		if err != nil {
			return "", nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", Redact(u), err)
		}
		defer f.Close()
		s, err := consume(f)
		return s, nil, err
	case strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
	default:
		return "", nil, fmt.Errorf("%s: unsupported location (want https://, http:// or file://; a relative channel path must be resolved against the recipe)", Redact(u))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.o.deadline > 0 {
		var cancelD context.CancelFunc
		ctx, cancelD = context.WithTimeout(ctx, c.o.deadline)
		defer cancelD()
	}
	overDeadline := func() bool { return c.o.deadline > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) }
	idle := time.AfterFunc(c.o.idleTimeout, cancel)
	defer idle.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %v", Redact(u), redactErr(err))
	}
	c.o.creds.authorize(req)
	if cond.ETag != "" {
		req.Header.Set("If-None-Match", cond.ETag)
	}
	if cond.LastModified != "" {
		req.Header.Set("If-Modified-Since", cond.LastModified)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if !idle.Stop() {
			return "", nil, fmt.Errorf("GET %s: no response within %s", Redact(u), c.o.idleTimeout)
		}
		if overDeadline() {
			return "", nil, fmt.Errorf("GET %s: no response within the download deadline of %s", Redact(u), c.o.deadline)
		}
		return "", nil, fmt.Errorf("GET %s: %w", Redact(u), redactErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && (cond.ETag != "" || cond.LastModified != "") {
		return "", resp.Header, errNotModified
	}
	if resp.StatusCode != http.StatusOK {
		return "", resp.Header, &StatusError{URL: Redact(u), Status: resp.StatusCode}
	}
	body := &idleReader{r: resp.Body, t: idle, d: c.o.idleTimeout}
	guard := startRateGuard(c.o.minRate, c.o.rateWindow, cancel)
	defer guard.stop()
	in, meter := meterDownload(ctx, Redact(u), resp.ContentLength, guard.reader(body))
	s, err := consume(in)
	meter.Done(err)
	if err != nil {
		var me *cas.MismatchError
		var re *RepodataSizeError
		if errors.As(err, &me) || errors.As(err, &re) {
			return "", resp.Header, err
		}
		if guard.tooSlow() {
			return "", resp.Header, fmt.Errorf("GET %s: body slower than %d bytes/s over %s (a stalled or dripping server)", Redact(u), c.o.minRate, c.o.rateWindow)
		}
		if overDeadline() {
			return "", resp.Header, fmt.Errorf("GET %s: not complete within the download deadline of %s", Redact(u), c.o.deadline)
		}
		if body.stalled() {
			return "", resp.Header, fmt.Errorf("GET %s: stalled for %s mid-body", Redact(u), c.o.idleTimeout)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "", resp.Header, fmt.Errorf("GET %s: body truncated: %w", Redact(u), err)
		}
		return "", resp.Header, fmt.Errorf("GET %s: %v", Redact(u), redactErr(err))
	}
	return s, resp.Header, nil
}

// redactErr strips URLs with credentials from errors that quote them (url.Error).
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var re *RedirectError
		if errors.As(ue.Err, &re) {
			return re // names only redacted URLs
		}
		return fmt.Errorf("%s", ue.Err)
	}
	return err
}

// idleReader pushes the idle deadline forward on every read that returns bytes.
type idleReader struct {
	r   io.Reader
	t   *time.Timer
	d   time.Duration
	mu  sync.Mutex
	hit bool
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.mu.Lock()
		if !r.t.Stop() {
			r.hit = true
		} else {
			r.t.Reset(r.d)
		}
		r.mu.Unlock()
	}
	return n, err
}

func (r *idleReader) stalled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hit {
		return true
	}
	// The timer fired while we waited inside Read.
	if !r.t.Stop() {
		return true
	}
	return false
}

type countReader struct {
	r    io.Reader
	n    int64
	prog *progress
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.prog.add(int64(n))
	return n, err
}
