package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/auth"
	"github.com/itsmbridge/itsmbridge/core/dispatch"
	"github.com/itsmbridge/itsmbridge/core/metrics"
	"github.com/itsmbridge/itsmbridge/core/normalize"
	"github.com/itsmbridge/itsmbridge/core/route"
	"github.com/itsmbridge/itsmbridge/core/store"
)

// Verifier authenticates the Authorization header of a call.
type Verifier interface {
	Verify(ctx context.Context, authorization string) (*auth.Claims, error)
}

// Router turns an alert into deliveries.
type Router interface {
	Route(a *alert.Alert) ([]route.Delivery, []route.Result)
}

// Store is the part of the store the ingress writes.
type Store interface {
	Ingest(ctx context.Context, rec store.IngestRecord) (store.IngestResult, error)
	Quarantine(ctx context.Context, rec store.QuarantineRecord) (int64, error)
}

// Source is one `source "azure_monitor" NAME` block.
type Source struct {
	Name                 string
	Path                 string
	Verifier             Verifier
	AllowedSubscriptions []string
	// Limiter, when set, bounds accepted calls; excess calls get 429 with
	// Retry-After (Azure retries 429).
	Limiter *rate.Limiter
}

// Snapshot is the configuration the ingress serves; Reload swaps it
// atomically, so in-flight requests finish on the one they started with.
type Snapshot struct {
	Sources      map[string]*Source // by path
	Router       Router
	MaxBodyBytes int64
}

// Handler serves every source.
type Handler struct {
	store   Store
	logger  hclog.Logger
	metrics *metrics.Metrics
	current atomic.Pointer[Snapshot]
	// RetryAfter is sent with 503 answers (default 5s).
	RetryAfter time.Duration
}

// New creates the ingress handler; call Set before serving.
func New(st Store, logger hclog.Logger, m *metrics.Metrics) *Handler {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Handler{store: st, logger: logger.Named("ingest"), metrics: m, RetryAfter: 5 * time.Second}
}

// Set installs a new snapshot (start-up and reload).
func (h *Handler) Set(s *Snapshot) {
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 1 << 20
	}
	h.current.Store(s)
}

type response struct {
	Status  string `json:"status,omitempty"`
	AlertID int64  `json:"alert_id,omitempty"`
	// Deliveries is how many backend deliveries were queued.
	Deliveries *int   `json:"deliveries,omitempty"`
	Error      string `json:"error,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := h.current.Load()
	if snap == nil {
		h.unavailable(w, "starting")
		return
	}
	src, ok := snap.Sources[r.URL.Path]
	if !ok {
		writeJSON(w, http.StatusNotFound, response{Error: "no source at this path"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, response{Error: "POST only"})
		return
	}
	log := h.logger.With("source", src.Name, "remote", r.RemoteAddr)
	start := time.Now()
	if src.Limiter != nil && !src.Limiter.Allow() {
		h.metrics.AlertReceived(src.Name, "", "rate_limited")
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, response{Error: "rate limit exceeded for this source"})
		return
	}

	if _, err := src.Verifier.Verify(r.Context(), r.Header.Get("Authorization")); err != nil {
		reason := auth.ReasonOf(err)
		h.metrics.AuthFailure(src.Name, reason)
		if errors.Is(err, auth.ErrUnavailable) {
			log.Error("cannot verify token: signing keys unavailable", "error", err)
			h.metrics.AlertReceived(src.Name, "", "unavailable")
			h.unavailable(w, "token signing keys unavailable")
			return
		}
		// The precise reason goes to the log, never to the caller.
		log.Warn("webhook call refused", "reason", reason, "error", err)
		h.metrics.AlertReceived(src.Name, "", "unauthorized")
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, response{Error: "unauthorized"})
		return
	}

	body, err := readBody(w, r, snap.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.metrics.AlertReceived(src.Name, "", "too_large")
			writeJSON(w, http.StatusBadRequest, response{Error: fmt.Sprintf("body larger than %d bytes", snap.MaxBodyBytes)})
			return
		}
		writeJSON(w, http.StatusBadRequest, response{Error: "reading body: " + err.Error()})
		return
	}

	a, err := normalize.Normalize(body)
	switch {
	case errors.Is(err, normalize.ErrUnknownSchema):
		h.quarantine(w, r.Context(), log, src, body, err)
		return
	case err != nil:
		h.metrics.AlertReceived(src.Name, "", "malformed")
		log.Warn("malformed payload", "error", err)
		writeJSON(w, http.StatusBadRequest, response{Error: err.Error()})
		return
	}
	a.Source = src.Name
	if a.FiredAt == "" && a.Status == alert.StatusFired {
		// Some legacy payloads carry no time at all; the receipt time is the
		// best stand-in for the reopen window and for humans.
		a.FiredAt = start.UTC().Format(time.RFC3339)
	}
	log = log.With("alert_id", a.ID, "status", a.Status)

	if !auth.SubscriptionAllowed(src.AllowedSubscriptions, a.ID, a.Targets) {
		h.metrics.AlertReceived(src.Name, a.Schema, "forbidden")
		h.metrics.AuthFailure(src.Name, "subscription_not_allowed")
		log.Warn("alert refused: subscription not in allowed_subscriptions", "subscription", a.Subscription)
		writeJSON(w, http.StatusForbidden, response{Error: "subscription not allowed for this source"})
		return
	}

	routed, _ := snap.Router.Route(a)
	rec := store.IngestRecord{Source: src.Name, Alert: *a, Raw: body, Deliveries: make([]store.NewDelivery, 0, len(routed))}
	for _, d := range routed {
		nd, err := NewDelivery(a, d)
		if err != nil {
			log.Error("encoding delivery", "error", err)
			writeJSON(w, http.StatusInternalServerError, response{Error: "internal error"})
			return
		}
		rec.Deliveries = append(rec.Deliveries, nd)
	}
	res, err := h.store.Ingest(r.Context(), rec)
	h.metrics.StoreCommit(time.Since(start))
	if err != nil {
		log.Error("storing alert failed", "error", err)
		h.metrics.AlertReceived(src.Name, a.Schema, "unavailable")
		h.unavailable(w, "store unavailable")
		return
	}
	if res.Duplicate {
		h.metrics.AlertReceived(src.Name, a.Schema, "duplicate")
		log.Debug("duplicate alert", "stored_id", res.AlertID)
		writeJSON(w, http.StatusOK, response{Status: "duplicate", AlertID: res.AlertID})
		return
	}
	n := len(res.Deliveries)
	h.metrics.AlertReceived(src.Name, a.Schema, "accepted")
	if n == 0 {
		log.Info("alert matched no route; stored as unrouted", "stored_id", res.AlertID)
	} else {
		log.Debug("alert accepted", "stored_id", res.AlertID, "deliveries", n)
	}
	writeJSON(w, http.StatusAccepted, response{Status: "accepted", AlertID: res.AlertID, Deliveries: &n})
}

func (h *Handler) quarantine(w http.ResponseWriter, ctx context.Context, log hclog.Logger, src *Source, body []byte, cause error) {
	id, err := h.store.Quarantine(ctx, store.QuarantineRecord{Source: src.Name, Raw: body, Reason: cause.Error()})
	if err != nil {
		log.Error("quarantining payload failed", "error", err)
		h.metrics.AlertReceived(src.Name, "", "unavailable")
		h.unavailable(w, "store unavailable")
		return
	}
	log.Warn("payload of unknown schema quarantined", "quarantine_id", id, "reason", cause)
	h.metrics.AlertReceived(src.Name, "", "quarantined")
	writeJSON(w, http.StatusAccepted, response{Status: "quarantined", Error: cause.Error()})
}

func (h *Handler) unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(h.RetryAfter.Seconds())))
	writeJSON(w, http.StatusServiceUnavailable, response{Error: msg})
}

// NewDelivery turns a routed delivery into the store's record.
func NewDelivery(a *alert.Alert, d route.Delivery) (store.NewDelivery, error) {
	ticket, err := json.Marshal(d.Ticket)
	if err != nil {
		return store.NewDelivery{}, err
	}
	opts, err := json.Marshal(dispatch.Options{
		Resolve:          d.Lifecycle.Resolve,
		ReopenWithin:     dispatch.Duration(d.Lifecycle.ReopenWithin),
		OnRepeat:         d.Lifecycle.OnRepeat,
		BindCIs:          d.CMDB.Bind,
		CreateMissingCIs: d.CMDB.CreateMissing,
	})
	if err != nil {
		return store.NewDelivery{}, err
	}
	return store.NewDelivery{
		Route:     d.Route,
		Backend:   store.BackendID{Type: d.Backend.Type, Name: d.Backend.Name},
		TicketKey: d.TicketKey,
		Event:     store.Event(a.Status),
		Ticket:    ticket,
		Options:   opts,
	}, nil
}

// readBody reads at most limit bytes of the body into a buffer sized from
// Content-Length: io.ReadAll starts at 512 bytes and grows (copying) about
// four times for a typical 3–10 KB alert.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	size := 512
	if n := r.ContentLength; n > 0 {
		size = int(min(n, limit)) + 1 // +1: room to read EOF without growing
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
