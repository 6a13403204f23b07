package pipeline

import "errors"

// ByteSize is a size in bytes. In an ini it is written as a plain number
// of bytes or with a unit: "114688", "112KiB", "1MB", "2 GiB".
type ByteSize int64

// Decode stores the section's local options into the struct v points to.
//
// Each exported field names its option with an `ini:"name"` tag and may give
// `default:"..."` and `doc:"..."`. Supported field types: string, bool
// (true/false, yes/no, on/off, 1/0, t/f, y/n, case-insensitive, as oslo),
// int, int64, float64, time.Duration (a bare number means seconds, as in
// OpenStack), ByteSize, []string (split on commas and whitespace), and any
// encoding.TextUnmarshaler. An option tag of "name,ignore" accepts and
// ignores the option (oslo compatibility keys).
//
// Every local option must map to a field: unknown options are errors with
// a "did you mean" suggestion. All problems are returned together, each
// positioned at its key. If v implements interface{ Validate() error }, it
// is called after decoding.
func (c *Config) Decode(v any) error {
	return errors.New("not implemented")
}

// OptionDoc describes one option of a factory, for --list-factories.
type OptionDoc struct {
	Name    string // the ini key
	Type    string // "string", "bool", "int", "duration", "bytes", "list", ...
	Default string // the default as written in the ini, "" for none
	Doc     string // one line
}

// OptionDocs lists the options of an options struct (or pointer to one),
// in field order, from its ini/default/doc tags. Ignored options are
// listed with Type "ignored".
func OptionDocs(v any) []OptionDoc {
	return nil
}
