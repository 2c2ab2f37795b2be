package alert

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidSeverity is matched (errors.Is) by every ParseSeverity error.
var ErrInvalidSeverity = errors.New("invalid severity")

// SeverityName returns "Sev0"…"Sev4" for a valid severity and "" otherwise.
func SeverityName(sev int) string {
	if sev < MinSeverity || sev > MaxSeverity {
		return ""
	}
	return "Sev" + strconv.Itoa(sev)
}

// legacySeverities are the severity words of the legacy Log Analytics alert
// API (Critical, Warning, Informational), mapped as Azure maps them when a
// legacy rule moves to scheduledQueryRules (0, 1, 2). "Error" and "Verbose"
// are Azure Monitor's names for Sev1 and Sev4.
var legacySeverities = map[string]int{
	"critical":      0,
	"error":         1,
	"warning":       1,
	"informational": 2,
	"verbose":       4,
}

// ParseSeverity maps the severity forms Azure sends to 0…4: "Sev0"…"Sev4"
// (any case), "0"…"4" (also "3.0"), the legacy Log Analytics words and "" (no
// severity: DefaultSeverity). Anything else is an error rather than a guess,
// because silently downgrading a Sev0 is the worst failure here.
func ParseSeverity(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return DefaultSeverity, nil
	}
	if n, ok := legacySeverities[strings.ToLower(t)]; ok {
		return n, nil
	}
	num := t
	if len(t) > 3 && strings.EqualFold(t[:3], "sev") {
		num = strings.TrimSpace(t[3:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f != float64(int(f)) || f < MinSeverity || f > MaxSeverity {
		return 0, fmt.Errorf("%w %q: want Sev0…Sev4, 0…4, Critical, Warning or Informational", ErrInvalidSeverity, s)
	}
	return int(f), nil
}
