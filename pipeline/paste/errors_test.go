package paste

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/errors")

// TestGoldenErrors loads every testdata/errors/NAME.ini (entry point main)
// and compares every message, paths relativised, with NAME.err. Run
// `go test ./pipeline/paste -update` to regenerate.
func TestGoldenErrors(t *testing.T) {
	inis, err := filepath.Glob(filepath.Join("testdata", "errors", "*.ini"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inis) < 30 {
		t.Fatalf("only %d golden error files", len(inis))
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "errors"))
	if err != nil {
		t.Fatal(err)
	}
	messages := 0
	for _, ini := range inis {
		name := strings.TrimSuffix(filepath.Base(ini), ".ini")
		t.Run(name, func(t *testing.T) {
			g, err := Load(ini, Options{})
			var b strings.Builder
			if err != nil {
				for _, e := range Flatten(err) {
					var pe *Error
					if !errors.As(e, &pe) {
						t.Errorf("not a positioned *Error: %v", e)
					} else if pe.File == "" {
						t.Errorf("no file: %v", e)
					}
					b.WriteString("error: " + e.Error() + "\n")
					messages++
				}
			} else {
				b.WriteString("ok\n")
				for _, w := range g.Warnings {
					b.WriteString("warning: " + w.Error() + "\n")
					messages++
				}
			}
			got := strings.ReplaceAll(b.String(), dir+"/", "")
			got = strings.ReplaceAll(got, dir, ".")
			golden := strings.TrimSuffix(ini, ".ini") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("messages differ\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
	t.Logf("%d files, %d messages", len(inis), messages)
}
