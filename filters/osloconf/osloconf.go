// Package osloconf reads the options of an oslo.middleware-style filter the
// way oslo's ConfigurableMiddleware does: from Paste's local and global
// conf first, then from the service's oslo.config file named by
// oslo_config_project / oslo_config_file, then the option's default. The
// cors, http_proxy_to_wsgi, sizelimit and healthcheck factories share it.
package osloconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// maxOsloFile bounds the size of an oslo.config file read at build time.
const maxOsloFile = 4 << 20

// File holds the sections of the oslo.config files that a filter
// section names with oslo_config_project (and oslo_config_file or
// oslo_config_program), as oslo.middleware loads them for itself.
type File struct {
	files    []string
	sections map[string]map[string]string // section -> key -> value
	order    []string                     // sections in first-seen order
}

// Merged returns Paste's merged conf as oslo's paste factories build
// it: the global conf overlaid with the local conf.
func Merged(c *pipeline.Config) map[string]string {
	m := maps.Clone(c.Global)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, c.Local)
	return m
}

// Load reads the oslo.config files of c's section. It returns nil (and
// no error) when the section names no oslo_config_project: oslo then reads
// the service's global configuration, which this daemon does not have, so
// only Paste keys and defaults apply. With oslo_config_file the file must
// exist (a relative path is taken from the paste file's directory, the
// global conf's "here"); otherwise the project's standard files are searched as oslo.config
// does (~/.P/P.conf, ~/P.conf, /etc/P/P.conf, /etc/P.conf, the first found,
// and the same for oslo_config_program), and finding none is not an error.
func Load(c *pipeline.Config) (*File, error) {
	conf := Merged(c)
	project := strings.TrimSpace(conf["oslo_config_project"])
	if project == "" {
		return nil, nil
	}
	o := &File{sections: map[string]map[string]string{}}
	key := "oslo_config_project"
	if f := strings.TrimSpace(conf["oslo_config_file"]); f != "" {
		key = "oslo_config_file"
		if here := c.Global["here"]; !filepath.IsAbs(f) && here != "" {
			f = filepath.Join(here, f) // relative to the paste file, like %(here)s
		}
		o.files = []string{f}
	} else {
		o.files = findOsloFiles(project, strings.TrimSpace(conf["oslo_config_program"]))
	}
	for _, f := range o.files {
		if err := o.Read(f); err != nil {
			return nil, c.Errorf(key, "%v", err)
		}
	}
	return o, nil
}

func findOsloFiles(project, program string) []string {
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
	return out
}

// Sections returns the section names in first-seen order.
func (o *File) Sections() []string {
	if o == nil {
		return nil
	}
	return o.order
}

// Section returns the keys of one section (nil when absent). The map must
// not be modified.
func (o *File) Section(name string) map[string]string {
	if o == nil {
		return nil
	}
	return o.sections[name]
}

// NewFile returns an empty File to Read files into (for tests).
func NewFile() *File { return &File{sections: map[string]map[string]string{}} }

// Read parses one oslo.config ini file into o; later files override
// earlier ones key by key. The syntax is oslo.config's: [section] headers,
// "key = value" or "key: value", # and ; comment lines, indented
// continuation lines, and one pair of matching quotes around a value
// removed.
func (o *File) Read(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("oslo.config file: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxOsloFile+1))
	if err != nil {
		return fmt.Errorf("oslo.config file: %v", err)
	}
	if len(data) > maxOsloFile {
		return fmt.Errorf("oslo.config file %s: larger than %d bytes", name, maxOsloFile)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxOsloFile)
	var sec map[string]string
	var lastKey string
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(text)
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';':
			lastKey = ""
			continue
		case text[0] == ' ' || text[0] == '\t':
			if sec == nil || lastKey == "" {
				return fmt.Errorf("%s:%d: unexpected continuation line", name, line)
			}
			sec[lastKey] += "\n" + trimmed
			continue
		case trimmed[0] == '[':
			if !strings.HasSuffix(trimmed, "]") || len(trimmed) < 3 {
				return fmt.Errorf("%s:%d: invalid section header %q", name, line, trimmed)
			}
			s := strings.TrimSpace(trimmed[1 : len(trimmed)-1])
			if o.sections[s] == nil {
				o.sections[s] = map[string]string{}
				o.order = append(o.order, s)
			}
			sec, lastKey = o.sections[s], ""
			continue
		}
		if sec == nil {
			return fmt.Errorf("%s:%d: option outside any section", name, line)
		}
		i := strings.IndexAny(trimmed, "=:")
		if i <= 0 {
			return fmt.Errorf("%s:%d: expected \"key = value\", got %q", name, line, trimmed)
		}
		k, v := strings.TrimSpace(trimmed[:i]), strings.TrimSpace(trimmed[i+1:])
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		sec[k], lastKey = v, k
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("oslo.config file %s: %v", name, err)
	}
	return nil
}

// Get returns the value of key in section, and where it was found for
// messages ("FILE [section] key").
func (o *File) Get(section, key string) (value, where string, ok bool) {
	if o == nil {
		return "", "", false
	}
	value, ok = o.sections[section][key]
	return value, fmt.Sprintf("%s [%s] %s", strings.Join(o.files, ","), section, key), ok
}

// Decode decodes opts (a pointer to an options struct) the way oslo's
// ConfigurableMiddleware reads each option: from Paste's merged conf (the
// section's local keys, then the global conf) if the key is there, else
// from the oslo.config files through file (which may be nil), else the
// struct default. Values from the files are checked on their own first so
// that a bad one is reported with the file and group it came from.
func Decode(c *pipeline.Config, opts any, file func(key string) (value, where string, ok bool)) error {
	merged := maps.Clone(c.Local)
	if merged == nil {
		merged = map[string]string{}
	}
	fromFile := map[string]string{}
	var wheres []string
	for _, d := range pipeline.OptionDocs(opts) {
		if d.Type == "ignored" || strings.HasPrefix(d.Name, "oslo_config_") {
			continue // the oslo_config_* keys are read by Load
		}
		if _, ok := merged[d.Name]; ok {
			continue
		}
		if v, ok := c.Global[d.Name]; ok {
			merged[d.Name] = v
			continue
		}
		if file == nil {
			continue
		}
		if v, where, ok := file(d.Name); ok {
			merged[d.Name], fromFile[d.Name] = v, v
			wheres = append(wheres, where)
		}
	}
	if len(fromFile) > 0 {
		check := *c
		check.Local = fromFile
		tmp := reflect.New(reflect.TypeOf(opts).Elem()).Interface()
		if err := check.Decode(tmp); err != nil {
			return c.Errorf("oslo_config_project", "in the oslo.config options (%s): %v", strings.Join(wheres, "; "), err)
		}
	}
	withMerged := *c
	withMerged.Local = merged
	return withMerged.Decode(opts)
}
