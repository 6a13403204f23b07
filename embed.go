// Package vietstack holds the files that are built into the vietstack-api
// binary. It exists at the module root because go:embed can only reach
// files in or below the embedding package's directory.
package vietstack

import (
	_ "embed"
	"slices"
)

// DefaultConfigName is the base name of the built-in configuration, the
// root api-paste.ini of the source tree.
const DefaultConfigName = "api-paste.ini"

//go:embed api-paste.ini
var defaultConfig []byte

// DefaultConfig returns a copy of the root api-paste.ini as it was when the
// binary was built: the configuration vietstack-api serves when it is given
// no --config-file.
func DefaultConfig() []byte { return slices.Clone(defaultConfig) }
