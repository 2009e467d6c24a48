package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// field binds an option to the Config field it fills. Each kind of field knows how its text
// becomes a value and what Validate checks of that value, so neither Load nor Validate needs to
// know options by name.
type field interface {
	// set parses text and stores the value. Its error says what is accepted; the caller adds
	// the flag or input it came from.
	set(c *Config, text string) error
	// check is Validate's test of the stored value, nil when it is acceptable.
	check(c *Config) error
	// isBool: a CLI flag given without a value means true (`--all`).
	isBool() bool
	// isList: a repeated CLI flag adds to the value instead of replacing it.
	isList() bool
}

// textField is a string, or a string type such as Command.
type textField[T ~string] struct {
	ptr   func(*Config) *T
	valid func(T) error // nil: any text
}

func (f textField[T]) set(c *Config, text string) error {
	*f.ptr(c) = T(strings.TrimSpace(text))
	return nil
}

func (f textField[T]) check(c *Config) error {
	if f.valid == nil {
		return nil
	}
	return f.valid(*f.ptr(c))
}

func (textField[T]) isBool() bool { return false }
func (textField[T]) isList() bool { return false }

// text is a free text option; valid, if given, checks a non-empty value.
func text(ptr func(*Config) *string, valid ...func(string) error) field {
	return textField[string]{ptr: ptr, valid: func(v string) error {
		if v == "" {
			return nil
		}
		for _, f := range valid {
			if err := f(v); err != nil {
				return err
			}
		}
		return nil
	}}
}

// choice is an option that takes one of a few words; what names them in the error ("a signing
// mode").
func choice[T ~string](ptr func(*Config) *T, what string, choices ...T) field {
	return textField[T]{ptr: ptr, valid: func(v T) error {
		if slices.Contains(choices, v) {
			return nil
		}
		return fmt.Errorf("%q is not %s: use %s", v, what, orList(choices))
	}}
}

// boolField is true or false, as GitHub Actions writes booleans.
type boolField struct{ ptr func(*Config) *bool }

func boolean(ptr func(*Config) *bool) field { return boolField{ptr} }

func (f boolField) set(c *Config, text string) error {
	// The spellings of YAML 1.2's core schema, which GitHub's own getBooleanInput accepts: a
	// "yes" or "1" that some tools take for true is refused rather than guessed.
	switch strings.TrimSpace(text) {
	case "true", "True", "TRUE":
		*f.ptr(c) = true
	case "false", "False", "FALSE":
		*f.ptr(c) = false
	default:
		return fmt.Errorf("%q is not a boolean: use true or false", text)
	}
	return nil
}

func (boolField) check(*Config) error { return nil }
func (boolField) isBool() bool        { return true }
func (boolField) isList() bool        { return false }

// intField is a whole number in [min, max].
type intField struct {
	ptr      func(*Config) *int
	min, max int
}

// integer is a whole number that Validate holds to [min, max].
func integer(ptr func(*Config) *int, min, max int) field { return intField{ptr, min, max} }

func (f intField) set(c *Config, text string) error {
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%q is out of range: use a smaller number", text)
	}
	if err != nil {
		return fmt.Errorf("%q is not a whole number", text)
	}
	*f.ptr(c) = n
	return nil
}

func (f intField) check(c *Config) error {
	n := *f.ptr(c)
	switch {
	case n >= f.min && n <= f.max:
		return nil
	case f.max == math.MaxInt:
		return fmt.Errorf("%d: use %d or more", n, f.min)
	}
	return fmt.Errorf("%d is out of range: use %d to %d", n, f.min, f.max)
}

func (intField) isBool() bool { return false }
func (intField) isList() bool { return false }

// sizeField is a positive number of bytes, written with an optional Ki, Mi or Gi suffix.
type sizeField struct{ ptr func(*Config) *int64 }

func size(ptr func(*Config) *int64) field { return sizeField{ptr} }

func (f sizeField) set(c *Config, text string) error {
	n, err := parseSize(text)
	if err != nil {
		return err
	}
	*f.ptr(c) = n
	return nil
}

func (f sizeField) check(c *Config) error {
	if n := *f.ptr(c); n <= 0 {
		return fmt.Errorf("%d bytes: use 1 or more, e.g. 100Mi", n)
	}
	return nil
}

func (sizeField) isBool() bool { return false }
func (sizeField) isList() bool { return false }

// sizeUnits are the suffixes a size takes, largest first: binary multiples, as Kubernetes
// quantities write them.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}}

// parseSize reads a size in bytes: digits, optionally followed by Ki, Mi or Gi. A size that does
// not fit in an int64 is an error, never a wrapped-around small number.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	digits, mult := t, int64(1)
	for _, u := range sizeUnits {
		if d, ok := strings.CutSuffix(t, u.suffix); ok {
			digits, mult = d, u.mult
			break
		}
	}
	bad := fmt.Errorf("%q is not a size: use bytes or a number with Ki, Mi or Gi, e.g. 100Mi", s)
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large: use at most %s", s, formatSize(math.MaxInt64&^(1<<30-1)))
	}
	if n == 0 {
		return 0, bad
	}
	return n * mult, nil
}

// formatSize writes n bytes the way parseSize reads them, with the largest suffix that divides
// it: how the docs show a default limit.
func formatSize(n int64) string {
	for _, u := range sizeUnits {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// listField is a list written with commas or newlines.
type listField struct {
	ptr  func(*Config) *[]string
	each func(string) error // nil: any entry
}

func list(ptr func(*Config) *[]string, each func(string) error) field { return listField{ptr, each} }

func (f listField) set(c *Config, text string) error {
	*f.ptr(c) = SplitList(text)
	return nil
}

func (f listField) check(c *Config) error {
	if f.each == nil {
		return nil
	}
	var errs []error
	for _, v := range *f.ptr(c) {
		if err := f.each(v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (listField) isBool() bool { return false }
func (listField) isList() bool { return true }

// mapField is a list of key=value pairs.
type mapField struct {
	ptr func(*Config) *map[string]string
	// reserved maps keys that may not be given to the reason why.
	reserved map[string]string
}

func keyValues(ptr func(*Config) *map[string]string, reserved map[string]string) field {
	return mapField{ptr, reserved}
}

func (f mapField) set(c *Config, text string) error {
	m := map[string]string{}
	for _, kv := range SplitList(text) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%q is not key=value", kv)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	*f.ptr(c) = m
	return nil
}

func (f mapField) check(c *Config) error {
	m := *f.ptr(c)
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if why, ok := f.reserved[k]; ok {
			errs = append(errs, fmt.Errorf("%q is set by fleetpush itself (%s): remove it", k, why))
		}
	}
	return errors.Join(errs...)
}

func (mapField) isBool() bool { return false }
func (mapField) isList() bool { return true }

// SplitList splits on commas and newlines, trimming blanks: how every list input is read.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// orList writes "a, b or c".
func orList[T ~string](words []T) string {
	s := make([]string, len(words))
	for i, w := range words {
		s[i] = string(w)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
