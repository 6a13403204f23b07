//go:build !e2e

package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine started by them is
// still running once they have all finished. With the e2e tag, the
// TestMain of e2e_test.go does the same.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
