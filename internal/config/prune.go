package config

import (
	"fmt"
	"strings"
	"time"
)

// durationField is a duration as Go writes it ("1h", "90m", "0"), zero or more.
type durationField struct{ ptr func(*Config) *time.Duration }

func duration(ptr func(*Config) *time.Duration) field { return durationField{ptr} }

func (f durationField) set(c *Config, text string) error {
	text = strings.TrimSpace(text)
	d, err := time.ParseDuration(text)
	if err != nil {
		return fmt.Errorf("%q is not a duration: write it like 1h, 30m or 0", text)
	}
	*f.ptr(c) = d
	return nil
}

func (f durationField) check(c *Config) error {
	if d := *f.ptr(c); d < 0 {
		return fmt.Errorf("%s is negative: use 0 or more, like 1h", d)
	}
	return nil
}

func (durationField) isBool() bool { return false }
func (durationField) isList() bool { return false }
