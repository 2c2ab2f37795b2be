package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/itsmbridge/itsmbridge/core/admin"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/console"
	"github.com/itsmbridge/itsmbridge/core/ingest"
	"github.com/itsmbridge/itsmbridge/core/normalize"
	"github.com/itsmbridge/itsmbridge/core/store"
)

// runtime adapts the Bridge to admin.Runtime.
type runtime struct{ b *Bridge }

func (r runtime) Ready(ctx context.Context) error { return r.b.Ready(ctx) }

func (r runtime) Reload(ctx context.Context) (any, bool) {
	res := r.b.Reload(ctx)
	return res, res.OK
}

func (r runtime) Backends() any { return r.b.Backends() }

// ConfigView is GET /api/v1/config: the running configuration, secrets
// redacted, with the last reload's outcome.
type ConfigView struct {
	Config     config.Dump  `json:"config"`
	LastReload ReloadResult `json:"last_reload"`
}

func (r runtime) ConfigDump() any {
	return ConfigView{Config: r.b.Config().Dump(), LastReload: r.b.LastReload()}
}

func (r runtime) ReplayQuarantine(ctx context.Context, id int64) (store.IngestResult, error) {
	return r.b.ReplayQuarantine(ctx, id)
}

// ReplayQuarantine normalizes and routes a quarantined payload with the
// running configuration and, when a parser now recognises it, ingests it and
// removes it from quarantine in one transaction.
func (b *Bridge) ReplayQuarantine(ctx context.Context, id int64) (store.IngestResult, error) {
	q, err := b.store.GetQuarantine(ctx, id)
	if err != nil {
		return store.IngestResult{}, err
	}
	a, err := normalize.Normalize(q.Raw)
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("%w: payload %d still does not normalize: %v", store.ErrInvalid, id, err)
	}
	a.Source = q.Source
	routed, _ := b.Router().Route(a)
	rec := store.IngestRecord{Source: q.Source, Alert: *a, Raw: q.Raw}
	for _, d := range routed {
		nd, err := ingest.NewDelivery(a, d)
		if err != nil {
			return store.IngestResult{}, err
		}
		rec.Deliveries = append(rec.Deliveries, nd)
	}
	res, err := b.store.ReplayQuarantine(ctx, id, rec)
	if errors.Is(err, store.ErrNotFound) {
		return res, fmt.Errorf("quarantined payload %d: %w", id, err)
	}
	return res, err
}

// adminHandler serves the admin API with the console mounted at / inside
// its authenticated group; WithLogin lets a browser present the token.
func (b *Bridge) adminHandler() http.Handler {
	token := b.Config().Server.AdminToken
	con := console.New(console.Options{Store: b.store, Runtime: consoleRuntime{b}, Logger: b.logger})
	return console.WithLogin(admin.New(admin.Options{
		Store:   b.store,
		Runtime: runtime{b},
		Metrics: b.metrics.Handler(),
		Token:   token,
		Logger:  b.logger,
		Extra:   con.Mount,
	}), token)
}

// consoleRuntime adapts the Bridge to console.Runtime.
type consoleRuntime struct{ b *Bridge }

func (r consoleRuntime) Config() *config.Config { return r.b.Config() }

func (r consoleRuntime) LastReload() console.Reload {
	l := r.b.LastReload()
	return console.Reload{At: l.At, OK: l.OK, Diagnostics: l.Diagnostics}
}

func (r consoleRuntime) Backends() []console.Backend {
	var out []console.Backend
	for _, s := range r.b.Backends() {
		out = append(out, console.Backend{ID: s.ID, Status: s.Plugin, Info: s.Info})
	}
	return out
}
