// Package osloconf reads OpenStack oslo.config files (nova.conf,
// glance-api.conf, ...): File is the one parser of that format in the code
// base, positioned (every value keeps its file:line) and with oslo's
// substitutions; the format it accepts is described in file.go.
//
// On top of it, Load, Get and Decode read the options of an
// oslo.middleware-style filter the way oslo's ConfigurableMiddleware does:
// from Paste's local and global conf first, then from the service's
// oslo.config file named by oslo_config_project / oslo_config_file, then
// the option's default. The cors, http_proxy_to_wsgi, sizelimit and
// healthcheck factories share them; authtoken and basic_auth read their
// sections with Resolve, Read and Lookup.
package osloconf

import (
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

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
// global conf's "here"); otherwise the project's standard files are
// searched as oslo.config does (see ProjectFiles), and finding none is not
// an error. Errors name the paste section and key, then each problem's
// file:line in the oslo.config file.
func Load(c *pipeline.Config) (*File, error) {
	conf := Merged(c)
	project := strings.TrimSpace(conf["oslo_config_project"])
	if project == "" {
		return nil, nil
	}
	var files []string
	key := "oslo_config_project"
	if f := strings.TrimSpace(conf["oslo_config_file"]); f != "" {
		key = "oslo_config_file"
		if here := c.Global["here"]; !filepath.IsAbs(f) && here != "" {
			f = filepath.Join(here, f) // relative to the paste file, like %(here)s
		}
		files = []string{f}
	} else {
		var err error
		if files, err = ProjectFiles(project, strings.TrimSpace(conf["oslo_config_program"])); err != nil {
			return nil, c.Errorf(key, "%v", err)
		}
	}
	o := NewFile()
	for _, f := range files {
		if err := o.Read(f); err != nil {
			var list paste.List
			if errors.As(err, &list) {
				return nil, c.Errorf(key, "%v", err) // each problem at its file:line
			}
			return nil, c.Errorf(key, "oslo.config file: %v", err)
		}
	}
	return o, nil
}

// Get returns the value of key in section with its substitutions done,
// and where it was set for messages ("FILE [section] key", FILE being the
// file that set it). ok is false when no file sets the option; err (a
// *paste.Error at the option's file:line) when its substitutions fail.
func (o *File) Get(section, key string) (value, where string, ok bool, err error) {
	v, ok, err := o.Lookup(section, key)
	if !ok {
		return "", "", false, nil
	}
	return v.Value, v.Pos.File + " [" + section + "] " + key, true, err
}

// Decode decodes opts (a pointer to an options struct) the way oslo's
// ConfigurableMiddleware reads each option: from Paste's merged conf (the
// section's local keys, then the global conf) if the key is there, else
// from the oslo.config files through file (which may be nil), else the
// struct default. Values from the files are checked on their own first so
// that a bad one is reported with the file and group it came from; errors
// file returns (failed substitutions, at their file:line) are reported
// together.
func Decode(c *pipeline.Config, opts any, file func(key string) (value, where string, ok bool, err error)) error {
	merged := maps.Clone(c.Local)
	if merged == nil {
		merged = map[string]string{}
	}
	fromFile := map[string]string{}
	var wheres []string
	var errs paste.List
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
		v, where, ok, err := file(d.Name)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			merged[d.Name], fromFile[d.Name] = v, v
			wheres = append(wheres, where)
		}
	}
	if len(errs) > 0 {
		return c.Errorf("oslo_config_project", "%v", errs)
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
