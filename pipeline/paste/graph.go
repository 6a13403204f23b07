package paste

// Type is what a node of the composed graph is, as in the graph dump
// (../shared/compat/FORMAT.md §3).
type Type string

// The node types of the graph.
const (
	TypeApp       Type = "app"       // an app factory used as an application
	TypeFilter    Type = "filter"    // a filter wrapping Node.App
	TypeURLMap    Type = "urlmap"    // Paste's urlmap composite, routes resolved
	TypeComposite Type = "composite" // any other composite: children resolved at build time
	TypeServer    Type = "server"    // a server section (Kind server)
)

// Protocol is the Paste Deploy protocol a factory is called with.
type Protocol string

// The Paste Deploy protocols (paste-semantics.md §7.1).
const (
	ProtoApp       Protocol = "paste.app_factory"
	ProtoComposite Protocol = "paste.composite_factory"
	ProtoFilter    Protocol = "paste.filter_factory"
	ProtoFilterApp Protocol = "paste.filter_app_factory"
	ProtoServer    Protocol = "paste.server_factory"
	ProtoRunner    Protocol = "paste.server_runner"
)

// Kind is the object type a caller asks for: an application or a server.
type Kind string

// The object types that can be loaded from an entry point.
const (
	KindApp    Kind = "app"
	KindServer Kind = "server"
	KindFilter Kind = "filter"
)

// Node is one object of the composed graph: what Paste Deploy would call one
// factory with, after all use/set/get/DEFAULT merging, plus the positions
// needed to report problems. Pipelines, filter-app and filter-with are
// flattened into chains of TypeFilter nodes (FORMAT.md §4); a section reached
// twice appears twice, as independent sub-trees.
//
// A Node is immutable once Load returns it and is safe for concurrent reads.
type Node struct {
	Type Type
	// Factory is the factory string of FORMAT.md: "egg:DIST#ENTRY",
	// "call:MOD:OBJ", or an explicit key's object reference as written.
	Factory  string
	Protocol Protocol
	// Local and Global are the local_conf and global_conf the factory is
	// called with. Values are interpolated; paths are absolute.
	Local  map[string]string
	Global map[string]string

	App      *Node   // TypeFilter: the wrapped node
	Routes   []Route // TypeURLMap: in match order
	NotFound *Node   // TypeURLMap: not_found_app, or nil

	// Section is the section (as "prefix:name") whose keys make up Local at
	// the end of the use chain; Pos is the header position of the section
	// that was referenced (the start of the use chain).
	Section string
	Pos     Pos
	// KeyPos gives, for each key of Local, where its value was written.
	KeyPos map[string]Pos
	// Path is the resolution path from the entry point to this node, e.g.
	// ["composite:main", "pipeline:api", "filter:cors"].
	Path []string

	// scope lets a composite resolve its children in its own file with its
	// own global conf (see LoadApp). Set by the loader.
	scope *scope
}

// Route is one urlmap entry. Key is the display form of FORMAT.md §3.2
// ("/v2.1", "http://api.example.com/"); Domain (lower-cased, with ":port"
// when given) and Path ("" for the root, else "/..." without a trailing
// slash) are the normalised match keys.
type Route struct {
	Key    string
	Domain string
	Path   string
	Node   *Node
	Pos    Pos // where the route key was written
}

// Graph is the result of a load: the root node plus every file that was
// read to build it (for reload watchers and path relativisation).
type Graph struct {
	Root  *Node
	Files []string // absolute paths, in the order first opened
	// Warnings are non-fatal findings (DEFAULT shadowing and the like).
	Warnings []*Warning

	top  string   // the top-level file, absolute
	dirs []string // directories of every file opened or tried
}

// Options select what Load loads.
type Options struct {
	// Name is the section name to load; "" means "main".
	Name string
	// Kind is KindApp (the default) or KindServer.
	Kind Kind
	// Globals is the caller's global_conf (Paste's loadapp global_conf,
	// the daemon's --global flags).
	Globals map[string]string
	// ReadFile reads a configuration file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Overlays are files applied, in order, over the top-level file:
	// later files override the [DEFAULT] keys, sections and keys of
	// earlier ones; a section that sets a factory key (use,
	// paste.*_factory) replaces all the factory keys of the earlier one.
	// Positions, %(here)s and config: includes follow the file that wrote
	// each key. See the package documentation, "Layered configuration".
	Overlays []string
}
