package channel

import (
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/reprobuild/reprobuild/internal/cas"
)

// Option configures a Client.
type Option func(*options)

type options struct {
	cacheDir    string
	httpClient  *http.Client
	offline     bool
	parallelism int
	creds       Credentials
	retries     int
	backoff     time.Duration
	idleTimeout time.Duration
	progress    io.Writer
	terminal    bool
	maxAge      time.Duration
	now         func() time.Time
	fsync       bool
}

// defaults is the one place default settings live.
func defaults() options {
	return options{
		parallelism: 8,
		retries:     2,
		backoff:     500 * time.Millisecond,
		idleTimeout: 60 * time.Second,
	}
}

// WithCacheDir sets the cache root (required): packages and repodata go under it.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithHTTPClient replaces the HTTP client (e.g. for custom TLS roots or a proxy).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithOffline makes the client use only the cache and file:// locations; anything else
// that is missing is an *OfflineError.
func WithOffline(offline bool) Option { return func(o *options) { o.offline = offline } }

// WithParallelism bounds concurrent downloads (default 8).
func WithParallelism(n int) Option { return func(o *options) { o.parallelism = n } }

// WithCredentials sets per-host credentials for http(s) requests.
func WithCredentials(c Credentials) Option { return func(o *options) { o.creds = c } }

// WithRetries sets how many extra rounds over a file's locations are made after the
// first fails (default 2), and the backoff before the first extra round, doubled each
// round (default 500ms).
func WithRetries(n int, backoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = n, backoff }
}

// WithIdleTimeout aborts a request that receives no bytes for d (default 60s), so a
// stalled server moves the download to the next location.
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idleTimeout = d } }

// WithProgress reports downloads on w: a bar line redrawn in place when terminal is
// true, one plain line per finished package otherwise. Nil w means silent.
func WithProgress(w io.Writer, terminal bool) Option {
	return func(o *options) { o.progress, o.terminal = w, terminal }
}

// WithMaxAge lets cached http repodata younger than d be used without a request. now
// is the clock (read by the caller, so library code has none); without this option
// every repodata load revalidates with ETag/Last-Modified.
func WithMaxAge(d time.Duration, now func() time.Time) Option {
	return func(o *options) { o.maxAge, o.now = d, now }
}

// WithFsync flushes every cached file to stable storage before it is used (see
// cas.WithFsync): slower, but a power loss cannot leave a damaged cache entry.
func WithFsync(on bool) Option { return func(o *options) { o.fsync = on } }

// Client fetches repodata and packages. It is safe for concurrent use.
type Client struct {
	o     options
	http  *http.Client
	store *cas.Store
	dir   string
	// maps and scratch serve compact repodata loads (compact.go).
	maps    compactMaps
	scratch sync.Pool
}

// New returns a client. WithCacheDir is required.
func New(opts ...Option) (*Client, error) {
	o := defaults()
	for _, f := range opts {
		f(&o)
	}
	if o.cacheDir == "" {
		return nil, errors.New("channel: no cache directory; pass --cache-dir or set REPROBUILD_CACHE")
	}
	if o.parallelism < 1 {
		o.parallelism = 1
	}
	if o.retries < 0 {
		o.retries = 0
	}
	store, err := cas.Open(filepath.Join(o.cacheDir, "cas"), cas.WithFsync(o.fsync))
	if err != nil {
		return nil, err
	}
	hc := o.httpClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = o.parallelism
		// Packages are already compressed; asking for gzip only costs CPU.
		tr.DisableCompression = true
		hc = &http.Client{Transport: tr}
	}
	return &Client{o: o, http: hc, store: store, dir: o.cacheDir}, nil
}

// Store is the client's package store.
func (c *Client) Store() *cas.Store { return c.store }
