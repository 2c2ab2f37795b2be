// Package refbackend is a tiny in-memory ticket REST API used by the
// conformance kit's own tests: the "vendor" behind internal/refplugin. It
// answers through a plugintest.FaultHandler, so it implements every optional
// Backend interface.
package refbackend

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// Ticket is one incident.
type Ticket struct {
	ID       string   `json:"id"`
	Number   string   `json:"number"`
	Key      string   `json:"key"`
	Title    string   `json:"title"`
	State    string   `json:"state"`
	Comments []string `json:"comments,omitempty"`
	CIs      []string `json:"cis,omitempty"`
}

// Server is the API on 127.0.0.1. It requires HTTP basic auth.
type Server struct {
	*plugintest.FaultHandler
	URL string

	user, pass string
	srv        *httptest.Server

	mu      sync.Mutex
	tickets map[string]*Ticket
	seq     int
}

var _ plugintest.Backend = (*Server)(nil)

// Start serves the API until Close.
func Start(user, pass string) *Server {
	s := &Server{user: user, pass: pass, tickets: map[string]*Ticket{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", s.auth(func(w http.ResponseWriter, r *http.Request) { reply(w, 200, map[string]string{"status": "ok"}) }))
	mux.HandleFunc("GET /api/tickets", s.auth(s.list))
	mux.HandleFunc("POST /api/tickets", s.auth(s.create))
	mux.HandleFunc("GET /api/tickets/{id}", s.auth(s.get))
	mux.HandleFunc("POST /api/tickets/{id}/{action}", s.auth(s.action))
	s.FaultHandler = plugintest.NewFaultHandler(mux)
	s.srv = httptest.NewServer(s.FaultHandler)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Reset clears faults; tickets stay (the kit uses fresh keys).
func (s *Server) Reset() { s.ResetFaults() }

// CountTickets counts tickets carrying key.
func (s *Server) CountTickets(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tickets {
		if t.Key == key {
			n++
		}
	}
	return n
}

func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.user || p != s.pass {
			reply(w, 401, map[string]any{"error": map[string]string{"message": "User Not Authenticated"}})
			return
		}
		next(w, r)
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	s.mu.Lock()
	out := []Ticket{}
	for _, t := range s.tickets {
		if t.Key == key {
			out = append(out, *t)
		}
	}
	s.mu.Unlock()
	reply(w, 200, map[string]any{"result": out})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var in Ticket
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Key == "" || in.Title == "" {
		reply(w, 400, map[string]any{"error": map[string]string{"message": "key and title required"}})
		return
	}
	s.mu.Lock()
	s.seq++
	t := &Ticket{ID: fmt.Sprintf("t%06d", s.seq), Number: fmt.Sprintf("INC%07d", s.seq), Key: in.Key, Title: in.Title, State: "new"}
	s.tickets[t.ID] = t
	cp := *t
	s.mu.Unlock()
	reply(w, 201, map[string]any{"result": cp})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t, ok := s.tickets[r.PathValue("id")]
	var cp Ticket
	if ok {
		cp = *t
	}
	s.mu.Unlock()
	if !ok {
		reply(w, 404, map[string]any{"error": map[string]string{"message": "No Record found"}})
		return
	}
	reply(w, 200, map[string]any{"result": cp})
}

// action: resolve, reopen, comment, ci. Resolving a resolved ticket is a 409,
// as some vendors do; the plugin must treat it as done.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[r.PathValue("id")]
	if !ok {
		reply(w, 404, map[string]any{"error": map[string]string{"message": "No Record found"}})
		return
	}
	switch r.PathValue("action") {
	case "resolve":
		if t.State == "resolved" {
			reply(w, 409, map[string]any{"error": map[string]string{"message": "already resolved"}})
			return
		}
		t.State = "resolved"
	case "reopen":
		t.State = "in_progress"
	case "comment":
		t.Comments = append(t.Comments, body.Text)
	case "ci":
		t.CIs = append(t.CIs, body.Text)
		reply(w, 200, map[string]any{"result": map[string]string{"id": "ci-" + strings.ToLower(strings.ReplaceAll(body.Text, "/", "-"))}})
		return
	default:
		reply(w, 404, map[string]any{"error": map[string]string{"message": "unknown action"}})
		return
	}
	reply(w, 200, map[string]any{"result": *t})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
