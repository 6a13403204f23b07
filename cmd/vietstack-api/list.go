package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// listFactories writes every factory of reg, sorted by kind then name, as
//
//	filter passthrough
//	    hands every request on untouched
//	    use = egg:vietstack#passthrough
//	    also: <aliases>
//	    option NAME (TYPE, default "X"): doc
//
// with a blank line between factories.
func listFactories(w io.Writer, reg *pipeline.Registry) error {
	bw := bufio.NewWriter(w)
	for i, f := range reg.Factories() {
		if i > 0 {
			bw.WriteByte('\n')
		}
		fmt.Fprintf(bw, "%s %s\n", f.Kind, f.Name)
		if doc := oneLine(f.Info.Doc); doc != "" {
			fmt.Fprintf(bw, "    %s\n", doc)
		}
		fmt.Fprintf(bw, "    use = egg:vietstack#%s\n", f.Name)
		if len(f.Aliases) > 0 {
			fmt.Fprintf(bw, "    also: %s\n", strings.Join(f.Aliases, ", "))
		}
		var docs []pipeline.OptionDoc
		if f.Info.Options != nil {
			docs = pipeline.OptionDocs(f.Info.Options)
		}
		if len(docs) == 0 {
			fmt.Fprintf(bw, "    no options\n")
		}
		for _, d := range docs {
			fmt.Fprintf(bw, "    option %s (%s", d.Name, d.Type)
			if d.Default != "" {
				fmt.Fprintf(bw, ", default %s", strconv.Quote(d.Default))
			}
			bw.WriteString(")")
			if doc := oneLine(d.Doc); doc != "" {
				fmt.Fprintf(bw, ": %s", doc)
			}
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// oneLine joins the lines of s with spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
