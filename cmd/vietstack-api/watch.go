package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long --watch waits after the last change of a
// watched file before it asks for a reload: editors write a file in
// several steps (truncate, write, rename, chmod), configuration tools
// change several files at once.
const watchDebounce = 300 * time.Millisecond

// watcher implements --watch: it watches the directories of the loaded
// configuration files (editors save by renaming over the file, Kubernetes
// swaps a "..data" symlink, so watching the files themselves would lose
// them) and calls trigger once the changes have settled. trigger must not
// block; the daemon's trigger queues the same reload as SIGHUP.
type watcher struct {
	fw      *fsnotify.Watcher
	log     *slog.Logger
	trigger func()
	delay   time.Duration

	mu    sync.Mutex
	files map[string]bool // cleaned absolute paths of the watched files
	dirs  map[string]bool // directories whose *.ini files are all watched (--config-dir)
	on    map[string]bool // directories added to fw
}

// newWatcher returns a watcher calling trigger; Close releases it.
func newWatcher(log *slog.Logger, trigger func()) (*watcher, error) {
	if trigger == nil {
		return nil, fmt.Errorf("watch: no trigger")
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return &watcher{fw: fw, log: log, trigger: trigger, delay: watchDebounce,
		files: map[string]bool{}, dirs: map[string]bool{}, on: map[string]bool{}}, nil
}

// Set makes files (the files a load read, paste.Graph.Files) and every
// *.ini file of dirs (the --config-dir directories, where a new file
// matters too) the watched set, replacing the previous one. Paths that
// are not absolute are made so. Directories that no longer hold a
// watched file are released. A directory that cannot be watched is an
// error; the rest of the set is watched anyway.
func (w *watcher) Set(files, dirs []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files, w.dirs = map[string]bool{}, map[string]bool{}
	want := map[string]bool{}
	for _, f := range files {
		if abs, err := filepath.Abs(f); err == nil {
			w.files[abs] = true
			want[filepath.Dir(abs)] = true
		}
	}
	for _, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			w.dirs[abs] = true
			want[abs] = true
		}
	}
	var errs []string
	for d := range w.on {
		if !want[d] {
			w.fw.Remove(d)
			delete(w.on, d)
		}
	}
	keys := make([]string, 0, len(want))
	for d := range want {
		keys = append(keys, d)
	}
	slices.Sort(keys)
	for _, d := range keys {
		if w.on[d] {
			continue
		}
		if err := w.fw.Add(d); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		w.on[d] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("watch: cannot watch %s", strings.Join(errs, "; "))
	}
	return nil
}

// matters reports whether a change of name asks for a reload.
func (w *watcher) matters(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	name = filepath.Clean(name)
	if w.files[name] {
		return true
	}
	dir, base := filepath.Dir(name), filepath.Base(name)
	if w.dirs[dir] && strings.HasSuffix(base, ".ini") && !strings.HasPrefix(base, ".") {
		return true
	}
	// Kubernetes ConfigMap volumes replace the "..data" symlink atomically.
	return base == "..data" && w.on[dir]
}

// Run delivers events until ctx ends: trigger is called once no change of
// a watched file came for the debounce delay. Watcher errors are logged.
func (w *watcher) Run(ctx context.Context) {
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || !w.matters(ev.Name) {
				continue
			}
			w.log.Debug("configuration file changed", "file", ev.Name, "op", ev.Op.String())
			if timer == nil {
				timer = time.NewTimer(w.delay)
			} else {
				timer.Reset(w.delay)
			}
			fire = timer.C
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.log.Warn("watching the configuration files", "err", err)
		case <-fire:
			fire = nil
			w.log.Info("configuration files changed; reloading")
			w.trigger()
		}
	}
}

// Close stops watching; Run returns.
func (w *watcher) Close() error {
	return w.fw.Close()
}

// watchLoaded points w at the files g was loaded from and at the
// --config-dir directories; the built-in configuration, which is not a
// file, is left out. A file that cannot be watched is logged: the daemon
// keeps serving, and SIGHUP still reloads.
func watchLoaded(w *watcher, log *slog.Logger, files, dirs []string) {
	var real []string
	for _, f := range files {
		if f != embeddedPath {
			real = append(real, f)
		}
	}
	if err := w.Set(real, dirs); err != nil {
		log.Warn("some configuration files are not watched; SIGHUP still reloads", "err", err)
	}
}
