package paste

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// Layered configuration: Options.Overlays are files applied, in order, over
// the top-level file before anything is resolved in it (see the package
// documentation, "Layered configuration"). The merge works on sources, so
// every later rule of the loader sees one file; each section and key keeps
// the file that wrote it, for positions, %(here)s and config: includes.

// isFactoryKey reports whether name is one of the keys that pick a
// section's factory: use, or an explicit paste.*_factory / paste.server_runner.
func isFactoryKey(name string) bool {
	if name == "use" {
		return true
	}
	return strings.HasPrefix(name, "paste.") && (strings.HasSuffix(name, "_factory") || name == "paste.server_runner")
}

// clone returns a deep copy of s.
func (s *srcSection) clone() *srcSection {
	c := &srcSection{Name: s.Name, Line: s.Line, File: s.File, Keys: slices.Clone(s.Keys), idx: make(map[string]int, len(s.idx))}
	for k, v := range s.idx {
		c.idx[k] = v
	}
	return c
}

// setKey adds k to s, replacing the value (in place, keeping the order of
// the keys) of a key of the same name.
func (s *srcSection) setKey(k srcKey) {
	if i, ok := s.idx[k.Name]; ok {
		s.Keys[i] = k
		return
	}
	s.idx[k.Name] = len(s.Keys)
	s.Keys = append(s.Keys, k)
}

// dropFactoryKeys removes every factory key of s.
func (s *srcSection) dropFactoryKeys() {
	keys := s.Keys[:0:0]
	for _, k := range s.Keys {
		if !isFactoryKey(k.Name) {
			keys = append(keys, k)
		}
	}
	s.Keys = keys
	clear(s.idx)
	for i, k := range s.Keys {
		s.idx[k.Name] = i
	}
}

// mergeOverlays returns base with every overlay applied in order: an
// overlay's [DEFAULT] keys replace or extend base's, a section of a new name
// is added, and a section of an existing name has its keys replaced or
// extended, after losing all its factory keys when the overlay's section
// sets one. Keys and new sections are marked with the overlay's path, and
// %(here)s and %(__file__)s in an overlay's values are bound to the overlay
// (unless the overlay itself defines that name in the section or its
// [DEFAULT]). base and the overlays are not modified.
func mergeOverlays(base *source, overlays []*source) *source {
	out := &source{Path: base.Path, Default: base.Default.clone()}
	byName := map[string]*srcSection{}
	for _, s := range base.Sections {
		c := s.clone()
		out.Sections = append(out.Sections, c)
		byName[c.Name] = c
	}
	for _, ov := range overlays {
		if !slices.Contains(out.overlays, ov.Path) {
			out.overlays = append(out.overlays, ov.Path)
		}
		bind := func(sec *srcSection, k srcKey) srcKey {
			k.File = ov.Path
			k.Value = bindHere(k.Value, ov, sec)
			return k
		}
		for _, k := range ov.Default.Keys {
			out.Default.setKey(bind(nil, k))
		}
		for _, s := range ov.Sections {
			dst, ok := byName[s.Name]
			if !ok {
				dst = &srcSection{Name: s.Name, Line: s.Line, File: ov.Path, idx: map[string]int{}}
				out.Sections = append(out.Sections, dst)
				byName[s.Name] = dst
			} else if slices.ContainsFunc(s.Keys, func(k srcKey) bool { return isFactoryKey(k.Name) }) {
				dst.dropFactoryKeys()
			}
			for _, k := range s.Keys {
				dst.setKey(bind(s, k))
			}
		}
	}
	return out
}

// bindHere replaces %(here)s and %(__file__)s in raw by the directory and
// path of ov (escaped for interpolation), leaving "%%" alone, unless ov
// defines that name itself in sec (nil for [DEFAULT]) or its [DEFAULT].
func bindHere(raw string, ov *source, sec *srcSection) string {
	if !strings.Contains(raw, "%(") {
		return raw
	}
	defines := func(name string) bool {
		if _, ok := ov.Default.lookup(name); ok {
			return true
		}
		if sec != nil {
			if _, ok := sec.lookup(name); ok {
				return true
			}
		}
		return false
	}
	subst := map[string]string{}
	if !defines("here") {
		subst["%(here)s"] = strings.ReplaceAll(filepath.Dir(ov.Path), "%", "%%")
	}
	if !defines("__file__") {
		subst["%(__file__)s"] = strings.ReplaceAll(ov.Path, "%", "%%")
	}
	if len(subst) == 0 {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); {
		if raw[i] != '%' {
			b.WriteByte(raw[i])
			i++
			continue
		}
		if strings.HasPrefix(raw[i:], "%%") {
			b.WriteString("%%")
			i += 2
			continue
		}
		replaced := false
		for ref, v := range subst {
			if strings.HasPrefix(raw[i:], ref) {
				b.WriteString(v)
				i += len(ref)
				replaced = true
				break
			}
		}
		if !replaced {
			b.WriteByte('%')
			i++
		}
	}
	return b.String()
}

// hasOverlay reports whether file is one of the overlays merged into src.
func (src *source) hasOverlay(file string) bool {
	return file != "" && slices.Contains(src.overlays, file)
}

// fileOf returns the file that wrote a section or key: file, or the
// loader's own file when file is empty.
func (l *cfgLoader) fileOf(file string) string {
	if file == "" {
		return l.path
	}
	return file
}

// relDir is the directory a config: reference written at rf is relative
// to: the overlay's when an overlay wrote it, else the loader's file's.
func (l *cfgLoader) relDir(rf ref) string {
	if l.src.hasOverlay(rf.pos.File) {
		return filepath.Dir(rf.pos.File)
	}
	return l.dir
}

// sameConfig reports whether a position in file lies in the configuration
// l reads: l's file or one of the overlays merged into it.
func (l *cfgLoader) sameConfig(file string) bool {
	return file == l.path || l.src.hasOverlay(file)
}

// applyOverlays reads and parses every file of r.opts.Overlays and merges
// them over base, the top-level file. A file that cannot be read or parsed
// is reported (positioned in that file) and makes the result nil.
func (r *resolver) applyOverlays(base *source) *source {
	var ovs []*source
	ok := true
	for _, p := range r.opts.Overlays {
		abs, err := filepath.Abs(p)
		if err != nil {
			r.fail(Errorf(Pos{File: p}, "", "", "OSError", "%v", err))
			ok = false
			continue
		}
		r.opens++
		if dir := filepath.Dir(abs); !slices.Contains(r.dirs, dir) {
			r.dirs = append(r.dirs, dir)
		}
		data, err := r.readFile(abs)
		if err != nil {
			class, msg := "OSError", err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				class, msg = "FileNotFoundError", "[Errno 2] No such file or directory: "+pyRepr(abs)
			}
			r.fail(Errorf(Pos{File: abs}, "", "", class, "%s", msg))
			ok = false
			continue
		}
		src, errs := parseSource(abs, data)
		r.errs = append(r.errs, errs...)
		if src == nil {
			ok = false
			continue
		}
		ovs = append(ovs, src)
	}
	if !ok {
		return nil
	}
	return mergeOverlays(base, ovs)
}
