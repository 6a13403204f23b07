package paste

import (
	"fmt"
	"strings"
)

// maxInterpDepth is ConfigParser's MAX_INTERPOLATION_DEPTH.
const maxInterpDepth = 10

// interpError is an interpolation failure; Class is the ConfigParser
// exception class Paste raises for it.
type interpError struct {
	Class string
	Msg   string
	Name  string // the unknown name, for InterpolationMissingOptionError
}

func (e *interpError) Error() string { return e.Msg }

// interpLookup finds a referenced name: its raw value, whether it is to be
// used literally (the loader's own here and __file__, which may contain a
// '%'), and whether it exists.
type interpLookup func(name string) (raw string, literal, ok bool)

// interpolate expands raw the way ConfigParser's BasicInterpolation does
// (paste-semantics.md §6): "%%" is a literal "%", "%(name)s" is replaced by
// the value of name (looked up case-sensitively through lookup), which is
// itself expanded recursively, at most maxInterpDepth levels deep; any
// other "%" is an error. The assembled result is not scanned again.
func interpolate(raw string, lookup interpLookup) (string, error) {
	var b strings.Builder
	refs := 0
	if err := interpSome(&b, raw, raw, lookup, 1, &refs); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Bounds on one expansion: references can nest 10 deep and fan out, so
// without them a small file could expand exponentially.
const (
	maxInterpRefs = 10000
	maxInterpLen  = 1 << 20
)

func interpSome(b *strings.Builder, top, rest string, lookup interpLookup, depth int, refs *int) error {
	if *refs > maxInterpRefs || b.Len() > maxInterpLen {
		return &interpError{Class: "Unsupported", Msg: fmt.Sprintf(
			"value expands to more than %d references or %d bytes (raw value: %s)", maxInterpRefs, maxInterpLen, pyRepr(top))}
	}
	if depth > maxInterpDepth {
		return &interpError{Class: "InterpolationDepthError", Msg: fmt.Sprintf(
			"recursion limit exceeded in value substitution: a reference cannot be substituted in %d steps (raw value: %s)",
			maxInterpDepth, pyRepr(top))}
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return nil
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end < 3 || end+1 >= len(rest) || rest[end+1] != 's' {
				return &interpError{Class: "InterpolationSyntaxError", Msg: fmt.Sprintf(
					"bad interpolation variable reference %s; write %%(name)s, or %%%% for a literal %%", pyRepr(rest))}
			}
			name := rest[2:end]
			rest = rest[end+2:]
			*refs++
			v, literal, ok := lookup(name)
			if !ok {
				return &interpError{Class: "InterpolationMissingOptionError", Name: name, Msg: fmt.Sprintf(
					"bad value substitution: interpolation key %s is not a valid option name (raw value: %s)",
					pyRepr(name), pyRepr(top))}
			}
			if !literal && strings.Contains(v, "%") {
				if err := interpSome(b, top, v, lookup, depth+1, refs); err != nil {
					return err
				}
			} else {
				b.WriteString(v)
			}
		default:
			return &interpError{Class: "InterpolationSyntaxError", Msg: fmt.Sprintf(
				"'%%' must be followed by '%%' or '(', found: %s; write %%%% for a literal %%", pyRepr(rest))}
		}
	}
	return nil
}
