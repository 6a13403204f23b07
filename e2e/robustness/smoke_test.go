package robustness

import (
	"io"
	"testing"
)

// TestSuiteConfigServes: every route of the suite's configuration answers
// as the other tests assume.
func TestSuiteConfigServes(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	c := newClient()
	for path, want := range map[string]int{
		"/echo/x": 200, "/limited/x": 200, "/auth/x": 401, "/metrics": 200,
		"/static/a.txt": 200, "/static/big.bin": 200, "/nowhere": 404,
	} {
		resp, err := c.Get(d.url(path))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}
