package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// adminClient reads the bridge's admin API (DESIGN §6), the way an operator
// would; the demo never opens the store itself.
type adminClient struct {
	base   string // "http://host:port"
	client *http.Client
}

type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// alertDetail is GET /api/v1/alerts/{id}.
type alertDetail struct {
	Alert      store.AlertRecord `json:"alert"`
	Deliveries []store.Delivery  `json:"deliveries"`
}

func (a *adminClient) get(ctx context.Context, path string, q url.Values, out any) error {
	u := a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decoding: %w", u, err)
	}
	return nil
}

// stats is GET /api/v1/stats.
func (a *adminClient) stats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	err := a.get(ctx, "/api/v1/stats", nil, &st)
	return st, err
}

// alertsByID lists the stored records (fired, resolved) of an Azure alert id.
func (a *adminClient) alertsByID(ctx context.Context, alertID string) ([]store.AlertRecord, error) {
	var p page[store.AlertRecord]
	err := a.get(ctx, "/api/v1/alerts", url.Values{"alert_id": {alertID}, "limit": {"100"}}, &p)
	return p.Items, err
}

// alert is GET /api/v1/alerts/{id}: the record and its deliveries.
func (a *adminClient) alert(ctx context.Context, id int64) (alertDetail, error) {
	var d alertDetail
	err := a.get(ctx, "/api/v1/alerts/"+strconv.FormatInt(id, 10), nil, &d)
	return d, err
}

// ticket returns the newest ticket of a backend and ticket key.
func (a *adminClient) ticket(ctx context.Context, backend store.BackendID, key string) (store.Ticket, bool, error) {
	var p page[store.Ticket]
	err := a.get(ctx, "/api/v1/tickets", url.Values{"backend": {backend.String()}, "key": {key}}, &p)
	if err != nil || len(p.Items) == 0 {
		return store.Ticket{}, false, err
	}
	best := p.Items[0]
	for _, t := range p.Items[1:] {
		if t.Generation > best.Generation {
			best = t
		}
	}
	return best, true, nil
}

// deadLetters lists the dead-lettered deliveries.
func (a *adminClient) deadLetters(ctx context.Context) ([]store.Delivery, error) {
	var p page[store.Delivery]
	err := a.get(ctx, "/api/v1/dlq", url.Values{"limit": {"100"}}, &p)
	return p.Items, err
}
