package paste

import "maps"

// conf is an insertion-ordered string map with Python dict semantics:
// updating an existing key keeps its position. Contexts share *conf values
// exactly where Paste Deploy shares dicts, so that mutations made while
// merging `use` chains reach the same places they reach in Python.
type conf struct {
	keys []string
	m    map[string]string
}

func newConf() *conf { return &conf{m: map[string]string{}} }

func (c *conf) get(k string) (string, bool) {
	v, ok := c.m[k]
	return v, ok
}

func (c *conf) has(k string) bool {
	_, ok := c.m[k]
	return ok
}

func (c *conf) set(k, v string) {
	if _, ok := c.m[k]; !ok {
		c.keys = append(c.keys, k)
	}
	c.m[k] = v
}

func (c *conf) del(k string) {
	if _, ok := c.m[k]; !ok {
		return
	}
	delete(c.m, k)
	for i, x := range c.keys {
		if x == k {
			c.keys = append(c.keys[:i:i], c.keys[i+1:]...)
			break
		}
	}
}

// pop removes k and returns its value.
func (c *conf) pop(k string) (string, bool) {
	v, ok := c.m[k]
	if ok {
		c.del(k)
	}
	return v, ok
}

func (c *conf) len() int { return len(c.keys) }

func (c *conf) copy() *conf {
	return &conf{keys: append([]string(nil), c.keys...), m: maps.Clone(c.m)}
}

// update sets every key of o in o's order (dict.update).
func (c *conf) update(o *conf) {
	if o == nil || o == c {
		return
	}
	for _, k := range o.keys {
		c.set(k, o.m[k])
	}
}

// clone returns the map as a plain Go map.
func (c *conf) clone() map[string]string {
	m := maps.Clone(c.m)
	if m == nil {
		m = map[string]string{}
	}
	return m
}
