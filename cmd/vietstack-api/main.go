// Command vietstack-api loads an OpenStack-style api-paste.ini (the Python
// Paste Deploy format), composes the applications and filters it names
// into one http.Handler and serves it.
//
// Run it with --help for the flags; README.md explains the file format.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
