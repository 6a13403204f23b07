package pipeline

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// ByteSize is a size in bytes. In an ini it is written as a plain number of
// bytes or with a unit, case-insensitive: "114688", "112KiB", "64k", "1MB",
// "2 GiB". K, KiB, M, MiB, G, GiB, T and TiB are binary multiples (1024);
// KB, MB, GB and TB are decimal (1000).
type ByteSize int64

// String formats b in the largest binary unit that divides it exactly.
func (b ByteSize) String() string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := int64(b), 0
	for v != 0 && v%1024 == 0 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatInt(v, 10) + units[i]
}

// ParseByteSize parses s as a ByteSize (see ByteSize for the syntax).
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes, optionally with a unit such as KiB or MB", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KiB, MiB, GiB, KB, MB or GB)", s, strings.TrimSpace(t[i:]))
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	v := f * mult
	if v > math.MaxInt64 || v != math.Trunc(v) {
		return 0, fmt.Errorf("invalid size %q: out of range or not a whole number of bytes", s)
	}
	return ByteSize(v), nil
}

// ParseBool parses an oslo.config boolean: true/false, yes/no, on/off, 1/0,
// t/f and y/n, case-insensitive, surrounding spaces ignored.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, nil
	case "0", "f", "false", "off", "n", "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q: want true or false (also yes/no, on/off, 1/0)", s)
}

// ParseDuration parses an OpenStack-style duration: a bare number is
// seconds ("30", "0.5"), otherwise Go syntax ("1m30s", "250ms").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		if f < 0 || f*float64(time.Second) > math.MaxInt64 {
			return 0, fmt.Errorf("invalid duration %q: out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want seconds (30) or a Go duration (1m30s, 250ms)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return d, nil
}

// SplitList splits an option value on commas and whitespace (including the
// newlines of continuation lines), dropping empty items.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	byteSizeType  = reflect.TypeFor[ByteSize]()
	textUnmarshal = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// field is one decodable option of an options struct.
type field struct {
	name    string
	index   []int
	typ     reflect.Type
	def     string
	hasDef  bool
	doc     string
	ignored bool
}

func structFields(t reflect.Type) ([]field, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("options must be a struct, not %s", t)
	}
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("ini")
		if !ok || tag == "-" {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		f := field{name: name, index: sf.Index, typ: sf.Type, doc: sf.Tag.Get("doc"), ignored: opt == "ignore"}
		f.def, f.hasDef = sf.Tag.Lookup("default")
		if !f.ignored && !sf.IsExported() {
			return nil, fmt.Errorf("option %q: field %s is not exported", name, sf.Name)
		}
		out = append(out, f)
	}
	return out, nil
}

// Decode stores the section's local options into the struct v points to.
//
// Each field names its option with an `ini:"name"` tag and may give
// `default:"..."` and `doc:"..."`. Supported field types: string, bool
// (see ParseBool), signed and unsigned integers, float64, time.Duration
// (see ParseDuration), ByteSize, any encoding.TextUnmarshaler, and slices of
// these (split with SplitList). A tag "name,ignore" (usually on a blank
// `_ struct{}` field) accepts and ignores the option, for compatibility
// keys that have no meaning here.
//
// Defaults are applied first, then the local options. Every local option
// must map to a field: an unknown one is an error with a "did you mean"
// suggestion. All problems are returned together as a paste.List, each
// positioned at its key. If v implements interface{ Validate() error }, it
// is called after a successful decode and its error is positioned at the
// option its message starts with when the section sets that option ("url
// %q: scheme must be http or https"), else at the section.
func (c *Config) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return c.Errorf("", "internal error: Decode needs a pointer to a struct, got %T", v)
	}
	fields, err := structFields(rv.Type())
	if err != nil {
		return c.Errorf("", "internal error: %v", err)
	}
	byName := make(map[string]*field, len(fields))
	var known []string
	for i := range fields {
		f := &fields[i]
		byName[f.name] = f
		if !f.ignored {
			known = append(known, f.name)
		}
	}
	var errs paste.List
	elem := rv.Elem()
	for i := range fields {
		f := &fields[i]
		if f.ignored || !f.hasDef {
			continue
		}
		if err := setValue(elem.FieldByIndex(f.index), f.def); err != nil {
			errs = append(errs, c.Errorf(f.name, "internal error: bad default %q: %v", f.def, err))
		}
	}
	keys := make([]string, 0, len(c.Local))
	for k := range c.Local {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return c.keyLine(keys[i]) < c.keyLine(keys[j]) || c.keyLine(keys[i]) == c.keyLine(keys[j]) && keys[i] < keys[j]
	})
	for _, k := range keys {
		f, ok := byName[k]
		if !ok {
			msg := fmt.Sprintf("unknown option %q", k)
			if s := Suggest(k, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if len(known) == 0 {
				msg += " (this factory takes no options)"
			}
			errs = append(errs, c.errorf(k, errors.New(msg)))
			continue
		}
		if f.ignored {
			continue
		}
		if err := setValue(elem.FieldByIndex(f.index), c.Local[k]); err != nil {
			errs = append(errs, c.errorf(k, err))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			var pe *paste.Error
			if errors.As(err, &pe) {
				return err
			}
			e := c.errorf("", err)
			if k := leadingKey(err.Error(), fields); k != "" && c.node != nil {
				if p, ok := c.node.KeyPos[k]; ok {
					e.Pos = p
				}
			}
			return e
		}
	}
	return nil
}

// leadingKey is the option a Validate message starts with ("url %q: ...",
// "max_conns must ..."), when it names one of fields, so the error points
// at the line that set it; "" otherwise.
func leadingKey(msg string, fields []field) string {
	end := strings.IndexAny(msg, " :")
	if end <= 0 {
		return ""
	}
	for _, f := range fields {
		if f.name == msg[:end] {
			return f.name
		}
	}
	return ""
}

func (c *Config) keyLine(k string) int {
	if c.node == nil {
		return 0
	}
	return c.node.KeyPos[k].Line
}

func setValue(v reflect.Value, s string) error {
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshal) && v.Type() != byteSizeType {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(strings.TrimSpace(s)))
	}
	switch v.Type() {
	case durationType:
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	case byteSizeType:
		b, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(b))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid non-negative integer %q", s)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid number %q", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		items := SplitList(s)
		sl := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := setValue(sl.Index(i), it); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		v.Set(sl)
	default:
		return fmt.Errorf("internal error: unsupported option type %s", v.Type())
	}
	return nil
}

// OptionDoc describes one option of a factory, for --list-factories.
type OptionDoc struct {
	Name    string // the ini key
	Type    string // "string", "bool", "int", "duration", "size", "list of string", ...
	Default string // the default as written in the ini, "" for none
	Doc     string // one line
}

// OptionDocs lists the options of an options struct (or pointer to one),
// in field order, from its ini/default/doc tags. Ignored options are
// listed with Type "ignored". A nil v has no options.
func OptionDocs(v any) []OptionDoc {
	if v == nil {
		return nil
	}
	fields, err := structFields(reflect.TypeOf(v))
	if err != nil {
		return nil
	}
	out := make([]OptionDoc, 0, len(fields))
	for _, f := range fields {
		d := OptionDoc{Name: f.name, Type: typeName(f.typ), Default: f.def, Doc: f.doc}
		if f.ignored {
			d.Type = "ignored"
		}
		out = append(out, d)
	}
	return out
}

func typeName(t reflect.Type) string {
	switch t {
	case durationType:
		return "duration"
	case byteSizeType:
		return "size"
	}
	if reflect.PointerTo(t).Implements(textUnmarshal) {
		return strings.ToLower(t.Name())
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	}
	return t.Kind().String()
}

// Suggest returns the candidate closest to s when it is close enough to be
// a likely typo (edit distance at most 2, or a quarter
// of the length for long names, or a prefix/containment match), else "".
func Suggest(s string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		if c == s {
			continue
		}
		d := paste.EditDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	limit := max(2, len(s)/4)
	if bestD <= limit {
		return best
	}
	if len(s) >= 4 {
		for _, c := range candidates {
			if strings.Contains(c, s) || strings.Contains(s, c) && len(c) >= 4 {
				return c
			}
		}
	}
	// Every word of s appears in one candidate: max_body_size, max_request_body_size.
	if words := splitWords(s); len(words) > 1 {
		for _, c := range candidates {
			cw := splitWords(c)
			all := true
			for _, w := range words {
				if !slices.Contains(cw, w) {
					all = false
					break
				}
			}
			if all {
				return c
			}
		}
	}
	return ""
}

func splitWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == '_' || r == '-' || r == '.' || r == ' ' })
}
