package sdk

import "strings"

// Severity of a diagnostic.
type Severity int

const (
	SeverityError Severity = iota
	SeverityWarning
)

// Diagnostic is a problem found in a plugin config. AttributePath names the
// attribute (e.g. ["oauth", "client_id"]) so the host can point at its range.
type Diagnostic struct {
	Severity      Severity
	Summary       string
	Detail        string
	AttributePath []string
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool {
	for _, x := range d {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Error renders the error diagnostics on one line each.
func (d Diagnostics) Error() string {
	var b strings.Builder
	for _, x := range d {
		if x.Severity != SeverityError {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		if len(x.AttributePath) > 0 {
			b.WriteString(strings.Join(x.AttributePath, "."))
			b.WriteString(": ")
		}
		b.WriteString(x.Summary)
		if x.Detail != "" {
			b.WriteString(": ")
			b.WriteString(x.Detail)
		}
	}
	return b.String()
}

// ErrorDiag returns a single error diagnostic for the attribute at path.
func ErrorDiag(summary, detail string, path ...string) Diagnostic {
	return Diagnostic{Severity: SeverityError, Summary: summary, Detail: detail, AttributePath: path}
}
