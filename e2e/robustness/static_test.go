package robustness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outsideMarker is written into files outside the static root (the ini
// beside www/) and into dotfiles inside it: no answer may ever hold it.
const outsideMarker = "OUTSIDE-MARKER-7f3a"

// TestStaticTraversal is S1 over the real socket (raw request targets, so
// nothing cleans them on the way): at least 200 traversal variants never
// return a byte from outside the root or from a dotfile, a symlink out of
// the root is 404, directories are not listed, and 404 bodies hold no
// unescaped "<" from the path.
func TestStaticTraversal(t *testing.T) {
	files := map[string]string{}
	for k, v := range suiteFiles {
		files[k] = v
	}
	files["www/.secret"] = outsideMarker + "\n"
	files["www/sub/x.txt"] = "x\n"
	files["www/sub/.git/config"] = outsideMarker + "\n"
	files["secret.txt"] = outsideMarker + "\n"
	d := startDaemon(t, suiteIni+"\n# "+outsideMarker+"\n", files)
	if err := os.Symlink(filepath.Join(d.dir, "secret.txt"), filepath.Join(d.dir, "www", "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d.dir, filepath.Join(d.dir, "www", "up")); err != nil {
		t.Fatal(err)
	}

	ups := []string{"../", "..%2f", "..%2F", "%2e%2e/", "%2e%2e%2f", "%252e%252e/", "..%5c", "..\\", "%2e%2e%5c",
		".%2e/", "%2e./", "..;/", "%c0%ae%c0%ae/", "..%c0%af", "....//", "..%00/", "%2e%2e%00/", "..././"}
	depths := []int{1, 2, 3, 6}
	targets := []string{"secret.txt", "api-paste.ini", "etc/passwd"}
	var paths []string
	for _, up := range ups {
		for _, n := range depths {
			for _, tgt := range targets {
				paths = append(paths, "/static/"+strings.Repeat(up, n)+tgt)
			}
		}
	}
	paths = append(paths,
		"/static/.secret", "/static/%2esecret", "/static/sub/.git/config", "/static/sub/%2egit/config",
		"/static/escape.txt", "/static/up/secret.txt", "/static/up/api-paste.ini", "/static/sub/", "/static/sub",
		"/static//etc/passwd", "/static/"+d.dir+"/secret.txt", "/static/%2f"+strings.TrimPrefix(d.dir, "/")+"/secret.txt",
		"/static/sub/../../secret.txt", "/static/./../secret.txt", "/static/<script>alert(1)</script>",
		"/static/%3cscript%3e", "/static/sub/x.txt/../../../secret.txt", "/static/a.txt%00.html",
	)
	if len(paths) < 200 {
		t.Fatalf("only %d traversal variants", len(paths))
	}
	served := 0
	for _, p := range paths {
		res := exchange(t, d.addr, rq("GET "+p+" HTTP/1.1", "Host: x"), 1)
		if len(res.statuses) == 0 {
			continue // refused by the parser: nothing served
		}
		b := res.bodies[0]
		if strings.Contains(b, outsideMarker) {
			t.Errorf("%s: answered %d with a byte from outside the root or a dotfile", p, res.statuses[0])
		}
		if res.statuses[0] == 200 {
			served++
			if strings.HasSuffix(p, "/sub/") || strings.HasSuffix(p, "/sub") {
				t.Errorf("%s: directory listed: %.200q", p, b)
			}
		}
		if res.statuses[0] >= 500 {
			t.Errorf("%s: %d", p, res.statuses[0])
		}
		if res.statuses[0] == 404 && strings.Contains(b, "<script") {
			t.Errorf("%s: 404 reflects markup: %.200q", p, b)
		}
	}
	for _, p := range []string{"/static/escape.txt", "/static/up/secret.txt", "/static/.secret"} {
		if res := exchange(t, d.addr, rq("GET "+p+" HTTP/1.1", "Host: x"), 1); fmt.Sprint(res.statuses) != "[404]" {
			t.Errorf("%s: %v, want 404", p, res.statuses)
		}
	}
	for _, p := range []string{"/static/a.txt", "/static/sub/x.txt"} {
		if res := exchange(t, d.addr, rq("GET "+p+" HTTP/1.1", "Host: x"), 1); fmt.Sprint(res.statuses) != "[200]" {
			t.Errorf("control %s: %v, want 200", p, res.statuses)
		}
	}
	t.Logf("%d variants, %d answered 200 (inside the root), none leaked", len(paths), served)
}
