// Package paste loads Paste Deploy configuration files (OpenStack's
// api-paste.ini) into a graph of factory references, with Python Paste
// Deploy 3.0.1's semantics, so that the daemon can compose the same
// pipeline Paste would, and dump it as the canonical JSON the differential
// tests compare with the real Paste (../../shared/compat/FORMAT.md).
//
// # What is implemented
//
// The INI layer is CPython's ConfigParser as Paste configures it:
// case-sensitive section and option names, "=" or ":" split at the first
// delimiter, full-line "#"/";" comments only (a "# ..." after a value is
// part of the value), indented continuation lines (each stripped, indented
// comment lines dropped, trailing empty lines dropped), strict duplicates,
// [DEFAULT] (repeatable) folded into every section. gopkg.in/ini.v1 is the
// tokenizer, wrapped in source.go with the options of ini-v1.md; a line
// pre-pass supplies every position and reports every structure error of a
// file at once (and a fuzz target checks that the two agree with a model of
// ConfigParser on everything the pre-pass accepts).
//
// Resolution follows paste.deploy.loadwsgi step by step:
//
//   - Section kinds app/application, composite/composit, pipeline,
//     filter-app (found for applications), filter, server; aliases of one
//     group: the first with a match wins (a warning names the loser); two
//     groups: "Ambiguous section names". The default name is main. A name
//     starting with letters and ":" is a URI: config:PATH[#NAME] (relative
//     to the including file, "\" to "/", percent-decoded, re-read at every
//     reference), egg:DIST[#ENTRY] and call:MODULE:OBJECT.
//   - global_conf is the file's defaults (here, __file__, [DEFAULT]
//     interpolated, injected incoming globals) overlaid with the incoming
//     globals; "set NAME" adds to it, "get NAME" copies from it after every
//     set; keys that are defaults are dropped from local_conf (with the
//     warning "key 'x' in [app:main] ignored because it is defined in
//     [DEFAULT]; use 'set x = …'"). filter-with (applications and filters)
//     and require are taken out; use merges additions, locals and __file__
//     into the target; a call: target takes its protocol from the section
//     prefix; explicit paste.*_factory keys pick the protocol per group.
//   - Interpolation is ours (interp.go): %(name)s looked up in the section,
//     then the defaults, case-sensitively, recursively up to 10 levels; %%
//     is %; any other % is an error. Every non-default option of a section
//     reached is read, so a bad value in an unused key is still an error.
//   - Pipelines (last element an application, resolved first, then the
//     filters left to right; the first filter is outermost; only pipeline
//     and set lines allowed), filter-app with next, filter-with stacking
//     outward, and Paste's urlmap (egg:Paste#urlmap, call: or explicit
//     paste.urlmap:urlmap_factory): not_found_app from local or global
//     conf, every other key a route "[domain HOST [port N]] [/PATH]",
//     normalised and ordered as Paste does, later duplicates replacing
//     earlier ones (with a warning). Any other composite is a leaf whose
//     children the builder resolves with Node.LoadApp and Node.LoadFilter.
//   - Factories are resolved permissively, as the oracle's stub registry
//     does (FORMAT.md §2): any well-formed egg, call: or object reference
//     is accepted; the builder decides whether the factory exists.
//
// # Layered configuration
//
// Options.Overlays (the daemon's repeated --config-file and --config-dir
// DIR/*.ini, in lexical order) are files applied, in order, over the
// top-level file before anything in it is resolved; Paste Deploy has no
// such thing. Precedence, lowest first: the top-level file, then each
// overlay in the order given, so the last file to set a key wins:
//
//   - [DEFAULT] keys of an overlay replace or extend the [DEFAULT] of the
//     files before it.
//   - A section of a new name is added as written.
//   - A section of a name already defined (the exact name, prefix
//     included) keeps the keys of the earlier files and gets the overlay's
//     keys on top, replaced in place or appended. If the overlay's section
//     sets a factory key (use, paste.app_factory, paste.filter_factory,
//     paste.composite_factory, paste.server_factory, paste.server_runner
//     ...), every factory key of the earlier section is dropped first, so
//     "use = egg:vietstack#proxy" swaps a project app for the proxy while
//     keeping the app's other settings (which the new factory must then
//     accept: to start afresh, add a section of a new name and point the
//     pipeline or route at it).
//   - There is no way to delete a key or section; a section of the same
//     name under another prefix ([composite:x] over [app:x]) is a second
//     section, and Paste's "Ambiguous section names" error names both.
//
// Each key keeps the file that wrote it: positions in errors, warnings and
// Node.KeyPos name that file and line; %(here)s and %(__file__)s in an
// overlay's value are its own directory and path (unless the overlay
// defines here or __file__ itself), and a relative config: URI it writes
// is relative to its own directory. The global conf's here and __file__
// stay those of the top-level file. Graph.Files lists the overlays after
// the top-level file, and every opening of the top-level file (a config:
// self-include, a composite's children at build time) sees the merged
// configuration. An overlay that is missing or malformed fails the load
// with errors positioned in it.
//
// # Deliberate deviations from Paste Deploy
//
//  1. filter-with is applied to any application-typed target (a pipeline,
//     a filter-app, a section whose use target has its own filter-with);
//     Paste returns an unusable filter function there.
//  2. A section that uses a section with its own filter-with passes its
//     locals and set values on to the wrapped factory; Paste drops them
//     when that target resolves through use.
//  3. A composite resolves its children in the file that defines it, also
//     when reached through use = config:...; Paste uses the referring file.
//  4. use = call:... in a [filter-app:] section is a filter factory; Paste
//     fails with "Protocol 'paste.filter-app_factory' unknown".
//  5. call: outside use (a pipeline element, next, filter-with, a urlmap
//     route) takes the protocol of the requested type; Paste fails with
//     "Protocol None unknown".
//  6. An empty interpolated [DEFAULT] value stays empty in global_conf;
//     Paste puts the raw text back.
//  7. Cycles (use, pipelines, filter-with, next, config: self-includes,
//     urlmap routes, composites' children) are detected and reported with
//     their path, "reference cycle: pipeline:a -> app:b -> pipeline:a"
//     (Error.Class "Cycle"); Paste overflows the stack.
//  8. The loader's own here and __file__ are substituted literally, so a
//     "%" in the directory name is harmless; Paste fails on it.
//  9. Python's raw KeyError (get of a missing global), IndexError (empty
//     pipeline), AttributeError (malformed object reference) and
//     AssertionError (urlmap key) become positioned errors; Error.Class
//     keeps the Python class name.
//  10. The pre-pass rejects, with a positioned error, constructs where
//     ini.v1 and ConfigParser would read different things: a blank or
//     column-1 comment line inside a continued value followed by more
//     indented lines, indented keys outside a value, values
//     starting with ` or """, keys "-" or starting with a quote, control
//     characters, unusual Unicode spaces and invalid UTF-8. A UTF-8 BOM is
//     accepted (ConfigParser chokes on it).
//  11. Pipeline elements and route values starting with "#" or ";" are
//     reported as inline comments rather than looked up as sections; an
//     "http://host/path = app" urlmap line (read as key "http") is reported
//     with the "domain host /path" spelling.
//
// # Errors
//
// Load returns a List of *Error, every independent problem of one pass
// (every bad line of a file; every unresolvable pipeline element, route or
// interpolation), each "file:line: [section] key: message", with "did you
// mean" suggestions for section and option names, hints for a name that
// exists under another prefix, and messages close to Paste's. Problems are
// listed in Paste's resolution order, so the first is the one Paste itself
// would raise (outside the deviations above).
//
// Graph.Warnings hold what loads but is probably not meant: a key dropped
// because [DEFAULT] (or a caller global) defines it, a section losing to
// its alias ([app:x] beats [application:x]), a second protocol key passed
// on as a setting, set/get lines in [DEFAULT] (they act in every section
// and leak "set x" into global_conf), urlmap keys replacing an earlier one,
// and settings of a section that uses a pipeline (ignored, as in Paste).
//
// Bare [app] and [server] sections are never found from an entry point,
// as in Paste; the "No section" error says how to name them.
//
// # Limits
//
// Files are limited to 4 MiB, config files opened per load to 128,
// nesting to 64 levels, sections resolved per load to 10000 (a section
// reached twice counts twice, as it is built twice) and option bytes read
// to 64 MiB; one interpolated value to 10000 references and 1 MiB. A load
// stays bounded in time and memory whatever the input, and no input panics
// (FuzzLoad).
package paste
