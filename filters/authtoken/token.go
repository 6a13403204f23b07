package authtoken

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// tokenInfo is what a successful validation says about a token. It is
// immutable once built and shared between requests through the cache.
type tokenInfo struct {
	UserID, UserName, UserDomainID, UserDomainName             string
	ProjectID, ProjectName, ProjectDomainID, ProjectDomainName string
	DomainID, DomainName                                       string
	// SystemScope is "all" for a system-scoped token, else "".
	SystemScope string
	Roles       []string
	// RolesHeader is Roles joined with ",", as X-Roles carries them.
	RolesHeader    string
	IsAdminProject bool
	ExpiresAt      time.Time
	// Catalog is the service catalog in keystonemiddleware's v2 JSON
	// form (the X-Service-Catalog value), "" when the token has none.
	Catalog string
}

func (t *tokenInfo) expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

func (t *tokenInfo) hasRole(roles map[string]bool) bool {
	for _, r := range t.Roles {
		if roles[strings.ToLower(r)] {
			return true
		}
	}
	return false
}

type v3Named struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Domain struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"domain"`
}

type v3Endpoint struct {
	Interface string `json:"interface"`
	Region    string `json:"region"`
	URL       string `json:"url"`
}

type v3Service struct {
	Type      string       `json:"type"`
	Name      *string      `json:"name"`
	Endpoints []v3Endpoint `json:"endpoints"`
}

// parseToken reads a GET /v3/auth/tokens answer.
func parseToken(body []byte) (*tokenInfo, error) {
	var doc struct {
		Token *struct {
			ExpiresAt time.Time `json:"expires_at"`
			User      *v3Named  `json:"user"`
			Project   *v3Named  `json:"project"`
			Domain    *struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"domain"`
			System         map[string]bool         `json:"system"`
			Roles          []struct{ Name string } `json:"roles"`
			IsAdminProject *bool                   `json:"is_admin_project"`
			Catalog        []v3Service             `json:"catalog"`
		} `json:"token"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	t := doc.Token
	if t == nil || t.User == nil || t.User.ID == "" || t.ExpiresAt.IsZero() {
		return nil, errors.New("no token, user or expiry")
	}
	info := &tokenInfo{
		UserID: t.User.ID, UserName: t.User.Name,
		UserDomainID: t.User.Domain.ID, UserDomainName: t.User.Domain.Name,
		ExpiresAt:      t.ExpiresAt,
		IsAdminProject: true, // keystonemiddleware: absent means True
	}
	if t.IsAdminProject != nil {
		info.IsAdminProject = *t.IsAdminProject
	}
	if p := t.Project; p != nil {
		info.ProjectID, info.ProjectName = p.ID, p.Name
		info.ProjectDomainID, info.ProjectDomainName = p.Domain.ID, p.Domain.Name
	}
	if d := t.Domain; d != nil {
		info.DomainID, info.DomainName = d.ID, d.Name
	}
	if t.System["all"] {
		info.SystemScope = "all"
	}
	for _, r := range t.Roles {
		if r.Name != "" {
			info.Roles = append(info.Roles, r.Name)
		}
	}
	info.RolesHeader = strings.Join(info.Roles, ",")
	if len(t.Catalog) > 0 {
		info.Catalog = v2Catalog(t.Catalog)
	}
	for _, v := range []string{info.UserID, info.UserName, info.UserDomainID, info.UserDomainName,
		info.ProjectID, info.ProjectName, info.ProjectDomainID, info.ProjectDomainName,
		info.DomainID, info.DomainName, info.RolesHeader} {
		if !headerSafe(v) {
			return nil, errors.New("a name or id is not valid in an HTTP header")
		}
	}
	return info, nil
}

// headerSafe reports whether s can be a header value as is: valid UTF-8
// without control characters.
func headerSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// v2Catalog converts a v3 catalog to the v2 shape keystonemiddleware puts
// in X-Service-Catalog: per service {"type", "name", "endpoints"}, one
// endpoint object per region with "region" and one "<interface>URL" key
// per interface, written as Python's json.dumps writes it (", " and ": "
// separators, non-ASCII escaped, keys in insertion order).
func v2Catalog(services []v3Service) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range services {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"type": `)
		pyString(&b, s.Type)
		if s.Name != nil {
			b.WriteString(`, "name": `)
			pyString(&b, *s.Name)
		}
		b.WriteString(`, "endpoints": [`)
		// Group endpoints by region, in order of first appearance.
		type region struct {
			name string
			kv   [][2]string
		}
		var regions []*region
		byName := map[string]*region{}
		for _, e := range s.Endpoints {
			name := e.Region // keystonemiddleware reads "region" only
			r := byName[name]
			if r == nil {
				r = &region{name: name}
				byName[name] = r
				regions = append(regions, r)
			}
			key := strings.ToLower(e.Interface) + "URL"
			replaced := false
			for j := range r.kv {
				if r.kv[j][0] == key {
					r.kv[j][1], replaced = e.URL, true
				}
			}
			if !replaced {
				r.kv = append(r.kv, [2]string{key, e.URL})
			}
		}
		for j, r := range regions {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('{')
			first := true
			if r.name != "" {
				b.WriteString(`"region": `)
				pyString(&b, r.name)
				first = false
			}
			for _, kv := range r.kv {
				if !first {
					b.WriteString(", ")
				}
				first = false
				pyString(&b, kv[0])
				b.WriteString(": ")
				pyString(&b, kv[1])
			}
			b.WriteByte('}')
		}
		b.WriteString("]}")
	}
	b.WriteByte(']')
	return b.String()
}

// pyString writes s as Python's json.dumps (ensure_ascii) writes a string.
func pyString(b *strings.Builder, s string) {
	const hexd = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r > 0x7f:
			if r > 0xffff {
				r -= 0x10000
				for _, u := range []rune{0xd800 + r>>10, 0xdc00 + r&0x3ff} {
					b.WriteString(`\u`)
					b.WriteString(strconv.FormatInt(int64(u), 16))
				}
				continue
			}
			b.WriteString(`\u`)
			b.WriteByte(hexd[r>>12&0xf])
			b.WriteByte(hexd[r>>8&0xf])
			b.WriteByte(hexd[r>>4&0xf])
			b.WriteByte(hexd[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// tokenRef logs as tokenID of the token, computed only when the record is
// emitted: pass tokenRef(tok), never tok, to a logger.
type tokenRef string

// LogValue implements slog.LogValuer.
func (t tokenRef) LogValue() slog.Value { return slog.StringValue(tokenID(string(t))) }

// tokenID is what logs show instead of a token: the first 16 hex digits
// of its SHA-256, enough to correlate, useless to replay.
func tokenID(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "sha256:" + hex.EncodeToString(sum[:8])
}
