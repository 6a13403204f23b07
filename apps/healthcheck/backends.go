package healthcheck

import (
	"fmt"
	"os"
)

// result is one backend's verdict, as oslo's HealthcheckResult.
type result struct {
	available bool
	reason    string
	details   string
	class     string
}

// backend is one health check; check runs per request and must be cheap.
type backend interface {
	check(port int) result
}

// exists reports whether path names an existing file (following
// symlinks, like Python's os.path.exists: any error means "no").
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

type disableByFile struct{ path string }

func (b disableByFile) check(int) result {
	if exists(b.path) {
		return result{reason: "DISABLED BY FILE", details: fmt.Sprintf("Path '%s' was found", b.path), class: "DisableByFileHealthcheck"}
	}
	return result{available: true, reason: "OK", details: fmt.Sprintf("Path '%s' was not found", b.path), class: "DisableByFileHealthcheck"}
}

type disableByFilesPorts struct{ paths map[int]string }

func (b disableByFilesPorts) check(port int) result {
	const class = "DisableByFilesPortsHealthcheck"
	path, ok := b.paths[port]
	if !ok {
		return result{available: true, reason: "OK", details: fmt.Sprintf("No path configured for port %d", port), class: class}
	}
	if exists(path) {
		return result{reason: "DISABLED BY FILE", details: fmt.Sprintf("Path '%s' was found", path), class: class}
	}
	return result{available: true, reason: "OK", details: fmt.Sprintf("Path '%s' was not found", path), class: class}
}

type enableByFiles struct{ paths []string }

func (b enableByFiles) check(int) result {
	const class = "EnableByFilesHealthcheck"
	for _, p := range b.paths {
		if !exists(p) {
			return result{reason: "FILE PATH MISSING", details: fmt.Sprintf("File path %s is missing", p), class: class}
		}
	}
	return result{available: true, reason: "OK", details: "Specified file paths are available", class: class}
}

// drainResult is what a set Drain adds to the results.
var drainResult = result{reason: "SHUTTING DOWN", details: "The server is draining before it stops", class: "ShutdownDrain"}
