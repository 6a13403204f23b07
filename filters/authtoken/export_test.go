package authtoken

import "testing"

// KeystoneForTest gives the external tests of this package the real Keystone
// TestMain started: its v3 URL and seed (seed_keystone.sh's variables). It
// skips (or, under CI=true, fails) the test when there is none.
func KeystoneForTest(t *testing.T) (url string, seed map[string]string) {
	t.Helper()
	needKeystone(t)
	return ksMain.url, ksMain.seed
}

// IssueToken issues a project-scoped token from the Keystone of KeystoneForTest.
func IssueToken(t *testing.T, user, password, project string) string {
	t.Helper()
	return ksMain.issue(t, user, password, project)
}
