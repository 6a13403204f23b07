package paste

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestConfigParserVectors compares the INI layer (pre-pass, ini.v1,
// normValue) with CPython's ConfigParser on random files
// (testdata/configparser, made by gen.py): whatever we accept must read
// exactly as Python reads it, and whatever we reject that Python accepts
// must be one of our deliberate, positioned "Unsupported" rejections.
func TestConfigParserVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "configparser", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text string          `json:"text"`
		Py   json.RawMessage `json:"py"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	accepted, stricter := 0, 0
	for _, c := range cases {
		var py [][2]json.RawMessage
		pyOK := json.Unmarshal(c.Py, &py) == nil
		src, errs := parseSource("/x.ini", []byte(c.Text))
		if len(errs) > 0 {
			if pyOK {
				stricter++
				var pe *Error
				if !errors.As(errs[0], &pe) || pe.Class != "Unsupported" || pe.Line == 0 {
					t.Errorf("Python accepts, we fail with %v:\n%q", errs, c.Text)
				}
			}
			continue
		}
		accepted++
		if !pyOK {
			t.Errorf("we accept, Python fails with %s:\n%q", c.Py, c.Text)
			continue
		}
		var got []any
		for _, s := range append([]*srcSection{src.Default}, src.Sections...) {
			kv := []any{}
			for _, k := range s.Keys {
				kv = append(kv, []any{k.Name, k.Value})
			}
			got = append(got, []any{s.Name, kv})
		}
		var want any
		if err := json.Unmarshal(c.Py, &want); err != nil {
			t.Fatal(err)
		}
		if gj, _ := json.Marshal(got); !reflect.DeepEqual(roundTrip(gj), want) {
			t.Errorf("differs from ConfigParser:\n%q\n got %s\nwant %s", c.Text, gj, c.Py)
		}
	}
	t.Logf("%d files: %d read as Python does, %d rejected on purpose though Python reads them", len(cases), accepted, stricter)
	if accepted < len(cases)/4 {
		t.Errorf("only %d accepted", accepted)
	}
}

func roundTrip(b []byte) any {
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}
