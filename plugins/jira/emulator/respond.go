package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeNoContent answers 204 with no body. The Content-Type is set because
// the platform description declares application/json content for its 204s.
func writeNoContent(w http.ResponseWriter) {
	writeEmpty(w, http.StatusNoContent)
}

// writeEmpty answers status with no data. A 204 has no body (RFC 9110); other
// statuses (entity property writes: 200/201) send {} since the description
// declares a JSON body of schema {} for them.
func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		_, _ = w.Write([]byte("{}"))
	}
}

// errorCollection is the platform (and Assets) error body.
type errorCollection struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

func writePlatformError(w http.ResponseWriter, status int, messages []string, fieldErrs map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if fieldErrs == nil {
		fieldErrs = map[string]string{}
	}
	writeJSON(w, status, errorCollection{ErrorMessages: messages, Errors: fieldErrs})
}

// jsmError is the JSM error body.
type jsmError struct {
	ErrorMessage     string       `json:"errorMessage"`
	I18nErrorMessage i18nErrorMsg `json:"i18nErrorMessage"`
}

type i18nErrorMsg struct {
	I18nKey    string   `json:"i18nKey"`
	Parameters []string `json:"parameters"`
}

func writeJSMError(w http.ResponseWriter, status int, msg, key string, params []string) {
	if params == nil {
		params = []string{}
	}
	writeJSON(w, status, jsmError{ErrorMessage: msg, I18nErrorMessage: i18nErrorMsg{I18nKey: key, Parameters: params}})
}

// writeAPIError writes msg in the error format of the API family.
func writeAPIError(w http.ResponseWriter, a api, status int, msg, i18nKey string, fieldErrs map[string]string) {
	if a == apiJSM {
		writeJSMError(w, status, msg, i18nKey, nil)
		return
	}
	var msgs []string
	if msg != "" {
		msgs = []string{msg}
	}
	writePlatformError(w, status, msgs, fieldErrs)
}

// decodeBody decodes the request body into v; on failure it answers 400 in
// the API's error format and returns false.
func (c *call) decodeBody(v any) bool {
	dec := json.NewDecoder(c.r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeAPIError(c.w, apiOf(c.r.URL.Path), http.StatusBadRequest,
			"Unexpected request body: "+err.Error(), "sd.request.body.invalid", nil)
		return false
	}
	return true
}

// jiraTime formats t with milliseconds, as Jira does. Jira itself writes the
// offset as +0000, which is not RFC 3339 although the description declares
// format date-time; the emulator follows the description (+00:00) so the
// contract test holds, and clients must accept both.
func jiraTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000-07:00")
}

// dateDTO is JSM's date representation.
func dateDTO(t time.Time) map[string]any {
	return map[string]any{
		"iso8601":     t.UTC().Format("2006-01-02T15:04:05-0700"),
		"jira":        t.UTC().Format("2006-01-02T15:04:05.000-0700"),
		"friendly":    t.UTC().Format("02/Jan/06 3:04 PM"),
		"epochMillis": t.UnixMilli(),
	}
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// ADF helpers.

// textToADF wraps plain text in an ADF document: blank lines separate
// paragraphs and single newlines become hard breaks.
func textToADF(s string) json.RawMessage {
	type node map[string]any
	var paras []node
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		var content []node
		for i, line := range strings.Split(p, "\n") {
			if i > 0 {
				content = append(content, node{"type": "hardBreak"})
			}
			if line != "" {
				content = append(content, node{"type": "text", "text": line})
			}
		}
		paras = append(paras, node{"type": "paragraph", "content": content})
	}
	if paras == nil {
		paras = []node{}
	}
	b, _ := json.Marshal(node{"type": "doc", "version": 1, "content": paras})
	return b
}

// adfNode is the part of an ADF node the emulator reads.
type adfNode struct {
	Type    string          `json:"type"`
	Version json.Number     `json:"version,omitempty"`
	Text    string          `json:"text,omitempty"`
	Content []adfNode       `json:"content,omitempty"`
	Attrs   json.RawMessage `json:"attrs,omitempty"`
}

// validADF reports whether raw is an ADF document ({"type":"doc","version":1,...}).
func validADF(raw json.RawMessage) bool {
	var n adfNode
	if err := json.Unmarshal(raw, &n); err != nil {
		return false
	}
	return n.Type == "doc" && n.Version.String() == "1"
}

// adfText extracts the plain text of an ADF document.
func adfText(raw json.RawMessage) string {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var n adfNode
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	var b strings.Builder
	var walk func(n adfNode)
	walk = func(n adfNode) {
		switch n.Type {
		case "text":
			b.WriteString(n.Text)
		case "hardBreak":
			b.WriteString("\n")
		}
		for _, c := range n.Content {
			walk(c)
		}
		if n.Type == "paragraph" || n.Type == "heading" {
			b.WriteString("\n\n")
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// containsWords is JQL's `~`: every word of the query occurs in the text
// (case-insensitive; a trailing * matches a prefix).
func containsWords(text, query string) bool {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' && r != '.'
	})
	set := map[string]bool{}
	for _, w := range words {
		set[w] = true
	}
	lower := strings.ToLower(text)
	for _, q := range strings.Fields(strings.ToLower(query)) {
		q = strings.Trim(q, `"`)
		if strings.HasSuffix(q, "*") {
			p := strings.TrimSuffix(q, "*")
			found := false
			for w := range set {
				if strings.HasPrefix(w, p) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
			continue
		}
		if !set[q] && !strings.Contains(lower, q) {
			return false
		}
	}
	return true
}
