package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Create idempotency under Jira Cloud's search lag.
//
// JQL search is eventually consistent: an issue created a moment ago may not
// be found for seconds. A lookup that only searches would create a second
// issue when a create is retried inside that window. Three layers close it:
//
//  1. recent: an in-process map ticket key → issue the plugin created, for
//     recentTTL. Retries inside one plugin process never depend on search.
//     Creates of one key are serialized (keyLocks), so concurrent retries do
//     not race either.
//  2. the ledger (dedup_ledger, on by default): before creating, the plugin
//     writes an entity property on the API user's own account
//     (PUT /rest/api/3/user/properties/{k}?accountId=me; any Jira user may
//     write their own) marking the key "pending"; after the create it
//     records the issue key there. Entity properties are read by key from
//     the database, not the search index, so a restarted plugin reads the
//     issue key back at once and GETs the issue (also read-after-write).
//  3. search: JQL on the correlation (label, text field or issue property)
//     finds issues created by earlier runs, by other tools, or before a
//     crash that lost the ledger's "created" record.
//
// The one case the ledger cannot answer is a create whose outcome is unknown
// (the response was lost: timeout, connection reset, crash) and not yet
// visible to search: the ledger says "pending" without an issue key. The
// plugin then does not create again while the pending mark is younger than
// search_lag; it returns a retryable error whose Retry-After is the rest of
// that window. Afterwards search is authoritative: found → that issue, not
// found → the first create did not happen and a new one is made. A search
// lag longer than search_lag can still produce a duplicate; that bound is
// the operator's setting. A definite failure (Jira answered 4xx) clears the
// pending mark, so a bad request does not wait the window out.
//
// Without the ledger (dedup_ledger = false, or the account may not write its
// own properties) only layers 1 and 3 remain: a restart during the lag can
// make a second issue.

// recentTTL bounds how long the in-process map remembers a create.
const recentTTL = 15 * time.Minute

type recentEntry struct {
	ref      sdk.TicketRef
	complete bool // correlation and property written
	at       time.Time
}

// recent is the in-process map ticket key → created issue.
type recent struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]recentEntry
}

func newRecent(ttl time.Duration) *recent { return &recent{ttl: ttl, m: map[string]recentEntry{}} }

func (r *recent) get(key string, now time.Time) (recentEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[key]
	if ok && now.Sub(e.at) > r.ttl {
		delete(r.m, key)
		return recentEntry{}, false
	}
	return e, ok
}

func (r *recent) put(key string, e recentEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range r.m {
		if e.at.Sub(v.at) > r.ttl {
			delete(r.m, k)
		}
	}
	r.m[key] = e
}

func (r *recent) drop(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

// keyLocks serializes operations per ticket key; waiting honours ctx.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int
}

func newKeyLocks() *keyLocks { return &keyLocks{m: map[string]*keyLock{}} }

func (k *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, sdk.Retryable(fmt.Errorf("waiting for another operation on ticket key %q: %w", key, ctx.Err()), 0)
	}
}

// Ledger states.
const (
	ledgerPending = "pending"
	ledgerCreated = "created"
)

// ledgerEntry is the value of a ledger property.
type ledgerEntry struct {
	TicketKey string `json:"ticketKey"`
	Project   string `json:"project"`
	State     string `json:"state"`
	IssueID   string `json:"issueId,omitempty"`
	IssueKey  string `json:"issueKey,omitempty"`
	Complete  bool   `json:"complete,omitempty"`
	At        string `json:"at"`
}

// ledgerKey is the user property key for a ticket key (property keys are
// limited to 255 characters, ticket keys are not).
func (st *state) ledgerKey(ticketKey string) string {
	h := sha256.Sum256([]byte(st.cfg.Project + "\x00" + ticketKey))
	return "itsmbridge.t." + hex.EncodeToString(h[:20])
}

func (st *state) ledgerPath(ticketKey string) (string, url.Values) {
	return "/rest/api/3/user/properties/" + url.PathEscape(st.ledgerKey(ticketKey)), url.Values{"accountId": {st.accountID}}
}

func (st *state) ledgerEnabled() bool {
	return st.cfg.DedupLedger && st.accountID != "" && !st.ledgerOff.Load()
}

// ledgerGet reads the ledger entry of a key; nil when there is none.
func (st *state) ledgerGet(ctx context.Context, key string) (*ledgerEntry, error) {
	if !st.ledgerEnabled() {
		return nil, nil
	}
	path, q := st.ledgerPath(key)
	var prop struct {
		Value ledgerEntry `json:"value"`
	}
	err := st.client.do(ctx, "read dedup ledger", http.MethodGet, path, q, nil, &prop)
	switch {
	case status(err) == http.StatusNotFound:
		return nil, nil
	case st.ledgerDenied(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if prop.Value.TicketKey != key {
		return nil, nil // a hash collision or a foreign property: ignore it
	}
	return &prop.Value, nil
}

// ledgerPut writes the ledger entry of a key.
func (st *state) ledgerPut(ctx context.Context, e ledgerEntry) error {
	if !st.ledgerEnabled() {
		return nil
	}
	e.Project = st.cfg.Project
	e.At = st.now().UTC().Format(time.RFC3339Nano)
	path, q := st.ledgerPath(e.TicketKey)
	err := st.client.do(ctx, "write dedup ledger", http.MethodPut, path, q, e, nil)
	if st.ledgerDenied(err) {
		return nil
	}
	return err
}

// ledgerDelete removes a key's ledger entry, best effort.
func (st *state) ledgerDelete(ctx context.Context, key string) {
	if !st.ledgerEnabled() {
		return
	}
	path, q := st.ledgerPath(key)
	if err := st.client.do(ctx, "clear dedup ledger", http.MethodDelete, path, q, nil, nil); err != nil && status(err) != http.StatusNotFound {
		st.log.Debug("could not clear the dedup ledger entry", "ticket_key", key, "error", err)
	}
}

// ledgerDenied turns the ledger off when the account may not use it (403),
// so creates fall back to search-only deduplication instead of failing.
func (st *state) ledgerDenied(err error) bool {
	if status(err) != http.StatusForbidden {
		return false
	}
	if st.ledgerOff.CompareAndSwap(false, true) {
		st.log.Warn("the API user may not write its own entity properties: dedup ledger disabled; a plugin restart during Jira's search lag can duplicate an issue", "error", err)
	}
	return true
}

// pendingError is the answer to a retried create whose first attempt may
// still be invisible to search.
func pendingError(key string, since time.Time, wait time.Duration) error {
	return sdk.Retryable(fmt.Errorf("an earlier create for ticket key %q (started %s) has an unknown outcome and may not be visible to Jira search yet; not creating again before the search lag has passed",
		key, since.UTC().Format(time.RFC3339)), wait)
}

// found is a lookup result.
type found struct {
	ref      sdk.TicketRef
	complete bool
}

// lookup finds the open issue carrying key: in-process map, ledger, search.
// pendingSince is set when the ledger has an unresolved pending create.
func (st *state) lookup(ctx context.Context, key string) (f *found, pendingSince time.Time, err error) {
	if e, ok := st.recent.get(key, st.now()); ok {
		return &found{ref: e.ref, complete: e.complete}, time.Time{}, nil
	}
	le, err := st.ledgerGet(ctx, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	if le != nil && le.State == ledgerCreated && le.IssueKey != "" {
		iss, err := st.getIssue(ctx, le.IssueKey, "status")
		switch {
		case status(err) == http.StatusNotFound:
			// Deleted since: search decides.
		case err != nil:
			return nil, time.Time{}, err
		case iss.Fields.Status.StatusCategory.Key != "done":
			return &found{ref: st.ref(iss.ID, iss.Key), complete: le.Complete}, time.Time{}, nil
		}
	}
	if f, err := st.search(ctx, key); err != nil || f != nil {
		return f, time.Time{}, err
	}
	if le != nil && le.State == ledgerPending {
		if at, err := time.Parse(time.RFC3339Nano, le.At); err == nil {
			pendingSince = at
		}
	}
	return nil, pendingSince, nil
}

// searchJQL is the lookup query for key.
func (st *state) searchJQL(key string) string {
	var clause string
	switch st.cfg.Correlation.Type {
	case corrField:
		// Text fields support only ~ in JQL: search the phrase, then compare
		// the value exactly.
		clause = fmt.Sprintf("cf[%d] ~ %s", st.corrField.Schema.CustomID, jqlString(`"`+key+`"`))
	case corrProperty:
		clause = fmt.Sprintf("issue.property[%s].ticketKey = %s", st.cfg.Correlation.Property, jqlString(key))
	default:
		clause = "labels = " + jqlString(labelFor(key))
	}
	return fmt.Sprintf("project = %s AND %s AND statusCategory != Done ORDER BY created ASC", jqlString(st.cfg.Project), clause)
}

// search runs the lookup JQL and checks each hit exactly.
func (st *state) search(ctx context.Context, key string) (*found, error) {
	fields := []string{"status", "labels"}
	if st.corrField.ID != "" {
		fields = append(fields, st.corrField.ID)
	}
	req := map[string]any{
		"jql": st.searchJQL(key), "fields": fields, "properties": []string{st.cfg.Correlation.Property}, "maxResults": 20,
	}
	var resp struct {
		Issues []struct {
			ID     string                     `json:"id"`
			Key    string                     `json:"key"`
			Fields map[string]json.RawMessage `json:"fields"`
			Props  map[string]json.RawMessage `json:"properties"`
		} `json:"issues"`
	}
	if err := st.client.do(ctx, "search for the ticket key", http.MethodPost, "/rest/api/3/search/jql", nil, req, &resp); err != nil {
		return nil, err
	}
	for _, is := range resp.Issues {
		var prop struct {
			TicketKey string `json:"ticketKey"`
		}
		_ = json.Unmarshal(is.Props[st.cfg.Correlation.Property], &prop)
		hasProp := prop.TicketKey == key
		var carried bool
		switch st.cfg.Correlation.Type {
		case corrField:
			var v string
			_ = json.Unmarshal(is.Fields[st.corrField.ID], &v)
			carried = v == key
		case corrProperty:
			carried = hasProp
		default:
			var labels []string
			_ = json.Unmarshal(is.Fields["labels"], &labels)
			for _, l := range labels {
				carried = carried || l == labelFor(key)
			}
		}
		if carried {
			return &found{ref: st.ref(is.ID, is.Key), complete: hasProp}, nil
		}
	}
	return nil, nil
}

// labelFor is the correlation label of a key: the key itself when it is a
// valid label, else a stable hash of it.
func labelFor(key string) string {
	if key != "" && len(key) <= 255 && !strings.ContainsAny(key, " \t\r\n") {
		return key
	}
	h := sha256.Sum256([]byte(key))
	return "itsmbridge-" + hex.EncodeToString(h[:20])
}

var errEmptyKey = errors.New("empty ticket key")
