package paste

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/ini.v1"
)

// This file is the only one that imports gopkg.in/ini.v1. Everything else
// sees a source: sections and keys in file order, with normalised values
// and the line each was written on. See ../../shared/docs/ini-v1.md.

// maxFileSize bounds a configuration file.
const maxFileSize = 4 << 20

// srcKey is one option as written: its name, its value (continuation lines
// joined with "\n", each stripped, comments dropped, interpolation not
// applied) and the line of its "name = value" line.
type srcKey struct {
	Name  string
	Value string
	Line  int
	File  string // the overlay that wrote it; "" for the source's own file
}

// srcSection is one section. Keys are in file order; a repeated [DEFAULT]
// contributes to one section.
type srcSection struct {
	Name string
	Line int
	File string // the overlay that added it; "" for the source's own file
	Keys []srcKey
	idx  map[string]int
}

// lookup returns the key called name.
func (s *srcSection) lookup(name string) (srcKey, bool) {
	if i, ok := s.idx[name]; ok {
		return s.Keys[i], true
	}
	return srcKey{}, false
}

// source is a parsed configuration file.
type source struct {
	Path     string
	Default  *srcSection // [DEFAULT]; Line is 0 when the file has none
	Sections []*srcSection
	overlays []string // files merged over it (Options.Overlays), in order
}

// pasteLoadOptions are the ini.v1 options that make it agree with Python's
// ConfigParser as Paste Deploy configures it (ini-v1.md, "Exact LoadOptions").
func pasteLoadOptions(fileSize int) ini.LoadOptions {
	return ini.LoadOptions{
		KeyValueDelimiters:         "=:",
		IgnoreInlineComment:        true,
		AllowPythonMultilineValues: true,
		IgnoreContinuation:         true,
		PreserveSurroundedQuote:    true,
		ChildSectionDelimiter:      "\n",
		ReaderBufferSize:           fileSize + 1,
	}
}

// normValue turns an ini.v1 raw value into ConfigParser's: each line
// stripped, indented comment lines after the first dropped, trailing empty
// lines dropped.
func normValue(raw string) string {
	if !strings.Contains(raw, "\n") {
		return strings.TrimSpace(raw)
	}
	var out []string
	for i, ln := range strings.Split(raw, "\n") {
		t := strings.TrimSpace(ln)
		// An indented comment line inside a value is dropped; the first
		// line is the value itself ("k = # x" keeps "# x").
		if i > 0 && t != "" && (t[0] == '#' || t[0] == ';') {
			continue
		}
		out = append(out, t)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

// parseSource parses data, the content of the file at path. Structure
// problems are reported all at once, each positioned, by the line pre-pass
// (scan); only input the pre-pass accepts is handed to ini.v1.
func parseSource(path string, data []byte) (*source, List) {
	if len(data) > maxFileSize {
		return nil, List{Errorf(Pos{File: path}, "", "", "Unsupported",
			"file is %d bytes; the limit is %d", len(data), maxFileSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	src, errs := scan(path, data)
	if len(errs) > 0 {
		return nil, errs
	}
	f, err := ini.LoadSources(pasteLoadOptions(len(data)), data)
	if err != nil {
		return nil, List{Errorf(Pos{File: path}, "", "", "ParsingError", "%v", err)}
	}
	// Tie the two parsers together: same sections, same keys, same order.
	secs := f.Sections()
	all := append([]*srcSection{src.Default}, src.Sections...)
	if len(secs) != len(all) {
		return nil, List{Errorf(Pos{File: path}, "", "", "ParsingError",
			"internal error: parser disagreement: %d sections, expected %d", len(secs), len(all))}
	}
	for i, s := range secs {
		want := all[i]
		keys := s.Keys()
		if (i > 0 && s.Name() != want.Name) || len(keys) != len(want.Keys) {
			return nil, List{Errorf(Pos{File: path, Line: want.Line}, want.Name, "", "ParsingError",
				"internal error: parser disagreement in section %q", s.Name())}
		}
		for j, k := range keys {
			if k.Name() != want.Keys[j].Name {
				return nil, List{Errorf(Pos{File: path, Line: want.Keys[j].Line}, want.Name, want.Keys[j].Name,
					"ParsingError", "internal error: parser disagreement: key %q", k.Name())}
			}
			want.Keys[j].Value = normValue(k.Value())
		}
	}
	return src, nil
}

// scan is the line pre-pass: it records sections and keys with their lines
// and reports every structure error, including the constructs where ini.v1
// and ConfigParser would silently disagree (ini-v1.md). Values are left
// empty; ini.v1 supplies them.
func scan(path string, data []byte) (*source, List) {
	src := &source{Path: path, Default: &srcSection{Name: "DEFAULT", idx: map[string]int{}}}
	var errs List
	bad := func(line int, section, key, class, format string, args ...any) {
		errs = append(errs, Errorf(Pos{File: path, Line: line}, section, key, class, format, args...))
	}
	secIdx := map[string]*srcSection{}
	var cur *srcSection    // current section; nil before the first header
	missingHeader := false // reported once
	v1open := false        // ini.v1 would continue the open value on an indented line
	var pyopen *srcKey     // ConfigParser's open option (continues across blank lines)
	pyopenSec := ""        // section of pyopen
	gap := 0               // first blank/comment line since v1open closed while pyopen

	lines := bytes.Split(data, []byte("\n"))
	for i, raw := range lines {
		n := i + 1
		if i == len(lines)-1 && len(raw) == 0 {
			break
		}
		line := string(raw)
		line = strings.TrimSuffix(line, "\r")
		if !utf8.ValidString(line) {
			bad(n, "", "", "UnicodeDecodeError", "line is not valid UTF-8")
			v1open, pyopen = false, nil
			continue
		}
		if r, ok := oddChar(line); ok {
			bad(n, "", "", "Unsupported", "unsupported character %U in line; use plain spaces and printable characters", r)
			v1open, pyopen = false, nil
			continue
		}
		t := strings.TrimSpace(line)
		indented := line != "" && (line[0] == ' ' || line[0] == '\t')
		switch {
		case t == "":
			if indented && v1open {
				continue // ini.v1 continues the value; ConfigParser keeps an empty line
			}
			v1open = false
			if pyopen != nil && gap == 0 {
				gap = n
			}
		case t[0] == '#' || t[0] == ';':
			if indented {
				continue // a comment (or dropped by normValue inside a value)
			}
			v1open = false
			if pyopen != nil && gap == 0 {
				gap = n
			}
		case indented && v1open:
			// continuation line
		case indented && pyopen != nil:
			bad(n, pyopenSec, pyopen.Name, "Unsupported",
				"indented line continues the value of %q (line %d) across line %d; remove line %d or join the lines",
				pyopen.Name, pyopen.Line, gap, gap)
			pyopen = nil
		case t[0] == '[':
			// An indented header outside a value is a header for both
			// parsers (inside a value it continues it, handled above).
			v1open, pyopen, gap = false, nil, 0
			end := strings.LastIndexByte(t, ']')
			if end < 0 {
				bad(n, "", "", "Unsupported", "unclosed section header %s; add the closing ']'", pyRepr(t))
				cur = nil
				missingHeader = true // don't report its keys as headerless
				continue
			}
			name := t[1:end]
			if name == "" {
				bad(n, "", "", "ParsingError", "empty section name '[]'")
				cur = nil
				missingHeader = true
				continue
			}
			if name == "DEFAULT" {
				if src.Default.Line == 0 {
					src.Default.Line = n
				}
				cur = src.Default
				continue
			}
			if prev, ok := secIdx[name]; ok {
				bad(n, "", "", "DuplicateSectionError", "section %s already exists (first at line %d)", pyRepr(name), prev.Line)
				cur = nil
				missingHeader = true
				continue
			}
			cur = &srcSection{Name: name, Line: n, idx: map[string]int{}}
			secIdx[name] = cur
			src.Sections = append(src.Sections, cur)
		case indented:
			sec := ""
			if cur != nil {
				sec = cur.Name
			}
			bad(n, sec, "", "Unsupported", "indented line outside a value; keys must start in column 1")
		default:
			v1open, pyopen, gap = false, nil, 0
			d := strings.IndexAny(t, "=:")
			if d < 0 {
				sec := ""
				if cur != nil {
					sec = cur.Name
				}
				bad(n, sec, "", "ParsingError", "line %s has no '=' or ':' (options need a value)", pyRepr(t))
				continue
			}
			name := strings.TrimSpace(t[:d])
			value := strings.TrimSpace(t[d+1:])
			if cur == nil {
				if !missingHeader {
					bad(n, "", "", "MissingSectionHeaderError", "file contains no section headers: %s comes before the first [section]", pyRepr(t))
					missingHeader = true
				}
				continue
			}
			switch {
			case name == "":
				bad(n, cur.Name, "", "ParsingError", "line %s has an empty option name", pyRepr(t))
				continue
			case name == "-" || name[0] == '"' || name[0] == '`':
				bad(n, cur.Name, name, "Unsupported", "option names may not be '-' or start with a quote")
				continue
			case strings.HasPrefix(value, "`") || strings.HasPrefix(value, `"""`):
				bad(n, cur.Name, name, "Unsupported", "values may not start with ` or \"\"\"")
				continue
			}
			if j, ok := cur.idx[name]; ok {
				bad(n, cur.Name, name, "DuplicateOptionError", "option %s already exists in this section (first at line %d)",
					pyRepr(name), cur.Keys[j].Line)
				continue
			}
			cur.idx[name] = len(cur.Keys)
			cur.Keys = append(cur.Keys, srcKey{Name: name, Line: n})
			v1open = true
			pyopen = &cur.Keys[len(cur.Keys)-1]
			pyopenSec = cur.Name
			gap = 0
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return src, nil
}

// oddChar finds a character the two parsers would treat differently: a
// control character other than tab, or a space other than ' ' and tab.
func oddChar(s string) (rune, bool) {
	for _, r := range s {
		if r < 0x80 {
			if (r < 0x20 && r != '\t') || r == 0x7f {
				return r, true
			}
			continue
		}
		if r < 0xa0 || unicode.IsSpace(r) || r == '\ufeff' {
			return r, true
		}
	}
	return 0, false
}

// sectionNames lists the section names of src (not DEFAULT), for messages.
func (src *source) sectionNames() []string {
	out := make([]string, len(src.Sections))
	for i, s := range src.Sections {
		out[i] = s.Name
	}
	return out
}
