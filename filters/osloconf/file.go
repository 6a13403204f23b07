package osloconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// This file is the one parser of the oslo.config file format in the code
// base. It follows oslo_config's iniparser and ConfigOpts:
//
//   - "[section]" starts a section; the name is what lies between the
//     brackets, unchanged. Lookups compare section names case-insensitively,
//     except DEFAULT, which must be written in capitals (oslo lowercases
//     every group name but DEFAULT).
//   - "key = value" and "key: value" (the first of "=" or ":" splits) set
//     an option; key and value are trimmed and one pair of matching quotes
//     around the value is removed. Keys are compared as written: oslo looks
//     options up by their registered name, so "auth-url" is not auth_url.
//   - Lines starting with "#" or ";" in the first column are comments.
//   - A line starting with a space or a tab continues the value of the
//     option above it (joined with "\n"); a blank line or a comment ends
//     the value, and a continuation line with no option above it is an
//     error. An indented "#" is therefore part of the value, as in oslo.
//   - An option set twice keeps its last value; files read later override
//     earlier ones option by option.
//   - Values are substituted when read (Lookup, Options): "$$" and "\$"
//     are a literal "$", "$name" and "${name}" are the option name of the
//     same section or, failing that, of [DEFAULT], and "$group.name" is
//     option name of [group]. A reference to an option set nowhere in the
//     files is an error (oslo raises NoSuchOptError); a "$" that starts no
//     reference ("5$", "$ 1", "${x") is kept, as string.Template's
//     safe_substitute keeps it.
//
// Two leniencies oslo does not have: a UTF-8 byte order mark at the start
// of a file is skipped, and every problem of a file is reported (a
// paste.List), not only the first. Every value keeps the file and line it
// was written at, so that a bad one is reported there.

// Value is one option as read from a file.
type Value struct {
	Value string    // the value, quotes removed, continuation lines joined with "\n"
	Pos   paste.Pos // where the option was written (its first line)
}

// File holds the sections of the oslo.config files read into it, in
// order. The zero value is not usable; use NewFile or Read. A nil *File
// is an empty one for every method but Read.
type File struct {
	files    []string
	sections map[string]map[string]Value // normalised section name -> key -> value
	raw      map[string]bool             // section names as written, seen
	order    []string                    // section names as written, first-seen order
}

// MaxFileSize bounds the size of one oslo.config file: service
// configuration files are kilobytes; anything far larger is not one.
const MaxFileSize = 4 << 20

// NewFile returns an empty File to Read files into.
func NewFile() *File {
	return &File{sections: map[string]map[string]Value{}, raw: map[string]bool{}}
}

// Read parses the oslo.config file at path into a new File.
func Read(path string) (*File, error) {
	f := NewFile()
	if err := f.Read(path); err != nil {
		return nil, err
	}
	return f, nil
}

// normSection is the name oslo looks a group up by: lower case, except
// DEFAULT.
func normSection(name string) string {
	if name == "DEFAULT" {
		return name
	}
	return strings.ToLower(name)
}

// Read parses one more oslo.config file into f: its options override those
// of the files read before, option by option. A file that cannot be read
// (missing, a directory, larger than MaxFileSize) is an error naming it;
// syntax errors are returned together as a paste.List, each at its
// file:line, and then f is left unchanged.
func (f *File) Read(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err != nil {
		return err
	} else if fi.IsDir() {
		return fmt.Errorf("%s: is a directory, not an oslo.config file", path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return fmt.Errorf("%s: larger than %d bytes, not an oslo.config file", path, MaxFileSize)
	}
	// Python reads the file with universal newlines: \r\n and a lone \r
	// end lines too.
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	data = bytes.TrimPrefix(data, []byte("\ufeff"))

	type pending struct {
		section, key string
		v            Value
		lines        []string
	}
	var (
		errs    paste.List
		parsed  []pending // assignments in file order
		cur     *pending  // the assignment continuation lines extend
		section string    // current section as written; "" before the first
		inSec   bool
		headers []string
	)
	flush := func() {
		if cur != nil {
			parsed = append(parsed, *cur)
			cur = nil
		}
	}
	for n, line := range strings.Split(string(data), "\n") {
		pos := paste.Pos{File: path, Line: n + 1}
		line = strings.TrimRightFunc(line, unicode.IsSpace)
		switch {
		case line == "":
			flush() // a blank line ends a value
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil {
				errs = append(errs, paste.Errorf(pos, "", "", "", "unexpected continuation line"))
				continue
			}
			cur.lines = append(cur.lines, strings.TrimLeftFunc(line, unicode.IsSpace))
		case line[0] == '[':
			flush()
			if !strings.HasSuffix(line, "]") {
				errs = append(errs, paste.Errorf(pos, "", "", "", "invalid section header %q: no closing ]", line))
				section, inSec = "", false
				continue
			}
			if len(line) <= 2 {
				errs = append(errs, paste.Errorf(pos, "", "", "", "empty section name"))
				section, inSec = "", false
				continue
			}
			section, inSec = line[1:len(line)-1], true
			headers = append(headers, section)
		case line[0] == '#' || line[0] == ';':
			flush() // a comment ends a value
		default:
			flush()
			i := strings.IndexAny(line, "=:")
			if i < 0 {
				errs = append(errs, paste.Errorf(pos, "", "", "", "expected \"key = value\", got %q", line))
				continue
			}
			key, value := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
			if key == "" {
				errs = append(errs, paste.Errorf(pos, "", "", "", "expected \"key = value\", got %q (empty key)", line))
				continue
			}
			if !inSec {
				errs = append(errs, paste.Errorf(pos, "", "", "", "option outside any section"))
				continue
			}
			if value != "" && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
				if len(value) == 1 {
					value = "" // as oslo: a lone quote becomes ""
				} else {
					value = value[1 : len(value)-1]
				}
			}
			cur = &pending{section: section, key: key, v: Value{Pos: pos}, lines: []string{value}}
		}
	}
	flush()
	if len(errs) > 0 {
		return errs
	}
	f.files = append(f.files, path)
	for _, h := range headers {
		if !f.raw[h] {
			f.raw[h] = true
			f.order = append(f.order, h)
		}
		if f.sections[normSection(h)] == nil {
			f.sections[normSection(h)] = map[string]Value{}
		}
	}
	for _, p := range parsed {
		p.v.Value = strings.Join(p.lines, "\n")
		f.sections[normSection(p.section)][p.key] = p.v
	}
	return nil
}

// Files returns the files read into f, in order.
func (f *File) Files() []string {
	if f == nil {
		return nil
	}
	return f.files
}

// Sections returns the section names as written, in first-seen order (a
// name written twice with different case is listed twice).
func (f *File) Sections() []string {
	if f == nil {
		return nil
	}
	return f.order
}

// Keys returns the option names set in section, sorted.
func (f *File) Keys(section string) []string {
	if f == nil {
		return nil
	}
	m := f.sections[normSection(section)]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Raw returns the value of key in section as written, without
// substitution.
func (f *File) Raw(section, key string) (Value, bool) {
	if f == nil {
		return Value{}, false
	}
	v, ok := f.sections[normSection(section)][key]
	return v, ok
}

// Lookup returns the value of key in section with its substitutions
// done, and where it was written. ok is false when the option is set in
// no file. A substitution that cannot be done is a *paste.Error at the
// option's file:line.
func (f *File) Lookup(section, key string) (v Value, ok bool, err error) {
	v, ok = f.Raw(section, key)
	if !ok {
		return v, false, nil
	}
	s, err := f.substitute(section, v.Value, 0)
	if err != nil {
		return v, true, paste.Errorf(v.Pos, section, key, "", "%v", err)
	}
	v.Value = s
	return v, true, nil
}

// Options returns every option of section with its substitutions done; a
// missing section is an empty map. Substitution errors are returned
// together as a paste.List. Callers that read only some options should
// use Lookup: oslo substitutes an option only when it is read, so an
// unresolvable reference in an option nobody reads is no error.
func (f *File) Options(section string) (map[string]Value, error) {
	out := map[string]Value{}
	var errs paste.List
	for _, k := range f.Keys(section) {
		v, _, err := f.Lookup(section, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[k] = v
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// maxDepth bounds nested substitutions (and so breaks reference cycles).
const maxDepth = 10

// isIDStart and isIDChar follow oslo's Template.idpattern,
// [_a-z][._a-z0-9]*, which string.Template matches ignoring case.
func isIDStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIDChar(c byte) bool { return isIDStart(c) || c == '.' || c >= '0' && c <= '9' }

func isID(s string) bool {
	if s == "" || !isIDStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return false
		}
	}
	return true
}

// substitute expands the references of s, an option of section.
func (f *File) substitute(section, s string, depth int) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	if depth >= maxDepth {
		return "", errors.New("substitutions nested too deeply (a reference cycle?)")
	}
	s = strings.ReplaceAll(s, `\$`, "$$") // as oslo: \$ is $$
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "$"):
			b.WriteByte('$')
			i++
			continue
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 || !isID(rest[1:end]) {
				b.WriteByte('$') // not a reference: kept
				continue
			}
			name = rest[1:end]
			i += 1 + end
		default:
			j := 0
			for j < len(rest) && (j == 0 && isIDStart(rest[j]) || j > 0 && isIDChar(rest[j])) {
				j++
			}
			if j == 0 {
				b.WriteByte('$') // not a reference: kept
				continue
			}
			name = rest[:j]
			i += j
		}
		sub, err := f.resolve(section, name, depth)
		if err != nil {
			return "", err
		}
		b.WriteString(sub)
	}
	return b.String(), nil
}

// resolve finds the option a reference names, as oslo's StrSubWrapper
// does: "group.name" is name in [group], else the whole reference is an
// option of section, else of [DEFAULT]. The value found is substituted in
// the section it was found in.
func (f *File) resolve(section, name string, depth int) (string, error) {
	var tries [][2]string
	if g, opt, ok := strings.Cut(name, "."); ok {
		tries = append(tries, [2]string{g, opt})
	} else {
		tries = append(tries, [2]string{section, name})
	}
	tries = append(tries, [2]string{"DEFAULT", name})
	for _, t := range tries {
		if v, ok := f.Raw(t[0], t[1]); ok {
			return f.substitute(t[0], v.Value, depth+1)
		}
	}
	where := "[" + section + "] or [DEFAULT]"
	if g, opt, ok := strings.Cut(name, "."); ok {
		where = fmt.Sprintf("[%s] (option %q) or [DEFAULT]", g, opt)
	}
	return "", fmt.Errorf("substitution $%s: no option %q in %s (write $$ for a literal $)", name, name, where)
}

// ProjectFiles returns the configuration files of an OpenStack project
// the way oslo.config's default search finds them: for project and then
// program (when set and different), the first existing one of ~/.P/N.conf,
// ~/N.conf, /etc/P/N.conf and /etc/N.conf. Files later in the list
// override earlier ones. Finding none is no error here (oslo then uses
// its defaults); a project name that is a path is.
func ProjectFiles(project, program string) ([]string, error) {
	for _, n := range []string{project, program} {
		if strings.ContainsAny(n, "/\\") || n == "." || n == ".." {
			return nil, fmt.Errorf("invalid project or program name %q", n)
		}
	}
	if project == "" {
		return nil, nil
	}
	var dirs []string
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "."+project), home)
	}
	dirs = append(dirs, filepath.Join("/etc", project), "/etc")
	names := []string{project}
	if program != "" && program != project {
		names = append(names, program)
	}
	var out []string
	for _, name := range names {
		for _, d := range dirs {
			p := filepath.Join(d, name+".conf")
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

// Resolve returns the file an oslo_config_file / oslo_config_project pair
// names, as keystonemiddleware does: oslo_config_file when set (relative
// to here, the directory of the paste file), else the project's file
// found by ProjectFiles. It returns "" when neither is set. Unlike oslo,
// which would fall back to its defaults, a project with no file is an
// error naming the places searched: a filter that must authenticate
// should not start without the options its paste section points at.
func Resolve(file, project, here string) (string, error) {
	if file != "" {
		if !filepath.IsAbs(file) && here != "" {
			file = filepath.Join(here, file)
		}
		return file, nil
	}
	if project == "" {
		return "", nil
	}
	files, err := ProjectFiles(project, "")
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		name := project + ".conf"
		var dirs []string
		if home, err := os.UserHomeDir(); err == nil {
			dirs = append(dirs, filepath.Join(home, "."+project), home)
		}
		dirs = append(dirs, filepath.Join("/etc", project), "/etc")
		return "", fmt.Errorf("no %s in %s", name, strings.Join(dirs, ", "))
	}
	return files[0], nil
}
