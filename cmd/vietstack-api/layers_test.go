package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOverlayFiles(t *testing.T) {
	dir := t.TempDir()
	confd := filepath.Join(dir, "conf.d")
	for _, d := range []string{confd, filepath.Join(confd, "sub.ini")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"20-b.ini", "10-a.ini", "9-z.ini", ".10-a.ini.swp", ".hidden.ini", "README", "30-c.ini.bak"} {
		if err := os.WriteFile(filepath.Join(confd, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("10-a.ini", filepath.Join(confd, "40-link.ini")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nosuch", filepath.Join(confd, "50-dangling.ini")); err != nil {
		t.Fatal(err)
	}
	got, err := overlayFiles([]string{"b.ini", "a.ini"}, []string{confd})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"b.ini", "a.ini",
		filepath.Join(confd, "10-a.ini"), filepath.Join(confd, "20-b.ini"),
		filepath.Join(confd, "40-link.ini"), filepath.Join(confd, "9-z.ini")}
	if !slices.Equal(got, want) {
		t.Errorf("overlays\n got %q\nwant %q", got, want)
	}
	if got, err := overlayFiles(nil, nil); err != nil || len(got) != 0 {
		t.Errorf("no flags: %q, %v", got, err)
	}
	_, err = overlayFiles(nil, []string{filepath.Join(dir, "nosuch")})
	if err == nil || !strings.Contains(err.Error(), "cannot read configuration directory "+filepath.Join(dir, "nosuch")+": no such file or directory") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestLayerFlags(t *testing.T) {
	o, err := parseArgs([]string{"--config-file", "a.ini", "--config-dir", "d1", "--config-file", "b.ini", "--config-file=c.ini", "--config-dir=d2", "--watch"})
	if err != nil {
		t.Fatal(err)
	}
	if o.configFile != "a.ini" || !slices.Equal(o.overlays, []string{"b.ini", "c.ini"}) || !slices.Equal(o.configDirs, []string{"d1", "d2"}) || !o.watch {
		t.Errorf("parsed %+v", o)
	}
	o, err = parseArgs(nil)
	if err != nil || o.configFile != "" || o.overlays != nil || o.configDirs != nil || o.watch {
		t.Errorf("defaults %+v, %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config-file", "a.ini", "--config-file", ""}, "--config-file: empty path"},
		{[]string{"--config-dir", ""}, "--config-dir: empty path"},
		{[]string{"--config-dir"}, "--config-dir"},
	} {
		_, err := parseArgs(tc.args)
		if err == nil || !isUsageError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
}
