package catalog

import (
	"sync"
	"time"
)

// readCache keeps what hot reads need without a database round trip: principals by
// token hash for a short time (so a revocation on another server sharing the database
// takes effect within tokenTTL; on this server it is immediate), and the JSON of
// finished versions, which never change.
type readCache struct {
	mu       sync.RWMutex
	tokens   map[string]tokenEntry
	versions map[string][]byte
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

func (c *readCache) putVersion(key string, js []byte) {
	c.mu.Lock()
	if len(c.versions) >= maxCacheEntries {
		clear(c.versions)
	}
	c.versions[key] = js
	c.mu.Unlock()
}
