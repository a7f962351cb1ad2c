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
	// maxRepodata bounds a repodata document after decompression.
	maxRepodata int64
	// deadline bounds one request (connect, headers and body) to one location.
	deadline time.Duration
	// minRate (bytes/s) averaged over rateWindow: a slower body moves to the next location.
	minRate    int64
	rateWindow time.Duration
}

// defaults is the one place default settings live.
func defaults() options {
	return options{
		parallelism: 8,
		retries:     2,
		backoff:     500 * time.Millisecond,
		idleTimeout: 60 * time.Second,
		maxRepodata: DefaultMaxRepodataSize,
		minRate:     DefaultMinRate,
		rateWindow:  DefaultRateWindow,
	}
}

// Defaults of the network limits (see the With* options).
const (
	// DefaultMaxRepodataSize is 1 GiB: conda-forge's largest subdir is a few hundred MB.
	DefaultMaxRepodataSize = 1 << 30
	// DefaultMinRate is 1 KiB/s over DefaultRateWindow: a server dripping bytes slower
	// than that is treated as stalled.
	DefaultMinRate    = 1 << 10
	DefaultRateWindow = 30 * time.Second
)

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

// WithMaxRepodataSize bounds a repodata document after decompression (default
// DefaultMaxRepodataSize); a larger one is refused with a *RepodataSizeError and the next
// location is tried. The bound is counted on the decompressed bytes, so a small .zst
// that inflates without end stops at n.
func WithMaxRepodataSize(n int64) Option { return func(o *options) { o.maxRepodata = n } }

// WithDeadline bounds one request to one location, body included (0: no deadline). A
// request that runs out of time fails over to the next location.
func WithDeadline(d time.Duration) Option { return func(o *options) { o.deadline = d } }

// WithMinRate sets the slowest body transfer accepted: fewer than bytesPerSec*window
// bytes within any window of the body (0: no minimum). A server that drips bytes (and so
// never triggers the idle timeout) fails over to the next location. Defaults:
// DefaultMinRate over DefaultRateWindow.
func WithMinRate(bytesPerSec int64, window time.Duration) Option {
	return func(o *options) { o.minRate, o.rateWindow = bytesPerSec, window }
}

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
	c := &Client{o: o, store: store, dir: o.cacheDir}
	if hc.CheckRedirect == nil {
		// A copy, so the caller's client is not changed.
		own := *hc
		own.CheckRedirect = c.checkRedirect
		hc = &own
	}
	c.http = hc
	return c, nil
}

// Store is the client's package store.
func (c *Client) Store() *cas.Store { return c.store }
