package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

func readBody(r *http.Request) []byte {
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	return b
}

// controlRoutes serves the /_emulator/ control surface (no authentication,
// not in the call log, not subject to faults).
func (e *Emulator) controlRoutes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /_emulator/", func(w http.ResponseWriter, r *http.Request) {
		users := []string{}
		for _, u := range e.opts.Users {
			users = append(users, u.UserName)
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"emulator": "servicenow", "users": users,
			"endpoints": []string{
				"POST /_emulator/reset", "GET|POST|DELETE /_emulator/faults", "GET|DELETE /_emulator/calls",
				"POST /_emulator/seed", "GET /_emulator/tickets?correlation=KEY", "POST|DELETE /_emulator/ratelimit",
				"POST /_emulator/tokens/expire", "GET /_emulator/journal?sys_id=ID",
			},
		})
	})
	m.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.Unmarshal(readBody(r), &f); err != nil {
			writeError(w, http.StatusBadRequest, "bad fault", err.Error())
			return
		}
		if f.Rate < 0 || f.Rate > 1 || f.Count < 0 || (f.Status != 0 && (f.Status < 100 || f.Status > 599)) {
			writeError(w, http.StatusBadRequest, "bad fault", "status must be 100..599, rate 0..1, count >= 0")
			return
		}
		e.InjectFault(f)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		out := []Fault{}
		for _, f := range e.faults {
			out = append(out, *f)
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	m.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_emulator/calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.Calls())
	})
	m.HandleFunc("DELETE /_emulator/calls", func(w http.ResponseWriter, r *http.Request) {
		e.ClearCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_emulator/seed", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			CIs     []CI `json:"cis"`
			Records []struct {
				Table  string            `json:"table"`
				Values map[string]string `json:"values"`
			} `json:"records"`
		}
		if err := json.Unmarshal(readBody(r), &req); err != nil {
			writeError(w, http.StatusBadRequest, "bad seed", err.Error())
			return
		}
		res := map[string][]string{"cis": {}, "records": {}}
		for _, ci := range req.CIs {
			id, err := e.SeedCI(ci)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad seed", err.Error())
				return
			}
			res["cis"] = append(res["cis"], id)
		}
		for _, rec := range req.Records {
			id, err := e.SeedRecord(rec.Table, rec.Values)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad seed", err.Error())
				return
			}
			res["records"] = append(res["records"], id)
		}
		writeJSON(w, http.StatusOK, map[string]any{"result": res})
	})
	m.HandleFunc("GET /_emulator/tickets", func(w http.ResponseWriter, r *http.Request) {
		tickets := e.Tickets(r.URL.Query().Get("correlation"))
		writeJSON(w, http.StatusOK, map[string]any{"count": len(tickets), "result": tickets})
	})
	m.HandleFunc("GET /_emulator/journal", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"result": e.Journal(r.URL.Query().Get("sys_id"))})
	})
	m.HandleFunc("POST /_emulator/ratelimit", func(w http.ResponseWriter, r *http.Request) {
		var rule RateRule
		if err := json.Unmarshal(readBody(r), &rule); err != nil || rule.Limit < 0 {
			writeError(w, http.StatusBadRequest, "bad rate rule", "want {limit, window_seconds, user, path_prefix}")
			return
		}
		rule.Window = time.Duration(rule.WindowSecs) * time.Second
		e.SetRateRule(&rule)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("DELETE /_emulator/ratelimit", func(w http.ResponseWriter, r *http.Request) {
		e.SetRateRule(nil)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_emulator/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		e.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	e.ctl = m
}

// Ticket summarises an incident for the control surface.
type Ticket struct {
	SysID         string `json:"sys_id"`
	Number        string `json:"number"`
	State         string `json:"state"`
	CorrelationID string `json:"correlation_id"`
	ReopenCount   string `json:"reopen_count"`
	CmdbCI        string `json:"cmdb_ci"`
}

// Tickets lists the incidents whose correlation_id equals key
// (case-insensitively, as an instance query would match).
func (e *Emulator) Tickets(key string) []Ticket {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Ticket{}
	rows := slices.Clone(e.idx["correlation_id"][strings.ToLower(key)])
	slices.SortFunc(rows, func(a, b *record) int { return int(a.seq - b.seq) })
	for _, rec := range rows {
		if rec.class != "incident" || !strings.EqualFold(rec.v["correlation_id"], key) {
			continue
		}
		out = append(out, Ticket{SysID: rec.v["sys_id"], Number: rec.v["number"], State: rec.v["state"],
			CorrelationID: rec.v["correlation_id"], ReopenCount: rec.v["reopen_count"], CmdbCI: rec.v["cmdb_ci"]})
	}
	return out
}

// CountTickets counts the incidents carrying correlation key.
func (e *Emulator) CountTickets(key string) int { return len(e.Tickets(key)) }

// Record returns a copy of the row id of table (or a child table).
func (e *Emulator) Record(table, id string) (map[string]string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := e.getLocked(table, id)
	if rec == nil {
		return nil, false
	}
	out := map[string]string{}
	for k, v := range rec.v {
		out[k] = v
	}
	if e.cat.hasSysClassName(rec.class) {
		out["sys_class_name"] = rec.class
	}
	return out, true
}

// Records returns copies of the rows of table matching an encoded query.
func (e *Emulator) Records(table, query string) []map[string]string {
	cq := compile(ParseQuery(query), table, e.validField, e.opts.InvalidQueryReturnsNoRows)
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []map[string]string
	for _, rec := range e.listLocked(table, cq) {
		m := map[string]string{}
		for k, v := range rec.v {
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}

// JournalEntry is one sys_journal_field row.
type JournalEntry struct {
	Element   string `json:"element"`
	Value     string `json:"value"`
	CreatedOn string `json:"sys_created_on"`
	CreatedBy string `json:"sys_created_by"`
}

// Journal lists the journal entries (work_notes, comments) of a record,
// oldest first.
func (e *Emulator) Journal(sysID string) []JournalEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []JournalEntry{}
	for _, j := range e.rows["sys_journal_field"] {
		if j.v["element_id"] == sysID {
			out = append(out, JournalEntry{Element: j.v["element"], Value: j.v["value"], CreatedOn: j.v["sys_created_on"], CreatedBy: j.v["sys_created_by"]})
		}
	}
	return out
}
