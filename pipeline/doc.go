// Package pipeline turns a Paste Deploy graph into one http.Handler and
// keeps serving it across reloads.
//
// The flow is one way: files → graph → handlers → server.
//
//  1. Package paste reads the api-paste.ini files and resolves the entry
//     point into a graph of paste.Node values, with Paste Deploy's
//     semantics and positions for every section and key. It knows no
//     factory.
//  2. A Registry maps the factory strings found in the graph
//     ("egg:vietstack#cors", "oslo_middleware:CORS.factory",
//     "egg:Paste#urlmap") to Go factories. It is filled explicitly at
//     start-up by apps.Register and filters.Register; this package only
//     adds the built-ins Paste itself provides (the urlmap composite and
//     the http server).
//  3. Build calls each factory once per reference in the graph with a
//     Config (the section's merged options, Decode for typed options,
//     OnClose for resources), composes the results with the first filter
//     of a pipeline outermost, and puts Root in front. A build is
//     all-or-nothing and reports every problem it finds, positioned as
//     "file:line: [section] key: message".
//  4. A Switch serves the current Generation and swaps in a new one
//     atomically on reload; the old one is closed after a grace period.
//
// # The hot path
//
// Everything that can be done at build time is: options are parsed,
// validated and pre-computed by the factories, and the handler chain is
// composed once. Per request, Root attaches one Request state (one
// allocation holding the state, the recording ResponseWriter and a private
// URL copy) and filters share it through RequestFrom instead of adding
// their own context values or writer wrappers. A pass-through filter
// therefore costs no allocation; the tests guard this with
// testing.AllocsPerRun.
package pipeline
