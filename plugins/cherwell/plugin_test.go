package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
)

func TestCreateIsIdempotentAndMapsFields(t *testing.T) {
	e := newTestEnv(t, envOpts{extra: `
fields = { Service = "Cloud", Category = "Monitoring" }
severity_map = { "1" = { Priority = "2", Urgency = "High" } }
`})
	req := createReq("key-1")
	req.Ticket.Fields = map[string]string{"Category": "Azure", "OwnedByTeam": "NOC"}
	ref1, err := e.p.Create(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	ref2, err := e.p.Create(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if ref1.ID != ref2.ID || ref1.Number != ref2.Number || ref1.URL != ref2.URL || ref1.ID == "" || ref1.Number != "101001" {
		t.Fatalf("refs differ or empty: %+v %+v", ref1, ref2)
	}
	if want := e.srv.URL + "/CherwellClient/Access/Incident/101001"; ref1.URL != want {
		t.Errorf("URL = %q, want %q", ref1.URL, want)
	}
	tk := e.ticket("key-1")
	want := map[string]string{
		"ShortDescription": "[Sev1] High CPU on vm-web-01", "Description": "CPU above 90%", "Priority": "2", "Urgency": "High",
		"Service": "Cloud", "Category": "Azure", "OwnedByTeam": "NOC", "Status": "New", "CorrelationID": "key-1",
	}
	for k, v := range want {
		if tk.Fields[k] != v {
			t.Errorf("%s = %q, want %q", k, tk.Fields[k], v)
		}
	}
	if tk.RecID != ref1.ID {
		t.Errorf("ref id %q != rec id %q", ref1.ID, tk.RecID)
	}
	// A fresh plugin (a restart) finds the ticket in CSM, not in memory.
	fresh := New(WithLogger(e.p.log))
	fresh.state.Store(e.p.state.Load())
	if ref3, err := fresh.Create(ctx(t), req); err != nil || ref3.ID != ref1.ID || ref3.URL != ref1.URL {
		t.Errorf("restarted create: %+v %v", ref3, err)
	}
	if n := e.emu.CountTickets("key-1"); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
}

func TestCreateEdgeCases(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	long := strings.Repeat("x", 300)
	req := createReq("key-long")
	req.Ticket.Title, req.Ticket.Description = long, ""
	if _, err := e.p.Create(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	tk := e.ticket("key-long")
	if n := len([]rune(tk.ShortDescription)); n != 250 || !strings.HasSuffix(tk.ShortDescription, "…") {
		t.Errorf("short description has %d runes: %q", n, tk.ShortDescription)
	}
	if tk.Fields["Description"] != long {
		t.Errorf("empty description did not fall back to the title")
	}

	// Severity 4 → Priority 5 with the default map; out-of-range severities clamp.
	for _, tc := range []struct {
		sev  int
		want string
	}{{0, "1"}, {4, "5"}, {9, "5"}, {-1, "1"}} {
		key := fmt.Sprintf("sev-%d", tc.sev)
		r := createReq(key)
		r.Ticket.Severity = tc.sev
		if _, err := e.p.Create(ctx(t), r); err != nil {
			t.Fatal(err)
		}
		if got := e.ticket(key).Priority; got != tc.want {
			t.Errorf("severity %d → Priority %q, want %q", tc.sev, got, tc.want)
		}
	}

	// A key longer than the correlation field is stored hashed, and still found.
	key := strings.Repeat("k", 400)
	ref1, err := e.p.Create(ctx(t), createReq(key))
	if err != nil {
		t.Fatal(err)
	}
	ref2, err := e.p.Create(ctx(t), createReq(key))
	if err != nil || ref2.ID != ref1.ID {
		t.Errorf("long key not idempotent: %+v %v", ref2, err)
	}
	if n := e.emu.CountTickets(e.p.state.Load().meta.corrValue(key)); n != 1 {
		t.Errorf("hashed key tickets = %d", n)
	}

	for name, mutate := range map[string]func(*sdk.CreateRequest){
		"unknown route field":   func(r *sdk.CreateRequest) { r.Ticket.Fields = map[string]string{"NoSuchField": "x"} },
		"read-only route field": func(r *sdk.CreateRequest) { r.Ticket.Fields = map[string]string{"RecID": "x"} },
		"empty key":             func(r *sdk.CreateRequest) { r.TicketKey = "" },
	} {
		r := createReq("bad-" + name)
		mutate(r)
		_, err := e.p.Create(ctx(t), r)
		if err == nil || sdk.IsRetryable(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
}

func TestFindOnlySeesOpenTickets(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	if ref, err := e.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "k"}); err != nil || ref != nil {
		t.Fatalf("Find before create: %+v %v", ref, err)
	}
	ref, err := e.p.Create(ctx(t), createReq("k"))
	if err != nil {
		t.Fatal(err)
	}
	// Keys are case-sensitive although CSM compares case-insensitively.
	if got, err := e.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "K"}); err != nil || got != nil {
		t.Errorf("Find(K) = %+v %v", got, err)
	}
	got, err := e.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "k"})
	if err != nil || got == nil || got.ID != ref.ID || got.State != "New" {
		t.Fatalf("Find = %+v %v", got, err)
	}
	if err := e.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: "k", Alert: resolvedAlert()}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "k"}); err != nil || got != nil {
		t.Errorf("Find after resolve = %+v %v", got, err)
	}
	// A new fire after the reopen window makes a new ticket.
	ref2, err := e.p.Create(ctx(t), createReq("k"))
	if err != nil || ref2.ID == ref.ID {
		t.Errorf("create after resolve: %+v %v", ref2, err)
	}
	if n := e.emu.CountTickets("k"); n != 2 {
		t.Errorf("tickets = %d, want 2", n)
	}
}

func TestResolveReopenComment(t *testing.T) {
	e := newTestEnv(t, envOpts{extra: `close_description = "Closed: {{.rule}} on {{.resource_name}} ({{.ticket_key}}) at {{.resolved_at}}"` + "\n"})
	ref, err := e.p.Create(ctx(t), createReq("k"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, TicketKey: "k", Text: "fired again"}); err != nil {
		t.Fatal(err)
	}
	// Reopening an open ticket changes nothing.
	if err := e.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if st := e.ticket("k").Status; st != "New" {
		t.Errorf("status after reopen of an open ticket = %q", st)
	}
	saves := e.countCalls("POST", "/savebusinessobject")
	for i := range 2 {
		if err := e.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: "k", Alert: resolvedAlert()}); err != nil {
			t.Fatalf("resolve #%d: %v", i+1, err)
		}
	}
	if n := e.countCalls("POST", "/savebusinessobject") - saves; n != 1 {
		t.Errorf("two resolves wrote %d times, want 1", n)
	}
	tk := e.ticket("k")
	if tk.Status != "Resolved" || tk.CloseDescription != "Closed: High CPU on vm-web-01 (k) at 2025-01-01T12:30:00Z" {
		t.Errorf("resolved ticket: %q %q", tk.Status, tk.CloseDescription)
	}
	if err := e.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if st := e.ticket("k").Status; st != "Reopened" {
		t.Errorf("status after reopen = %q", st)
	}
	// Reopened tickets are open again for Find.
	if got, _ := e.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "k"}); got == nil || got.ID != ref.ID {
		t.Errorf("Find after reopen = %+v", got)
	}
	if err := e.p.Comment(ctx(t), &sdk.CommentRequest{Ref: sdk.TicketRef{Number: ref.Number}, TicketKey: "k", Text: "by number"}); err != nil {
		t.Fatal(err)
	}
	if j := e.ticket("k").Journals; !slices.Equal(j, []string{"fired again", "by number"}) {
		t.Errorf("journals = %q", j)
	}

	// Unknown tickets are permanent errors.
	unknown := sdk.TicketRef{ID: strings.Repeat("a", 42)}
	for name, err := range map[string]error{
		"resolve": e.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: unknown, Alert: resolvedAlert()}),
		"reopen":  e.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: unknown}),
		"comment": e.p.Comment(ctx(t), &sdk.CommentRequest{Ref: unknown, Text: "x"}),
		"empty":   e.p.Resolve(ctx(t), &sdk.ResolveRequest{}),
	} {
		if err == nil || sdk.IsRetryable(err) {
			t.Errorf("%s unknown: %v, want permanent", name, err)
		}
		if name != "empty" && codeOf(err) != "RECORDNOTFOUND" {
			t.Errorf("%s unknown: code %q (%v)", name, codeOf(err), err)
		}
	}
}

func TestBindCI(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	ref, err := e.p.Create(ctx(t), createReq("k"))
	if err != nil {
		t.Fatal(err)
	}
	byRes, err := e.emu.SeedConfigItem(emulator.SeedCI{Type: "Config - Computer", Name: "some-other-name", ResourceID: vmID})
	if err != nil {
		t.Fatal(err)
	}
	byName, err := e.emu.SeedConfigItem(emulator.SeedCI{Type: "Config - Server", Name: "db-01"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		item        sdk.ConfigurationItem
		create      bool
		primary     bool
		wantID      string
		wantClass   string
		wantCreated bool
		wantErr     bool
	}{
		{name: "by resource id", item: sdk.ConfigurationItem{ResourceID: vmID, Name: "vm-web-01"}, primary: true, wantID: byRes.RecID, wantClass: "Config - Computer"},
		{name: "by name", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/x/resourcegroups/rg/providers/microsoft.sql/servers/db-01", Name: "db-01"}, wantID: byName.RecID, wantClass: "Config - Server"},
		{name: "missing without create", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/x/resourcegroups/rg/providers/microsoft.web/sites/app-1", Name: "app-1"}, wantErr: true},
		{name: "missing with create", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/x/resourcegroups/rg/providers/microsoft.web/sites/app-1", ResourceType: "microsoft.web/sites", Subscription: "x", ResourceGroup: "rg"}, create: true, wantClass: "Config - Server", wantCreated: true},
		{name: "created one is found next time", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/x/resourcegroups/rg/providers/microsoft.web/sites/app-1"}, wantClass: "Config - Server"},
	}
	var created string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ci, err := e.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, TicketKey: "k", Item: tc.item, CreateMissing: tc.create, Primary: tc.primary})
			if tc.wantErr {
				if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), "create_missing") {
					t.Fatalf("err = %v, want a permanent error that mentions create_missing", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantID != "" && ci.ID != tc.wantID {
				t.Errorf("ID = %q, want %q", ci.ID, tc.wantID)
			}
			if ci.Class != tc.wantClass || ci.Created != tc.wantCreated {
				t.Errorf("ci = %+v", ci)
			}
			if tc.wantCreated {
				created = ci.ID
				if ci.Name != "app-1" || e.emu.ConfigItems()[ci.ID] != "app-1" {
					t.Errorf("created CI name %q / %q", ci.Name, e.emu.ConfigItems()[ci.ID])
				}
			}
			if tc.name == "created one is found next time" && ci.ID != created {
				t.Errorf("found %q, want the created %q", ci.ID, created)
			}
			if !slices.Contains(e.ticket("k").LinkedCIs, ci.ID) {
				t.Errorf("CI %s not linked: %v", ci.ID, e.ticket("k").LinkedCIs)
			}
		})
	}
	tk := e.ticket("k")
	if tk.ConfigItemRecID != byRes.RecID || tk.ConfigItemDisplayName != "some-other-name" {
		t.Errorf("primary CI fields: %q %q", tk.ConfigItemRecID, tk.ConfigItemDisplayName)
	}
	if len(tk.LinkedCIs) != 3 {
		t.Errorf("linked = %v", tk.LinkedCIs)
	}
	if n := len(e.emu.ConfigItems()); n != 3 {
		t.Errorf("CMDB holds %d CIs, want 3", n)
	}
	// Binding to an unknown ticket is permanent.
	if _, err := e.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: sdk.TicketRef{ID: strings.Repeat("b", 42)}, Item: sdk.ConfigurationItem{ResourceID: vmID}}); err == nil || sdk.IsRetryable(err) {
		t.Errorf("bind to unknown ticket: %v", err)
	}
	if _, err := e.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{}}); err == nil {
		t.Error("bind of an empty item succeeded")
	}
}

func TestConcurrentBindCreatesOneCI(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	const n = 8
	refs := make([]*sdk.TicketRef, n)
	for i := range n {
		r, err := e.p.Create(ctx(t), createReq(fmt.Sprintf("k%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		refs[i] = r
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := e.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *refs[i], Item: sdk.ConfigurationItem{ResourceID: vmID, Name: "vm-web-01"}, CreateMissing: true})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(e.emu.ConfigItems()); got != 1 {
		t.Errorf("CMDB holds %d CIs, want 1", got)
	}
}

func TestHasErrorUnderHTTP200IsNotSuccess(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	// 1. The real thing: CSM rejects a field value with HTTP 200 + hasError.
	req := createReq("bad-priority")
	req.Ticket.Fields = map[string]string{"Priority": "9"}
	_, err := e.p.Create(ctx(t), req)
	if err == nil {
		t.Fatal("Create succeeded on a hasError response")
	}
	if sdk.IsRetryable(err) || !errors.Is(err, ErrHasError) || codeOf(err) != "VALIDATIONFAILED" {
		t.Errorf("err = %v (retryable %v)", err, sdk.IsRetryable(err))
	}
	if !strings.Contains(err.Error(), "field Priority") || !strings.Contains(err.Error(), `"9" is not a valid value`) {
		t.Errorf("error does not carry the vendor's field message: %v", err)
	}
	if n := e.emu.CountTickets("bad-priority"); n != 0 {
		t.Errorf("%d tickets", n)
	}
	// 2. An injected 200 whose body says hasError, on every kind of call.
	body := `{"hasError":true,"errorCode":"GENERALFAILURE","errorMessage":"Saving failed: the record is locked"}`
	ref, err := e.p.Create(ctx(t), createReq("k"))
	if err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"create": func() error { _, err := e.p.Create(ctx(t), createReq("k2")); return err },
		"resolve": func() error {
			return e.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, Alert: resolvedAlert()})
		},
		"comment": func() error { return e.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, Text: "x"}) },
		"bind": func() error {
			_, err := e.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{Name: "n"}, CreateMissing: true})
			return err
		},
	} {
		prefix := map[string]string{"create": "/CherwellAPI/api/V1/savebusinessobject", "resolve": "/CherwellAPI/api/V1/savebusinessobject",
			"comment": "/CherwellAPI/api/V1/saverelatedbusinessobject", "bind": "/CherwellAPI/api/V1/savebusinessobject"}[name]
		e.emu.InjectFault(emulator.Fault{Status: 200, Body: body, PathPrefix: prefix})
		err := op()
		e.emu.ClearFaults()
		if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), "record is locked") {
			t.Errorf("%s: err = %v, want a permanent error with the vendor message", name, err)
		}
	}
	if st := e.ticket("k").Status; st != "New" {
		t.Errorf("status = %q", st)
	}
}

func TestErrorClassification(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	validation := `{"hasError":true,"errorCode":"VALIDATIONFAILED","errorMessage":"bad","fieldValidationErrors":[{"error":"Short Description is required.","errorCode":"REQUIREDFIELD","fieldId":"x"}]}`
	tests := []struct {
		name       string
		fault      emulator.Fault
		retryable  bool
		retryAfter int
		contains   string
	}{
		{name: "429 with Retry-After", fault: emulator.Fault{Status: 429, RetryAfterSeconds: 7}, retryable: true, retryAfter: 7},
		{name: "503", fault: emulator.Fault{Status: 503}, retryable: true, contains: "An error has occurred."},
		{name: "500 with plain body", fault: emulator.Fault{Status: 500}, retryable: true},
		{name: "500 with validation errors", fault: emulator.Fault{Status: 500, Body: validation}, contains: "Short Description is required."},
		{name: "400", fault: emulator.Fault{Status: 400}, contains: "The request is invalid."},
		{name: "402 request failed", fault: emulator.Fault{Status: 402, Body: `{"hasError":true,"errorCode":"GENERALFAILURE","errorMessage":"Request failed"}`}, contains: "Request failed"},
		{name: "401 every time", fault: emulator.Fault{Status: 401}},
		{name: "404", fault: emulator.Fault{Status: 404}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.emu.InjectFault(tc.fault)
			_, err := e.p.Create(ctx(t), createReq("k-"+tc.name))
			e.emu.ClearFaults()
			if err == nil {
				t.Fatal("Create succeeded")
			}
			kind, after := sdk.Classify(err)
			if (kind == sdk.KindRetryable) != tc.retryable {
				t.Errorf("kind = %v (%v)", kind, err)
			}
			if int(after.Seconds()) != tc.retryAfter {
				t.Errorf("retry after = %v, want %ds", after, tc.retryAfter)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err %q lacks %q", err, tc.contains)
			}
		})
	}
	// The network: a closed server is retryable.
	e.srv.Close()
	if _, err := e.p.Create(ctx(t), createReq("offline")); err == nil || !sdk.IsRetryable(err) {
		t.Errorf("offline: %v", err)
	}
	if err := e.p.Health(ctx(t)); err == nil || !sdk.IsRetryable(err) {
		t.Errorf("health offline: %v", err)
	}
}

func TestNotConfigured(t *testing.T) {
	p := New()
	if _, err := p.Create(ctx(t), createReq("k")); err == nil || sdk.IsRetryable(err) {
		t.Errorf("Create unconfigured: %v", err)
	}
	if err := p.Health(ctx(t)); err == nil {
		t.Error("Health unconfigured succeeded")
	}
}
