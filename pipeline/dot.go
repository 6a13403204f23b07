package pipeline

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// WriteDOT writes the graph g as a Graphviz DOT digraph: urlmap routes as
// labelled edges, each filter as a box in the order requests pass through
// it (outermost first) with its key options, and the factory each section
// resolved to (with its registered name when reg knows it). Secrets
// (options whose name contains "password", "secret" or "token") are shown
// as "***".
func WriteDOT(w io.Writer, g *paste.Graph, reg *Registry) error {
	d := &dotWriter{reg: reg}
	d.line("digraph pipeline {")
	d.line(`  graph [rankdir=LR, fontname="Helvetica", fontsize=11];`)
	d.line(`  node [fontname="Helvetica", fontsize=10];`)
	d.line(`  edge [fontname="Helvetica", fontsize=9];`)
	d.line(`  client [shape=circle, label="client"];`)
	if g != nil && g.Root != nil {
		root := d.node(g.Root)
		d.line(fmt.Sprintf("  client -> %s;", root))
	}
	d.line("}")
	_, err := io.WriteString(w, d.b.String())
	return err
}

type dotWriter struct {
	b   strings.Builder
	n   int
	reg *Registry
}

func (d *dotWriter) line(s string) { d.b.WriteString(s); d.b.WriteByte('\n') }

func (d *dotWriter) id() string { d.n++; return fmt.Sprintf("n%d", d.n) }

func (d *dotWriter) node(n *paste.Node) string {
	id := d.id()
	shape, fill := "box", "#dbeafe"
	switch n.Type {
	case paste.TypeFilter:
		shape, fill = "box", "#fef3c7"
	case paste.TypeURLMap, paste.TypeComposite:
		shape, fill = "hexagon", "#e9d5ff"
	case paste.TypeApp:
		shape, fill = "box", "#bbf7d0"
	}
	label := d.label(n)
	d.line(fmt.Sprintf("  %s [shape=%s, style=\"rounded,filled\", fillcolor=%q, label=%s];", id, shape, fill, label))
	switch n.Type {
	case paste.TypeFilter:
		if n.App != nil {
			d.line(fmt.Sprintf("  %s -> %s;", id, d.node(n.App)))
		}
	case paste.TypeURLMap:
		for _, r := range n.Routes {
			d.line(fmt.Sprintf("  %s -> %s [label=%s];", id, d.node(r.Node), dotQuote(r.Key)))
		}
		if n.NotFound != nil {
			d.line(fmt.Sprintf("  %s -> %s [label=\"not found\", style=dashed];", id, d.node(n.NotFound)))
		}
	}
	return id
}

func (d *dotWriter) label(n *paste.Node) string {
	title := n.Section
	if title == "" {
		title = string(n.Type)
	}
	lines := []string{title}
	factory := n.Factory
	if d.reg != nil && n.Type != paste.TypeURLMap {
		if f, ok := d.reg.Lookup(n.Factory); ok && !strings.HasSuffix(n.Factory, "#"+f.Name) {
			factory += " → " + f.Name
		}
	}
	if factory != "" {
		lines = append(lines, factory)
	}
	if n.Type != paste.TypeURLMap {
		keys := make([]string, 0, len(n.Local))
		for k := range n.Local {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i == 6 {
				lines = append(lines, fmt.Sprintf("… %d more", len(keys)-i))
				break
			}
			v := n.Local[k]
			lk := strings.ToLower(k)
			if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") && !strings.Contains(lk, "cache") {
				v = "***"
			}
			if len(v) > 40 {
				v = v[:37] + "..."
			}
			lines = append(lines, k+" = "+strings.ReplaceAll(v, "\n", " "))
		}
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString(`\l`)
		}
		b.WriteString(dotEscape(l))
	}
	return `"` + b.String() + `\l"`
}

func dotEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ", "\r", " ")
	return r.Replace(s)
}

func dotQuote(s string) string { return `"` + dotEscape(s) + `"` }
