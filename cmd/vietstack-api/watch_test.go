package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	confd := filepath.Join(dir, "conf.d")
	other := filepath.Join(dir, "other")
	for _, d := range []string{confd, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	main := filepath.Join(dir, "api-paste.ini")
	write(main, "[app:main]\n")
	write(filepath.Join(confd, "10-a.ini"), "[app:a]\n")
	write(filepath.Join(other, "x.ini"), "[app:x]\n")

	triggers := make(chan struct{}, 16)
	var logs bytes.Buffer
	w, err := newWatcher(slog.New(slog.NewTextHandler(&logs, nil)), func() { triggers <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Long enough that a burst of writes 5 ms apart stays one burst on a
	// loaded machine.
	w.delay = 250 * time.Millisecond
	if err := w.Set([]string{main, filepath.Join(other, "x.ini")}, []string{confd}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// expect waits for n triggers and checks no more come.
	expect := func(t *testing.T, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			select {
			case <-triggers:
			case <-time.After(5 * time.Second):
				t.Fatalf("trigger %d of %d did not come", i+1, n)
			}
		}
		select {
		case <-triggers:
			t.Fatalf("more than %d triggers", n)
		case <-time.After(3 * w.delay):
		}
	}

	t.Run("burst of writes is one reload", func(t *testing.T) {
		for i := range 5 {
			write(main, "[app:main]\n# "+string(rune('a'+i))+"\n")
			time.Sleep(5 * time.Millisecond)
		}
		expect(t, 1)
	})
	t.Run("save by rename", func(t *testing.T) {
		tmp := filepath.Join(dir, ".api-paste.ini.swp")
		write(tmp, "[app:main]\nx = 1\n")
		if err := os.Rename(tmp, main); err != nil {
			t.Fatal(err)
		}
		expect(t, 1)
	})
	t.Run("other files are ignored", func(t *testing.T) {
		write(filepath.Join(dir, "notes.txt"), "x")
		write(filepath.Join(dir, "unloaded.ini"), "x")
		write(filepath.Join(confd, "README"), "x")
		write(filepath.Join(confd, ".hidden.ini"), "x")
		if err := os.Chmod(main, 0o600); err != nil {
			t.Fatal(err)
		}
		expect(t, 0)
	})
	t.Run("new file in a config dir", func(t *testing.T) {
		write(filepath.Join(confd, "20-b.ini"), "[app:b]\n")
		expect(t, 1)
	})
	t.Run("removed file in a config dir", func(t *testing.T) {
		if err := os.Remove(filepath.Join(confd, "20-b.ini")); err != nil {
			t.Fatal(err)
		}
		expect(t, 1)
	})
	t.Run("ConfigMap symlink swap", func(t *testing.T) {
		if err := os.Symlink(".", filepath.Join(other, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(other, "..data_tmp"), filepath.Join(other, "..data")); err != nil {
			t.Fatal(err)
		}
		expect(t, 1)
	})
	t.Run("a new set releases the old directories", func(t *testing.T) {
		if err := w.Set([]string{main}, nil); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(other, "x.ini"), "[app:x]\ny = 2\n")
		write(filepath.Join(confd, "30-c.ini"), "[app:c]\n")
		expect(t, 0)
		write(main, "[app:main]\nz = 3\n")
		expect(t, 1)
	})
	t.Run("a directory that cannot be watched", func(t *testing.T) {
		err := w.Set([]string{main, filepath.Join(dir, "nosuch", "x.ini")}, nil)
		if err == nil {
			t.Fatal("no error for a missing directory")
		}
		write(main, "[app:main]\nz = 4\n")
		expect(t, 1)
	})
}

func TestNewWatcherNeedsTrigger(t *testing.T) {
	if _, err := newWatcher(slog.Default(), nil); err == nil {
		t.Fatal("no error without a trigger")
	}
}

func TestWatchLoaded(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	w, err := newWatcher(log, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	file := filepath.Join(dir, "api-paste.ini")
	watchLoaded(w, log, []string{embeddedPath, file}, nil)
	if logs.Len() != 0 || len(w.on) != 1 || !w.on[dir] || !w.matters(file) || w.matters(embeddedPath) {
		t.Errorf("watching %v, log %q", w.on, logs.String())
	}
	watchLoaded(w, log, []string{filepath.Join(dir, "nosuch", "x.ini")}, nil)
	if !strings.Contains(logs.String(), "some configuration files are not watched") {
		t.Errorf("log %q", logs.String())
	}
}
