// Package osloconf reads one section of an OpenStack service's own
// configuration file (nova.conf, glance-api.conf, ...), the way the Python
// middleware reads its options through oslo.config: keystonemiddleware's
// [keystone_authtoken], oslo.middleware's [oslo_middleware].
//
// It understands the subset of oslo.config's INI dialect that those
// sections use: "[section]" headers, "key = value" and "key: value" lines,
// whole-line comments starting with "#" or ";", values continued on
// indented lines (joined with "\n"), and oslo's substitutions: "$$" is a
// literal "$", "$name" and "${name}" are the value of name in the same
// section or, failing that, in [DEFAULT]. A substitution of an unknown name
// is an error, as it is in oslo.config.
//
// Every value keeps the file and line it came from, so that a bad value is
// reported where it was written.
package osloconf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// Value is one option read from a file.
type Value struct {
	Value string
	Pos   paste.Pos
}

// Section is the options of one section, by name. Option names are
// compared as written (oslo.config normalises "-" to "_"; so does Read).
type Section map[string]Value

// File is a parsed oslo.config file: its sections by name.
type File struct {
	Path     string
	Sections map[string]Section
}

// maxFileSize bounds what Read accepts: service configuration files are
// kilobytes; anything far larger is not one.
const maxFileSize = 4 << 20

// Read parses the oslo.config file at path. Errors carry the file and line.
func Read(path string) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not an oslo.config file", path)
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, not an oslo.config file", path, maxFileSize)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f := &File{Path: path, Sections: map[string]Section{}}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 64<<10), maxFileSize)
	var (
		cur     Section
		lastKey string
		line    int
		errs    paste.List
	)
	for sc.Scan() {
		line++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		if line == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		trimmed := strings.TrimSpace(raw)
		pos := paste.Pos{File: path, Line: line}
		switch {
		case trimmed == "":
			// A blank line ends a continuation in oslo's parser.
			lastKey = ""
			continue
		case trimmed[0] == '#' || trimmed[0] == ';':
			continue
		case raw[0] == ' ' || raw[0] == '\t':
			if cur == nil || lastKey == "" {
				errs = append(errs, paste.Errorf(pos, "", "", "", "unexpected continuation line"))
				continue
			}
			v := cur[lastKey]
			v.Value += "\n" + trimmed
			cur[lastKey] = v
			continue
		case trimmed[0] == '[':
			if !strings.HasSuffix(trimmed, "]") || len(trimmed) < 3 {
				errs = append(errs, paste.Errorf(pos, "", "", "", "invalid section header %q", trimmed))
				cur, lastKey = nil, ""
				continue
			}
			name := strings.TrimSpace(trimmed[1 : len(trimmed)-1])
			if f.Sections[name] == nil {
				f.Sections[name] = Section{}
			}
			cur, lastKey = f.Sections[name], ""
			continue
		}
		i := strings.IndexAny(trimmed, "=:")
		if i <= 0 {
			errs = append(errs, paste.Errorf(pos, "", "", "", "expected \"key = value\", got %q", trimmed))
			lastKey = ""
			continue
		}
		if cur == nil {
			errs = append(errs, paste.Errorf(pos, "", "", "", "option outside any section"))
			continue
		}
		key := strings.ReplaceAll(strings.TrimSpace(trimmed[:i]), "-", "_")
		cur[key] = Value{Value: strings.TrimSpace(trimmed[i+1:]), Pos: pos}
		lastKey = key
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// Options returns the options of section with oslo substitutions applied,
// values from [DEFAULT] resolving "$name" when section lacks name. A
// missing section is an empty map.
func (f *File) Options(section string) (Section, error) {
	out := Section{}
	var errs paste.List
	for k, v := range f.Sections[section] {
		s, err := f.substitute(section, v.Value, 0)
		if err != nil {
			errs = append(errs, paste.Errorf(v.Pos, section, k, "", "%v", err))
			continue
		}
		out[k] = Value{Value: s, Pos: v.Pos}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// maxDepth bounds nested substitutions (and so breaks reference cycles).
const maxDepth = 10

func (f *File) substitute(section, s string, depth int) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	if depth >= maxDepth {
		return "", errors.New("substitutions nested too deeply (a reference cycle?)")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		var name string
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New("unterminated ${ substitution (write $$ for a literal $)")
			}
			name = s[i+2 : i+2+end]
			i += 2 + end
		} else {
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			name = s[i+1 : j]
			i = j - 1
		}
		if name == "" {
			return "", errors.New("a lone $ (write $$ for a literal $)")
		}
		v, ok := f.Sections[section][name]
		if !ok {
			v, ok = f.Sections["DEFAULT"][name]
		}
		if !ok {
			return "", fmt.Errorf("substitution $%s: no option %q in [%s] or [DEFAULT] (write $$ for a literal $)", name, name, section)
		}
		sub, err := f.substitute(section, v.Value, depth+1)
		if err != nil {
			return "", err
		}
		b.WriteString(sub)
	}
	return b.String(), nil
}

// FindProjectFile finds the configuration file of an OpenStack project the
// way oslo.config's default search does: the first existing one of
// ~/.P/P.conf, ~/P.conf, /etc/P/P.conf and /etc/P.conf. It reports the
// places it looked when none exists.
func FindProjectFile(project string) (string, error) {
	if project == "" || strings.ContainsAny(project, "/\\") || project == "." || project == ".." {
		return "", fmt.Errorf("invalid project name %q", project)
	}
	name := project + ".conf"
	var dirs []string
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "."+project), home)
	}
	dirs = append(dirs, filepath.Join("/etc", project), "/etc")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s in %s", name, strings.Join(dirs, ", "))
}

// Resolve returns the file an oslo_config_file / oslo_config_project pair
// names, as keystonemiddleware and oslo.middleware do: oslo_config_file
// when set (relative to here, the directory of the paste file), else the
// project's file. It returns "" when neither is set.
func Resolve(file, project, here string) (string, error) {
	if file != "" {
		if !filepath.IsAbs(file) && here != "" {
			file = filepath.Join(here, file)
		}
		return file, nil
	}
	if project != "" {
		return FindProjectFile(project)
	}
	return "", nil
}
