package catalog

import (
	"sync"
	"time"
)

// readCache keeps what hot reads need without a database round trip: principals by
// token hash for a short time (so a revocation on another server sharing the database
// takes effect within tokenTTL; on this server it is immediate), and the JSON of
// finished versions, which change only when a rebuild is queued or ends.
type readCache struct {
	mu       sync.RWMutex
	tokens   map[string]tokenEntry
	versions map[string][]byte
	// gen counts forgetVersion calls: a reader that started before one must not store
	// what it read.
	gen uint64
}

type tokenEntry struct {
	p       *Principal
	expires time.Time
}

const (
	tokenTTL        = 10 * time.Second
	maxCacheEntries = 10000
)

func newReadCache() *readCache {
	return &readCache{tokens: map[string]tokenEntry{}, versions: map[string][]byte{}}
}

func (c *readCache) principal(hash string, now time.Time) (*Principal, bool) {
	c.mu.RLock()
	e, ok := c.tokens[hash]
	c.mu.RUnlock()
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e.p, true
}

func (c *readCache) putPrincipal(hash string, p *Principal, now time.Time) {
	c.mu.Lock()
	if len(c.tokens) >= maxCacheEntries {
		clear(c.tokens)
	}
	c.tokens[hash] = tokenEntry{p: p, expires: now.Add(tokenTTL)}
	c.mu.Unlock()
}

// forgetTokens drops every cached principal (after a token changed).
func (c *readCache) forgetTokens() {
	c.mu.Lock()
	clear(c.tokens)
	c.mu.Unlock()
}

func (c *readCache) version(key string) []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.versions[key]
}

func (c *readCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// putVersion stores a version's JSON read when the cache was at generation gen, unless
// a version was forgotten since (the JSON might predate a rebuild).
func (c *readCache) putVersion(key string, js []byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.versions) >= maxCacheEntries {
		clear(c.versions)
	}
	c.versions[key] = js
}

// forgetVersion drops a version's JSON (a rebuild changes its builds).
func (c *readCache) forgetVersion(key string) {
	c.mu.Lock()
	delete(c.versions, key)
	c.gen++
	c.mu.Unlock()
}
