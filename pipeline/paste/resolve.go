package paste

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Limits that keep a load bounded whatever the input.
const (
	maxDepth    = 64       // nested references (use, pipeline, next, filter-with, routes, config:)
	maxOpens    = 128      // config files opened, counting re-reads
	maxContexts = 10000    // contexts built per load (a section reached twice counts twice)
	maxWork     = 64 << 20 // bytes of option values read per load
)

// objType is Paste's object type: what a name is resolved as.
type objType int

const (
	otApp objType = iota
	otFilter
	otServer
)

// prefixGroups are the section prefixes each object type searches, in
// groups; inside a group the first alias with a match wins (§3, §4).
var prefixGroups = [...][][]string{
	otApp:    {{"app", "application"}, {"composite", "composit"}, {"pipeline"}, {"filter-app"}},
	otFilter: {{"filter"}},
	otServer: {{"server"}},
}

// protoGroups are the protocols of each object type, in groups (§7.1).
var protoGroups = [...][][]Protocol{
	otApp:    {{ProtoApp}, {ProtoComposite}, {protoComposit}},
	otFilter: {{ProtoFilter, ProtoFilterApp}},
	otServer: {{ProtoServer, ProtoRunner}},
}

// protoComposit is the misspelt alias Paste also accepts.
const protoComposit Protocol = "paste.composit_factory"

// allPrefixes lists every prefix Paste knows, for "exists under another
// prefix" hints.
var allPrefixes = []string{"app", "application", "composite", "composit", "pipeline", "filter-app", "filter", "server"}

func prefixList(t objType) string {
	var q []string
	for _, g := range prefixGroups[t] {
		for _, p := range g {
			q = append(q, pyRepr(p))
		}
	}
	return strings.Join(q, " or ")
}

// ctxKind is the kind of a Paste loader context.
type ctxKind int

const (
	ckPlain      ctxKind = iota // a factory with its configuration
	ckPipeline                  // app plus filters
	ckFilterApp                 // filter plus next
	ckFilterWith                // filter wrapped around next
)

// ctx is Paste's LoaderContext: built for every reference first, created
// (turned into nodes) afterwards.
type ctx struct {
	kind     ctxKind
	ot       objType // the object type it was requested as
	factory  string
	protocol Protocol
	urlmap   bool
	global   *conf
	local    *conf
	loader   *cfgLoader // the file a composite resolves its children in

	app     *ctx   // pipeline
	filters []*ctx // pipeline
	next    *ctx   // filter-app, filter-with
	filter  *ctx   // filter-app, filter-with

	section string
	pos     Pos
	keyPos  map[string]Pos
	path    []string
	from    ref // where it was referenced (the start of a use chain)
}

// ref is where a name was written, for errors and node paths.
type ref struct {
	pos     Pos
	section string
	key     string
	path    []string
}

// frame is one entry of the resolution stack, for cycle detection.
type frame struct {
	file    string
	section string
}

// cfgLoader is Paste's ConfigLoader: one opening of a file, with its
// defaults table (here, __file__, [DEFAULT], injected globals).
type cfgLoader struct {
	src      *source
	path     string // absolute
	dir      string
	defaults *conf           // raw values
	literal  map[string]bool // loader-provided here/__file__: used verbatim
	defOrig  map[string]string
	defPos   map[string]Pos
	interp   *conf // interpolated defaults (D_F), computed once
	interpOK bool
}

// resolver holds the state of one load.
type resolver struct {
	opts     Options
	errs     List
	warns    []*Warning
	files    []string
	dirs     []string
	cache    map[string]*source
	opens    int
	stack    []frame // sections whose contexts are being built
	creating []frame // urlmap composites being created
	contexts int
	work     int
	aborted  bool // a global limit was hit: stop resolving, report once
	top      string
}

func (r *resolver) fail(e *Error) { r.errs = append(r.errs, e) }

func (r *resolver) failAt(rf ref, class, format string, args ...any) {
	r.fail(Errorf(rf.pos, rf.section, rf.key, class, format, args...))
}

func (r *resolver) warn(pos Pos, format string, args ...any) {
	r.warns = append(r.warns, Errorf(pos, "", "", "Warning", format, args...))
}

func (r *resolver) readFile(name string) ([]byte, error) {
	if r.opts.ReadFile != nil {
		return r.opts.ReadFile(name)
	}
	fi, err := os.Stat(name)
	if err == nil && fi.Size() > maxFileSize {
		return nil, fmt.Errorf("file is %d bytes; the limit is %d", fi.Size(), maxFileSize)
	}
	return os.ReadFile(name)
}

// open reads and parses the file at abs (an absolute path) and returns a
// fresh loader for it, with inject (may be nil) added to its defaults
// without overwriting.
func (r *resolver) open(abs string, inject *conf, rf ref) *cfgLoader {
	r.opens++
	if r.opens > maxOpens {
		r.failAt(rf, "Unsupported", "more than %d configuration files opened; is there an include loop?", maxOpens)
		return nil
	}
	dir := filepath.Dir(abs)
	if !slices.Contains(r.dirs, dir) {
		r.dirs = append(r.dirs, dir)
	}
	src, ok := r.cache[abs]
	if !ok {
		data, err := r.readFile(abs)
		if err != nil {
			class := "OSError"
			msg := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				class = "FileNotFoundError"
				msg = "[Errno 2] No such file or directory: " + pyRepr(abs)
			}
			r.failAt(rf, class, "%s", msg)
			r.cache[abs] = nil
			return nil
		}
		var errs List
		src, errs = parseSource(abs, data)
		r.errs = append(r.errs, errs...)
		if src != nil && abs == r.top && len(r.opts.Overlays) > 0 {
			src = r.applyOverlays(src)
		}
		r.cache[abs] = src
		if src != nil && !slices.Contains(r.files, abs) {
			r.files = append(r.files, abs)
			for _, f := range src.overlays {
				if !slices.Contains(r.files, f) {
					r.files = append(r.files, f)
				}
			}
			for _, k := range src.Default.Keys {
				if strings.HasPrefix(k.Name, "set ") || strings.HasPrefix(k.Name, "get ") {
					file := abs
					if k.File != "" {
						file = k.File
					}
					r.warn(Pos{File: file, Line: k.Line}, "%s in [DEFAULT] acts in every section, and global_conf also gets a key %s",
						pyRepr(k.Name), pyRepr(k.Name))
				}
			}
		}
	}
	if src == nil {
		return nil
	}
	l := &cfgLoader{
		src: src, path: abs, dir: dir,
		defaults: newConf(),
		literal:  map[string]bool{"here": true, "__file__": true},
		defOrig:  map[string]string{},
		defPos:   map[string]Pos{},
	}
	l.defaults.set("here", dir)
	l.defaults.set("__file__", abs)
	for _, k := range src.Default.Keys {
		l.defaults.set(k.Name, k.Value)
		delete(l.literal, k.Name)
		l.defOrig[k.Name] = "DEFAULT"
		l.defPos[k.Name] = Pos{File: l.fileOf(k.File), Line: k.Line}
	}
	if inject != nil {
		for _, k := range inject.keys {
			if l.defaults.has(k) {
				continue
			}
			l.defaults.set(k, inject.m[k])
			l.defOrig[k] = "global"
			l.defPos[k] = rf.pos
		}
	}
	return l
}

// defaultsInterp returns D_F: every default interpolated against the
// defaults (§5.1). Errors are reported once per loader; a failed value is
// kept raw so that resolution can go on and find more problems.
func (r *resolver) defaultsInterp(l *cfgLoader) *conf {
	if l.interpOK {
		return l.interp
	}
	l.interpOK = true
	out := newConf()
	lookup := func(name string) (string, bool, bool) {
		v, ok := l.defaults.get(name)
		return v, l.literal[name], ok
	}
	for _, k := range l.defaults.keys {
		raw := l.defaults.m[k]
		if l.literal[k] {
			out.set(k, raw)
			continue
		}
		v, err := interpolate(raw, lookup)
		if err != nil {
			if l.defOrig[k] == "global" {
				err = &interpError{Class: errClass(err), Msg: fmt.Sprintf(
					"global %s passed to %s is interpolated again as one of its defaults: %v", pyRepr(k), l.path, err)}
				r.interpFail(l, l.defPos[k], "", "", err)
			} else {
				r.interpFail(l, l.defPos[k], "DEFAULT", k, err)
			}
			v = raw
		}
		out.set(k, v)
	}
	l.interp = out
	return out
}

func (r *resolver) interpFail(l *cfgLoader, pos Pos, section, key string, err error) {
	class := "InterpolationError"
	var ie *interpError
	if errors.As(err, &ie) {
		class = ie.Class
	}
	if pos.File == "" {
		pos = Pos{File: l.path}
	}
	msg := err.Error()
	if ie != nil && ie.Class == "InterpolationMissingOptionError" {
		msg += r.missingHint(l, section, ie.Name)
	}
	r.fail(&Error{Pos: pos, Section: section, Key: key, Class: class, Err: errors.New(msg)})
}

func errClass(err error) string {
	var ie *interpError
	if errors.As(err, &ie) {
		return ie.Class
	}
	return "InterpolationError"
}

// missingHint suggests names for an unknown interpolation key.
func (r *resolver) missingHint(l *cfgLoader, section, name string) string {
	cands := append([]string(nil), l.defaults.keys...)
	if s := l.section(section); s != nil {
		for _, k := range s.Keys {
			cands = append(cands, k.Name)
		}
	}
	return didYouMean(suggest(name, cands))
}

func (l *cfgLoader) section(name string) *srcSection {
	for _, s := range l.src.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// isAbsoluteURI is Paste's test for a URI (the regexp ^[a-zA-Z]+:): one or
// more ASCII letters followed by ':'.
func isAbsoluteURI(s string) bool {
	i := 0
	for i < len(s) && ('a' <= s[i] && s[i] <= 'z' || 'A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	return i > 0 && i < len(s) && s[i] == ':'
}

// findSection is find_config_section (§4): the one section of a prefix
// group of t whose name (stripped) is name.
func (r *resolver) findSection(l *cfgLoader, t objType, name string, rf ref) *srcSection {
	var found []*srcSection
	for _, group := range prefixGroups[t] {
		for i, prefix := range group {
			var hits []*srcSection
			for _, s := range l.src.Sections {
				if rest, ok := strings.CutPrefix(s.Name, prefix+":"); ok && strings.TrimSpace(rest) == name {
					hits = append(hits, s)
				}
			}
			if len(hits) > 0 {
				found = append(found, hits...)
				for _, other := range group[i+1:] {
					for _, s := range l.src.Sections {
						if rest, ok := strings.CutPrefix(s.Name, other+":"); ok && strings.TrimSpace(rest) == name {
							r.warn(Pos{File: l.fileOf(s.File), Line: s.Line}, "section [%s] is ignored because [%s] has the same name and wins", s.Name, hits[0].Name)
						}
					}
				}
				break
			}
		}
	}
	switch {
	case len(found) == 0:
		r.failAt(rf, "LookupError", "No section %s (prefixed by %s) found%s%s",
			pyRepr(name), prefixList(t), inConfig(rf, l), r.sectionHint(l, t, name))
		return nil
	case len(found) > 1:
		names := make([]string, len(found))
		lines := make([]string, len(found))
		for i, s := range found {
			names[i] = s.Name
			lines[i] = fmt.Sprintf("[%s] at line %d", s.Name, s.Line)
			if s.File != "" {
				lines[i] = fmt.Sprintf("[%s] at %s:%d", s.Name, s.File, s.Line)
			}
		}
		if rf.pos.Line == 0 {
			rf.pos = Pos{File: l.fileOf(found[0].File), Line: found[0].Line}
		}
		r.failAt(rf, "LookupError", "Ambiguous section names %s for section %s (prefixed by %s) found%s: %s; rename all but one",
			pyReprList(names), pyRepr(name), prefixList(t), inConfig(rf, l), strings.Join(lines, ", "))
		return nil
	}
	return found[0]
}

// sectionHint explains a missing section: the same name under another
// prefix, nearby names, an unreachable bare section, a case mismatch.
func (r *resolver) sectionHint(l *cfgLoader, t objType, name string) string {
	var hints []string
	want := map[string]bool{}
	for _, g := range prefixGroups[t] {
		for _, p := range g {
			want[p] = true
		}
	}
	var cands []string
	for _, s := range l.src.Sections {
		prefix, rest, ok := strings.Cut(s.Name, ":")
		if !ok {
			if s.Name == name || (name == "main" && want[s.Name]) {
				hints = append(hints, fmt.Sprintf("a bare [%s] section is never found; name it [%s:%s]", s.Name, s.Name, name))
			}
			continue
		}
		rest = strings.TrimSpace(rest)
		if want[prefix] {
			cands = append(cands, rest)
			continue
		}
		if rest == name && slices.Contains(allPrefixes, prefix) {
			hints = append(hints, fmt.Sprintf("a [%s] exists but %s was needed", s.Name, article(t)))
		} else if rest == name && want[strings.ToLower(strings.TrimSpace(prefix))] {
			hints = append(hints, fmt.Sprintf("[%s] is not recognised: prefixes are lower-case and must not be indented", s.Name))
		}
	}
	if len(hints) == 0 {
		if s := suggest(name, cands); len(s) > 0 {
			return didYouMean(s)
		}
		return ""
	}
	return "; " + strings.Join(hints, "; ")
}

// inConfig is Paste's " in config FILE", left out when the error is
// already positioned in that file.
func inConfig(rf ref, l *cfgLoader) string {
	if l.sameConfig(rf.pos.File) {
		return ""
	}
	return " in config " + l.path
}

func article(t objType) string {
	switch t {
	case otFilter:
		return "a filter"
	case otServer:
		return "a server"
	}
	return "an application"
}

// getContext is ConfigLoader.get_context: resolve name as t in the file of
// l with incoming globals gin (nil at top level without caller globals).
func (r *resolver) getContext(l *cfgLoader, t objType, name string, gin *conf, rf ref) *ctx {
	if r.aborted {
		return nil
	}
	if isAbsoluteURI(name) {
		return r.loadContext(t, name, l.relDir(rf), gin, rf)
	}
	if strings.HasPrefix(name, "#") || strings.HasPrefix(name, ";") {
		r.failAt(rf, "LookupError", "No section %s (prefixed by %s) found%s; inline comments are not supported: put the comment on its own line",
			pyRepr(name), prefixList(t), inConfig(rf, l))
		return nil
	}
	sec := r.findSection(l, t, name, rf)
	if sec == nil {
		return nil
	}
	fr := frame{file: l.path, section: sec.Name}
	for i, f := range r.stack {
		if f == fr {
			var p []string
			for _, g := range r.stack[i:] {
				p = append(p, r.frameName(g))
			}
			p = append(p, r.frameName(fr))
			r.failAt(rf, "Cycle", "reference cycle: %s", strings.Join(p, " -> "))
			return nil
		}
	}
	if len(r.stack) >= maxDepth {
		r.failAt(rf, "RecursionError", "references nested more than %d deep", maxDepth)
		return nil
	}
	r.contexts++
	for _, k := range sec.Keys {
		r.work += len(k.Value)
	}
	if r.contexts > maxContexts || r.work > maxWork {
		r.aborted = true
		r.failAt(rf, "Unsupported", "the configuration expands to more than %d references or %d MiB of values; stopped here",
			maxContexts, maxWork>>20)
		return nil
	}
	r.stack = append(r.stack, fr)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()

	secPos := Pos{File: l.fileOf(sec.File), Line: sec.Line}
	path := append(slices.Clip(rf.path), sec.Name)
	keyRef := func(k string) ref {
		p := secPos
		if sk, ok := sec.lookup(k); ok {
			p = Pos{File: l.fileOf(sk.File), Line: sk.Line}
		} else if dp, ok := l.defPos[k]; ok {
			p = dp
		}
		return ref{pos: p, section: sec.Name, key: k, path: path}
	}

	defaults := r.defaultsInterp(l)
	g := defaults.copy()
	if gin != nil {
		g.update(gin)
	}
	local := newConf()
	additions := newConf()
	type getEntry struct{ local, global string }
	var gets []getEntry
	keyPos := map[string]Pos{}

	// The option list: the section's keys, then every default it lacks.
	lookup := func(k string) (string, bool, bool) {
		if sk, ok := sec.lookup(k); ok {
			return sk.Value, false, true
		}
		v, ok := l.defaults.get(k)
		return v, l.literal[k], ok
	}
	read := func(k, raw string) (string, bool) {
		v, err := interpolate(raw, lookup)
		if err != nil {
			r.interpFail(l, keyRef(k).pos, sec.Name, k, err)
			return raw, false
		}
		return v, true
	}
	type opt struct{ name, raw string }
	opts := make([]opt, 0, len(sec.Keys)+l.defaults.len())
	for _, k := range sec.Keys {
		opts = append(opts, opt{k.Name, k.Value})
	}
	for _, k := range l.defaults.keys {
		if _, ok := sec.lookup(k); !ok {
			opts = append(opts, opt{k, l.defaults.m[k]})
		}
	}
	for _, o := range opts {
		switch {
		case strings.HasPrefix(o.name, "set "):
			n := strings.TrimSpace(o.name[4:])
			v, _ := read(o.name, o.raw)
			g.set(n, v)
			additions.set(n, v)
			keyPos[n] = keyRef(o.name).pos
		case strings.HasPrefix(o.name, "get "):
			n := strings.TrimSpace(o.name[4:])
			v, _ := read(o.name, o.raw)
			gets = append(gets, getEntry{n, v})
			keyPos[n] = keyRef(o.name).pos
		case l.defaults.has(o.name):
			if sk, ok := sec.lookup(o.name); ok {
				p := Pos{File: l.fileOf(sk.File), Line: sk.Line}
				if l.defOrig[o.name] == "DEFAULT" {
					r.warn(p, "key %s in [%s] ignored because it is defined in [DEFAULT]; use 'set %s = …'", pyRepr(o.name), sec.Name, o.name)
				} else if l.defOrig[o.name] == "global" {
					r.warn(p, "key %s in [%s] ignored because a global of that name is passed in; use 'set %s = …'", pyRepr(o.name), sec.Name, o.name)
				} else {
					r.warn(p, "key %s in [%s] ignored because %s is a default of every section; use 'set %s = …'", pyRepr(o.name), sec.Name, o.name, o.name)
				}
			}
		default:
			v, _ := read(o.name, o.raw)
			local.set(o.name, v)
			keyPos[o.name] = keyRef(o.name).pos
		}
	}
	for _, ge := range gets {
		v, ok := g.get(ge.global)
		if !ok {
			rf := keyRef("get " + ge.local)
			if _, ok := sec.lookup("get " + ge.local); !ok {
				// written with extra spaces: find the real key
				for _, k := range sec.Keys {
					if strings.HasPrefix(k.Name, "get ") && strings.TrimSpace(k.Name[4:]) == ge.local {
						rf = keyRef(k.Name)
					}
				}
			}
			r.failAt(rf, "KeyError", "no global %s to get%s", pyRepr(ge.global), didYouMean(suggest(ge.global, g.keys)))
			continue
		}
		local.set(ge.local, v)
	}
	filterWith, hasFW := "", false
	if t == otApp || t == otFilter {
		filterWith, hasFW = local.pop("filter-with")
	}
	if req, ok := local.pop("require"); ok {
		for _, spec := range strings.Fields(req) {
			if !isDistName(spec) {
				r.failAt(keyRef("require"), "PackageNotFoundError", "No package metadata was found for %s; 'require' takes distribution names only", spec)
			}
		}
	}
	var c *ctx
	switch {
	case strings.HasPrefix(sec.Name, "filter-app:"):
		c = r.filterAppContext(l, sec, g, local, additions, keyRef)
	case strings.HasPrefix(sec.Name, "pipeline:"):
		c = r.pipelineContext(l, sec, g, local, keyRef)
	case local.has("use"):
		c = r.contextFromUse(l, t, sec, g, local, additions, keyRef)
	default:
		c = r.contextFromExplicit(l, t, sec, g, local, keyRef)
	}
	if c != nil {
		c.section, c.pos, c.path, c.from = sec.Name, secPos, path, rf
		if c.keyPos == nil {
			c.keyPos = keyPos
		} else {
			for k, p := range keyPos {
				c.keyPos[k] = p
			}
		}
	}
	if hasFW {
		fw := &ctx{kind: ckFilterWith, ot: t, global: g, local: local, loader: l,
			section: sec.Name, pos: secPos, keyPos: keyPos, path: path, from: rf}
		fw.filter = r.getContext(l, otFilter, filterWith, g, keyRef("filter-with"))
		fw.next = c
		if c == nil || fw.filter == nil {
			return nil
		}
		return fw
	}
	return c
}

func (r *resolver) frameName(f frame) string {
	if f.file == r.top {
		return f.section
	}
	rel, err := filepath.Rel(filepath.Dir(r.top), f.file)
	if err != nil {
		rel = f.file
	}
	return rel + "#" + f.section
}

func (r *resolver) filterAppContext(l *cfgLoader, sec *srcSection, g, local, additions *conf, keyRef func(string) ref) *ctx {
	next, ok := local.pop("next")
	if !ok {
		r.failAt(ref{pos: Pos{File: l.fileOf(sec.File), Line: sec.Line}, section: sec.Name}, "LookupError",
			"The [%s] section is missing a 'next' setting", sec.Name)
		return nil
	}
	c := &ctx{kind: ckFilterApp, ot: otApp, global: g, local: local, loader: l}
	c.next = r.getContext(l, otApp, next, g, keyRef("next"))
	if local.has("use") {
		c.filter = r.contextFromUse(l, otFilter, sec, g, local, additions, keyRef)
	} else {
		c.filter = r.contextFromExplicit(l, otFilter, sec, g, local, keyRef)
	}
	if c.next == nil || c.filter == nil {
		return nil
	}
	return c
}

func (r *resolver) pipelineContext(l *cfgLoader, sec *srcSection, g, local *conf, keyRef func(string) ref) *ctx {
	hdr := ref{pos: Pos{File: l.fileOf(sec.File), Line: sec.Line}, section: sec.Name}
	pl, ok := local.pop("pipeline")
	if !ok {
		r.failAt(hdr, "LookupError", "The [%s] section is missing a 'pipeline' setting", sec.Name)
		return nil
	}
	bad := false
	if local.len() > 0 {
		rf := keyRef(local.keys[0])
		r.failAt(rf, "LookupError", "The [%s] pipeline section has extra (disallowed) settings: %s; a pipeline section may only have 'pipeline' and 'set' lines",
			sec.Name, strings.Join(local.keys, ", "))
		bad = true
	}
	names := strings.Fields(pl)
	for i, n := range names {
		if n[0] == '#' || n[0] == ';' {
			r.failAt(keyRef("pipeline"), "LookupError",
				"inline comments are not supported: Paste would look up %s as sections; put the comment on its own line",
				pyRepr(strings.Join(names[i:], " ")))
			return nil
		}
	}
	if len(names) == 0 {
		r.failAt(keyRef("pipeline"), "IndexError", "empty pipeline: list the filters and then the application")
		return nil
	}
	c := &ctx{kind: ckPipeline, ot: otApp, global: g, local: local, loader: l}
	rf := keyRef("pipeline")
	c.app = r.getContext(l, otApp, names[len(names)-1], g, rf)
	ok = c.app != nil
	for _, n := range names[:len(names)-1] {
		f := r.getContext(l, otFilter, n, g, rf)
		ok = ok && f != nil
		c.filters = append(c.filters, f)
	}
	if !ok || bad {
		return nil
	}
	return c
}

func (r *resolver) contextFromUse(l *cfgLoader, t objType, sec *srcSection, g, local, additions *conf, keyRef func(string) ref) *ctx {
	use, _ := local.pop("use")
	target := r.getContext(l, t, use, g, keyRef("use"))
	if target == nil {
		return nil
	}
	prefix, _, _ := strings.Cut(sec.Name, ":")
	mergeUse(target, g, local, additions, l)
	if target.protocol == "" && target.kind == ckPlain {
		switch prefix {
		case "app", "application":
			target.protocol = ProtoApp
		case "composite", "composit":
			target.protocol = protoComposit
		case "filter-app":
			// Deviation (FORMAT.md §9.4): Paste would say
			// paste.filter-app_factory and fail; it is a filter factory.
			target.protocol = ProtoFilter
		default:
			target.protocol = Protocol("paste." + prefix + "_factory")
		}
	}
	if target.kind == ckPipeline && local.len() > 0 {
		r.warn(keyRef(local.keys[0]).pos, "settings %s of [%s] are ignored: it uses a pipeline, which takes no settings",
			strings.Join(local.keys, ", "), sec.Name)
	}
	return target
}

// mergeUse applies a referring section's additions and locals to the
// context it uses (§5.5). Deviations: the loader is replaced only when the
// target has none (so a composite resolves its children in the file that
// defines it, FORMAT.md §9.3), and a filter-with target passes them on to
// the factory it wraps (§9.2).
func mergeUse(target *ctx, g, local, additions *conf, l *cfgLoader) {
	target.global.update(additions)
	target.local.update(local)
	if f, ok := g.get("__file__"); ok {
		target.global.set("__file__", f)
	}
	if target.loader == nil {
		target.loader = l
	}
	if target.kind == ckFilterWith && target.next != nil {
		mergeUse(target.next, g, local, additions, l)
	}
}

// entryPointRe is importlib.metadata's EntryPoint.pattern. It is compiled
// on first use: its Unicode classes make it the most expensive regexp of
// the package to compile (~170 KB), and only explicit protocol lines
// (paste.app_factory = module:object) need it, so a start-up that does not
// read one does not pay for it.
var entryPointRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([\p{L}\p{N}_.]+)\s*(:\s*([\p{L}\p{N}_.]+)\s*)?((\[.*\])\s*)?$`)
})

func (r *resolver) contextFromExplicit(l *cfgLoader, t objType, sec *srcSection, g, local *conf, keyRef func(string) ref) *ctx {
	type found struct {
		proto Protocol
		value string
	}
	var possible []found
	for _, group := range protoGroups[t] {
		for i, p := range group {
			if v, ok := local.get(string(p)); ok {
				possible = append(possible, found{p, v})
				for _, other := range group[i+1:] {
					if local.has(string(other)) {
						r.warn(keyRef(string(other)).pos, "%s in [%s] is not used because %s is given; it is passed to the factory as a setting", other, sec.Name, p)
					}
				}
				break
			}
		}
	}
	hdr := ref{pos: Pos{File: l.fileOf(sec.File), Line: sec.Line}, section: sec.Name}
	if len(possible) > 1 {
		var parts []string
		for _, f := range possible {
			parts = append(parts, "("+pyRepr(string(f.proto))+", "+pyRepr(f.value)+")")
		}
		r.failAt(hdr, "LookupError", "Multiple protocols given in section %s: [%s]", pyRepr(sec.Name), strings.Join(parts, ", "))
		return nil
	}
	if len(possible) == 0 {
		hint := "; add 'use = egg:DIST#NAME' or a "
		var q []string
		for _, g := range protoGroups[t] {
			if g[0] != protoComposit {
				q = append(q, string(g[0]))
			}
		}
		hint += strings.Join(q, " or ") + " line"
		for _, other := range []objType{otApp, otFilter, otServer} {
			if other == t {
				continue
			}
			for _, gr := range protoGroups[other] {
				for _, p := range gr {
					if local.has(string(p)) {
						hint = fmt.Sprintf("; %s names %s factory, but this section is looked up as %s", p, article(other), article(t))
					}
				}
			}
		}
		r.failAt(hdr, "LookupError", "No loader given in section %s%s", pyRepr(sec.Name), hint)
		return nil
	}
	f := possible[0]
	local.del(string(f.proto))
	m := entryPointRe().FindStringSubmatch(f.value)
	krf := keyRef(string(f.proto))
	if m == nil {
		r.failAt(krf, "AttributeError", "invalid object reference %s; expected 'package.module:object.attribute'", pyRepr(f.value))
		return nil
	}
	if strings.HasPrefix(m[1], ".") {
		r.failAt(krf, "TypeError", "the 'package' argument is required to perform a relative import for %s", pyRepr(m[1]))
		return nil
	}
	dotted := m[1]
	if m[3] != "" {
		dotted += ":" + m[3]
	}
	return &ctx{kind: ckPlain, ot: t, factory: f.value, protocol: f.proto, urlmap: isURLMapRef(dotted),
		global: g, local: local, loader: l}
}

// isURLMapRef reports whether dotted, with its whitespace removed, names
// Paste's urlmap factory. Whitespace is what the regexp \s matches: tab,
// newline, form feed, carriage return and space.
func isURLMapRef(dotted string) bool {
	const want = "paste.urlmap:urlmap_factory"
	n := 0
	for i := 0; i < len(dotted); i++ {
		switch c := dotted[i]; c {
		case '\t', '\n', '\f', '\r', ' ':
		default:
			if n >= len(want) || c != want[n] {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// isDistName reports whether s is what the permissive registry accepts as
// a distribution name (the regexp ^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$):
// ASCII letters, digits, '.', '_' and '-', starting and ending with a
// letter or digit.
func isDistName(s string) bool {
	if s == "" || !isASCIIAlnum(s[0]) || !isASCIIAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isASCIIAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// foldDistName replaces every run of '-', '_' and '.' in s by one '-', as
// the regexp [-_.]+ does in Python's name normalisation.
func foldDistName(s string) string {
	var b strings.Builder
	sep := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '-', '_', '.':
			sep = true
		default:
			if sep {
				b.WriteByte('-')
				sep = false
			}
			b.WriteByte(c)
		}
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// loadContext is Paste's loadcontext for a URI reached from a file whose
// directory is relTo.
func (r *resolver) loadContext(t objType, uri, relTo string, gin *conf, rf ref) *ctx {
	name, hasName := "", false
	if i := strings.IndexByte(uri, '#'); i >= 0 {
		uri, name, hasName = uri[:i], uri[i+1:], true
	}
	if !hasName {
		name = "main"
	}
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok {
		r.failAt(rf, "LookupError", "URI has no scheme: %s", pyRepr(uri))
		return nil
	}
	switch strings.ToLower(scheme) {
	case "config":
		return r.loadConfig(t, rest, name, relTo, gin, rf)
	case "egg":
		return r.eggContext(t, rest, name, gin, rf)
	case "call":
		return r.callContext(t, rest, gin, rf)
	}
	r.failAt(rf, "LookupError", "URI scheme not known: %s (from config, egg, call)%s", pyRepr(strings.ToLower(scheme)),
		"; a section name cannot contain ':'")
	return nil
}

func (r *resolver) loadConfig(t objType, p, name, relTo string, gin *conf, rf ref) *ctx {
	isAbs := strings.HasPrefix(p, "/")
	p = strings.ReplaceAll(p, `\`, "/")
	if dec, err := url.PathUnescape(p); err == nil {
		p = dec
	}
	p = strings.TrimSpace(p)
	if !isAbs {
		if relTo == "" {
			r.failAt(rf, "ValueError", "Cannot resolve relative uri %s; no relative_to keyword argument given", pyRepr("config:"+p))
			return nil
		}
		p = relTo + "/" + p
	}
	abs := filepath.Clean(p)
	var inject *conf
	if gin != nil && gin.len() > 0 {
		inject = gin
	}
	l := r.open(abs, inject, rf)
	if l == nil {
		return nil
	}
	return r.getContext(l, t, name, gin, rf)
}

func (r *resolver) eggContext(t objType, spec, name string, gin *conf, rf ref) *ctx {
	if isAbsoluteURI(name) {
		return r.loadContext(t, name, "", gin, rf)
	}
	if spec == "" {
		r.failAt(rf, "ValueError", "A distribution name is required.")
		return nil
	}
	if !isDistName(spec) {
		hint := ""
		if strings.ContainsAny(spec, "=<>!~") {
			hint = "; version requirements are not supported, give the name only"
		}
		r.failAt(rf, "PackageNotFoundError", "No package metadata was found for %s%s", spec, hint)
		return nil
	}
	isPaste := strings.ToLower(foldDistName(spec)) == "paste" && name == "urlmap"
	var proto Protocol
	for _, group := range protoGroups[t] {
		for _, p := range group {
			if (isPaste && p == ProtoComposite) || (!isPaste && (p == ProtoApp || p == ProtoFilter || p == ProtoServer)) {
				proto = p
				break
			}
		}
		if proto != "" {
			break
		}
	}
	if proto == "" {
		var all []string
		for _, g := range protoGroups[t] {
			for _, p := range g {
				all = append(all, string(p))
			}
		}
		r.failAt(rf, "LookupError", "Entry point %s not found in egg %s (protocols: %s; entry_points: ); it is not %s",
			pyRepr(name), pyRepr(spec), strings.Join(all, ", "), article(t))
		return nil
	}
	g := gin
	if g == nil || g.len() == 0 {
		g = newConf()
	}
	return &ctx{kind: ckPlain, ot: t, factory: "egg:" + spec + "#" + name, protocol: proto, urlmap: isPaste,
		global: g, local: newConf(), section: rf.section, pos: rf.pos, path: append(slices.Clip(rf.path), "egg:"+spec+"#"+name)}
}

func (r *resolver) callContext(t objType, spec string, gin *conf, rf ref) *ctx {
	if !strings.Contains(spec, ":") {
		r.failAt(rf, "LookupError", "Configuration not in format module:function")
		return nil
	}
	mod, obj, _ := strings.Cut(spec, ":")
	if strings.Contains(obj, ":") {
		r.failAt(rf, "ValueError", "too many values to unpack (expected 2): %s has more than one ':'", pyRepr("call:"+spec))
		return nil
	}
	if mod == "" {
		r.failAt(rf, "ValueError", "Empty module name in %s", pyRepr("call:"+spec))
		return nil
	}
	parts := strings.Split(mod, ".")[1:]
	if obj != "" {
		parts = append(parts, obj)
	}
	for _, p := range parts {
		if strings.HasPrefix(p, "__") {
			r.failAt(rf, "AttributeError", "%s", p)
			return nil
		}
	}
	g := gin
	if g == nil || g.len() == 0 {
		g = newConf()
	}
	return &ctx{kind: ckPlain, ot: t, factory: "call:" + spec, urlmap: isURLMapRef(spec),
		global: g, local: newConf(), section: rf.section, pos: rf.pos, path: append(slices.Clip(rf.path), "call:"+spec)}
}
