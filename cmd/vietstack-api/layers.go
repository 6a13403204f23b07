package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// overlayFiles returns the overlays a load applies over the top-level
// file, in precedence order (later wins): the --config-file flags after
// the first, in the order given, then the *.ini files of each --config-dir
// in lexical order (names starting with "." are skipped: editors' swap
// files). It reads the directories at every call, so a reload sees files
// added or removed since. A directory that cannot be read is an error.
func overlayFiles(files, dirs []string) ([]string, error) {
	out := slices.Clone(files)
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("cannot read configuration directory %s: %s", dir, describeIOError(err))
		}
		var names []string
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".ini") {
				continue
			}
			if e.IsDir() {
				continue
			}
			if e.Type()&os.ModeSymlink != 0 {
				if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
					continue
				}
			}
			names = append(names, name)
		}
		slices.Sort(names) // os.ReadDir sorts already; the order is the contract
		for _, n := range names {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out, nil
}
