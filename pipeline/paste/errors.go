package paste

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Pos is a position in a configuration file. Line is 1-based; a zero Line
// means the position is the file as a whole. The zero Pos means "no position".
type Pos struct {
	File string
	Line int
}

// String formats p as "file:line", "file" or "" for the zero Pos.
func (p Pos) String() string {
	switch {
	case p.File == "" && p.Line == 0:
		return ""
	case p.Line == 0:
		return p.File
	default:
		return p.File + ":" + strconv.Itoa(p.Line)
	}
}

// Error is a problem found in a configuration, tied to where it was written.
//
// Its text is "file:line: [section] key: message", leaving out the parts
// that are unknown. Class names the Python Paste Deploy exception class the
// same problem raises (LookupError, KeyError, InterpolationSyntaxError, ...,
// and "Cycle" for what Python reports as RecursionError); it lets the
// differential tests map our errors onto the oracle's. Err is the cause and
// is returned by Unwrap.
type Error struct {
	Pos
	Section string // section name as written, e.g. "filter:cors"; may be empty
	Key     string // option name; may be empty
	Class   string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	if s := e.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if e.Section != "" {
		b.WriteString("[")
		b.WriteString(e.Section)
		b.WriteString("] ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at pos with a formatted message. The format may
// wrap a cause with %w.
func Errorf(pos Pos, section, key, class, format string, args ...any) *Error {
	return &Error{Pos: pos, Section: section, Key: key, Class: class, Err: fmt.Errorf(format, args...)}
}

// Warning is a non-fatal finding (a DEFAULT key shadowing a local one, an
// alias that silently lost to another, ...). It has the same shape as Error.
type Warning = Error

// List is a list of problems. A List with at least one element is returned as
// the error of a load or a build so that every problem is reported at once.
// Its Error text has one problem per line.
type List []error

func (l List) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (l List) Unwrap() []error { return l }

// Err returns l as an error, or nil when l is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Flatten returns every leaf problem of err: the elements of a List or of an
// errors.Join tree, in order. A nil err gives nil.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	var walk func(error)
	walk = func(e error) {
		var pe *Error
		if errors.As(e, &pe) && pe == e {
			out = append(out, e)
			return
		}
		if m, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range m.Unwrap() {
				walk(c)
			}
			return
		}
		out = append(out, e)
	}
	walk(err)
	return out
}
