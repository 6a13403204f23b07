package authtoken

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// cacheKey is the SHA-256 of a token with the validation mode: the cache
// never holds a token itself.
type cacheKey struct {
	sum          [sha256.Size]byte
	allowExpired bool
}

func keyFor(token string, allowExpired bool) cacheKey {
	return cacheKey{sum: sha256.Sum256([]byte(token)), allowExpired: allowExpired}
}

// cacheEntry is a validation result: info for a valid token, nil for one
// Keystone called invalid.
type cacheEntry struct {
	info  *tokenInfo
	until time.Time
}

// flight is a validation in progress; requests with the same token wait
// for it instead of asking Keystone again.
type flight struct {
	done chan struct{}
	info *tokenInfo
	err  error
}

// tokenCache is a bounded in-process cache of validation results with
// per-entry expiry, and the deduplication of concurrent validations of
// one token. Valid results live until min(token expiry, ttl); invalid ones
// for negTTL. When full, expired entries are dropped first, then arbitrary
// ones, so memory stays bounded under a flood of distinct tokens.
type tokenCache struct {
	ttl, negTTL time.Duration // zero disables that half
	max         int

	mu       sync.Mutex
	m        map[cacheKey]cacheEntry
	inflight map[cacheKey]*flight
}

func newTokenCache(ttl, negTTL time.Duration, max int) *tokenCache {
	return &tokenCache{ttl: ttl, negTTL: negTTL, max: max,
		m: map[cacheKey]cacheEntry{}, inflight: map[cacheKey]*flight{}}
}

// lookup returns the validation result for token, from the cache, from a
// validation already in flight, or by calling fetch (once for all the
// callers that arrive meanwhile). fetch runs detached from the caller's
// cancellation, so an impatient client does not fail the others.
func (c *tokenCache) lookup(ctx context.Context, token string, allowExpired bool,
	fetch func(ctx context.Context) (*tokenInfo, error)) (*tokenInfo, error) {
	key := keyFor(token, allowExpired)
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.m[key]; ok {
		if now.Before(e.until) {
			c.mu.Unlock()
			if e.info == nil {
				return nil, errInvalidToken
			}
			return e.info, nil
		}
		delete(c.m, key)
	}
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.info, f.err
		case <-ctx.Done():
			return nil, serviceErrorf("waiting for a token validation: %v", ctx.Err())
		}
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()

	f.info, f.err = fetch(context.WithoutCancel(ctx))

	now = time.Now()
	c.mu.Lock()
	delete(c.inflight, key)
	switch {
	case f.err == nil && c.ttl > 0:
		until := now.Add(c.ttl)
		if !allowExpired && f.info.ExpiresAt.Before(until) {
			until = f.info.ExpiresAt
		}
		c.put(key, cacheEntry{info: f.info, until: until}, now)
	case f.err == errInvalidToken && c.negTTL > 0:
		c.put(key, cacheEntry{until: now.Add(c.negTTL)}, now)
	}
	c.mu.Unlock()
	close(f.done)
	return f.info, f.err
}

// put stores e, making room first when the cache is full. c.mu is held.
func (c *tokenCache) put(key cacheKey, e cacheEntry, now time.Time) {
	if c.max <= 0 {
		return
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k, old := range c.m {
			if !now.Before(old.until) {
				delete(c.m, k)
			}
		}
		// Still full: drop arbitrary entries (map order) down to 7/8.
		for k := range c.m {
			if len(c.m) < c.max-c.max/8 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = e
}

// len reports the number of cached results (for tests).
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
