package alert

import (
	"errors"
	"testing"
)

func TestSeverityName(t *testing.T) {
	for sev, want := range map[int]string{-1: "", 0: "Sev0", 1: "Sev1", 2: "Sev2", 3: "Sev3", 4: "Sev4", 5: ""} {
		if got := SeverityName(sev); got != want {
			t.Errorf("SeverityName(%d) = %q, want %q", sev, got, want)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]int{
		"Sev0": 0, "Sev1": 1, "Sev2": 2, "Sev3": 3, "Sev4": 4, "sev2": 2, "SEV 3": 3,
		"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, " 3 ": 3, "3.0": 3,
		"": DefaultSeverity, "  ": DefaultSeverity,
		// Legacy Log Analytics.
		"Critical": 0, "Warning": 1, "Informational": 2, "critical": 0,
		// Azure Monitor's own names for Sev1 and Sev4.
		"Error": 1, "Verbose": 4,
	} {
		got, err := ParseSeverity(in)
		if err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"Sev5", "5", "-1", "2.5", "High", "Sev", "SevX", "NaN", "Inf"} {
		if got, err := ParseSeverity(in); !errors.Is(err, ErrInvalidSeverity) {
			t.Errorf("ParseSeverity(%q) = %d, %v; want ErrInvalidSeverity", in, got, err)
		}
	}
}
