package authtoken

import (
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/vietstack/vietstack-api/filters/osloconf"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// OsloSection is the oslo.config section keystonemiddleware reads.
const OsloSection = "keystone_authtoken"

// merged is the paste section's options overlaid on those of the oslo
// file, and where each option from the oslo file was written.
type merged struct {
	local  map[string]string
	origin map[string]osloOrigin // options that came from the oslo file
	file   string
}

// osloOrigin is an option taken from the oslo file and the section it was
// read from.
type osloOrigin struct {
	osloconf.Value
	section string
}

// mergeOslo reads [keystone_authtoken] (and the section its auth_section
// names) from the oslo.config file that oslo_config_file or
// oslo_config_project name (falling back to the global option
// oslo_config_file), keeps the options auth_token knows (others are logged
// and ignored, as oslo.config does), and lets the paste section's own
// options win. Only the options taken from the file are substituted, as
// oslo substitutes an option when it is read.
func mergeOslo(c *pipeline.Config) (*merged, error) {
	m := &merged{local: c.Local}
	file, project := c.Local["oslo_config_file"], c.Local["oslo_config_project"]
	key := "oslo_config_file"
	if file == "" && project == "" {
		file = c.Global["oslo_config_file"]
	} else if file == "" {
		key = "oslo_config_project"
	}
	path, err := osloconf.Resolve(file, project, c.Global["here"])
	if err != nil {
		return nil, c.Errorf(key, "%v", err)
	}
	if path == "" {
		return m, nil
	}
	f, err := osloconf.Read(path)
	if err != nil {
		var list paste.List
		if errors.As(err, &list) {
			return nil, err
		}
		return nil, c.Errorf(key, "reading the oslo.config file: %v", err)
	}
	sections := []string{OsloSection}
	as, ok, err := f.Lookup(OsloSection, "auth_section")
	if err != nil {
		return nil, err
	}
	if ok && as.Value != "" && !strings.EqualFold(as.Value, OsloSection) {
		sections = append(sections, as.Value)
	}
	known := map[string]bool{}
	for _, d := range pipeline.OptionDocs(Options{}) {
		known[d.Name] = true
	}
	m.file = path
	m.origin = map[string]osloOrigin{}
	m.local = make(map[string]string, len(c.Local))
	var unknown []string
	var errs paste.List
	for _, sec := range sections {
		for _, k := range f.Keys(sec) {
			if _, taken := m.origin[k]; taken || k == "oslo_config_file" || k == "oslo_config_project" {
				continue
			}
			if !known[k] {
				if !slices.Contains(unknown, k) {
					unknown = append(unknown, k)
				}
				continue
			}
			if _, inPaste := c.Local[k]; inPaste {
				continue // the paste option wins; the file's is not read
			}
			v, _, err := f.Lookup(sec, k)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m.local[k] = v.Value
			m.origin[k] = osloOrigin{v, sec}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	maps.Copy(m.local, c.Local)
	if len(unknown) > 0 && c.Logger != nil {
		sort.Strings(unknown)
		c.Logger.Warn("authtoken: ignoring options auth_token does not know", "file", path, "section", OsloSection, "options", unknown)
	}
	return m, nil
}

// reposition turns err (from Decode or New) into positioned errors: an
// option that came from the oslo file is reported at its file:line there,
// any other at its place in the paste file.
func (m *merged) reposition(c *pipeline.Config, err error) error {
	fix := func(e *paste.Error) *paste.Error {
		if v, ok := m.origin[e.Key]; ok {
			return &paste.Error{Pos: v.Pos, Section: v.section, Key: e.Key, Class: e.Class, Err: e.Err}
		}
		return e
	}
	var oe *optError
	if errors.As(err, &oe) {
		if v, ok := m.origin[oe.key]; ok {
			return paste.Errorf(v.Pos, v.section, oe.key, "", "%s", oe.msg)
		}
		return c.Errorf(oe.key, "%s", oe.msg)
	}
	var list paste.List
	if errors.As(err, &list) {
		out := make(paste.List, len(list))
		for i, e := range list {
			out[i] = e
			if pe, ok := e.(*paste.Error); ok {
				out[i] = fix(pe)
			}
		}
		return out
	}
	var pe *paste.Error
	if errors.As(err, &pe) {
		return fix(pe)
	}
	return c.Errorf("", "%v", err)
}
