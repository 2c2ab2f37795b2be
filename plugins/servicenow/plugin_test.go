package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

func TestCreateIsIdempotent(t *testing.T) {
	f := newFixture(t, emulator.Options{}, `assignment_group = "Cloud Ops"`)
	ref := f.create("key-1")
	if !sysIDRe.MatchString(ref.ID) || ref.Number != "INC0010001" || ref.URL != f.srv.URL+"/incident.do?sys_id="+ref.ID || ref.State != "1" {
		t.Fatalf("ref = %+v", ref)
	}
	again := f.create("key-1")
	if *again != *ref {
		t.Errorf("second create = %+v, want %+v", again, ref)
	}
	// a restarted plugin finds the incident through the correlation field
	fresh := NewWithLogger(hclog.NewNullLogger())
	f.configure(fresh, `assignment_group = "Cloud Ops"`)
	if r, err := fresh.Create(ctx(t), createReq("key-1")); err != nil || r.ID != ref.ID {
		t.Errorf("restarted create = %+v, %v", r, err)
	}
	if n := f.emu.CountTickets("key-1"); n != 1 {
		t.Errorf("%d tickets for key-1", n)
	}
	if other := f.create("key-2"); other.ID == ref.ID {
		t.Error("another key reused the incident")
	}
	rec := f.incident(ref.ID)
	want := map[string]string{
		"short_description": "[Sev1] High CPU on vm-web-01", "description": "Percentage CPU above 90% for 5 minutes",
		"impact": "1", "urgency": "2", "priority": "2", "correlation_id": "key-1", "correlation_display": "itsmbridge",
		"assignment_group": f.emu.Records("sys_user_group", "name=Cloud Ops")[0]["sys_id"],
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %q, want %q", k, rec[k], v)
		}
	}
}

func TestCreateFieldsAndSeverityMap(t *testing.T) {
	f := newFixture(t, emulator.Options{}, `
severity_map = { Sev1 = { impact = "3", urgency = "3" } }
category = "software"
caller_id = "sandbox"
fields = { contact_type = "monitoring", priority_ignored = "x" }`)
	req := createReq("k")
	req.Ticket.Fields = map[string]string{"assignment_group": "Network", "urgency": "1", "priority": "1"}
	ref, err := f.p.Create(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.incident(ref.ID)
	network := f.emu.Records("sys_user_group", "name=Network")[0]["sys_id"]
	caller := f.emu.Records("sys_user", "user_name=sandbox")[0]["sys_id"]
	want := map[string]string{"impact": "3", "urgency": "1", "priority": "3", "category": "software",
		"contact_type": "monitoring", "assignment_group": network, "caller_id": caller}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %q, want %q", k, rec[k], v)
		}
	}
	// Sev0 keeps its default (the map merges over the defaults)
	req = createReq("k0")
	req.Ticket.Severity = 0
	ref, _ = f.p.Create(ctx(t), req)
	if rec := f.incident(ref.ID); rec["priority"] != "1" {
		t.Errorf("Sev0 priority = %s", rec["priority"])
	}
	req = createReq("k-bad-group")
	req.Ticket.Fields = map[string]string{"assignment_group": "No Such Group"}
	_, err = f.p.Create(ctx(t), req)
	wantKind(t, "unknown group", err, sdk.KindPermanent)
	if !strings.Contains(err.Error(), "No Such Group") {
		t.Errorf("error %q does not name the group", err)
	}
}

// TestCustomColumns: route fields of the declared u_* family reach the
// instance's custom columns; a column the table lacks is dropped by the
// instance (as ServiceNow does), not an error.
func TestCustomColumns(t *testing.T) {
	f := newFixture(t, emulator.Options{IncidentColumns: []string{"u_environment"}}, "")
	if _, ok := f.p.Schema().TicketField("u_environment"); !ok {
		t.Fatal("the schema does not accept u_environment as a ticket field")
	}
	req := createReq("k-custom")
	req.Ticket.Fields = map[string]string{"u_environment": "production", "u_not_a_column": "dropped"}
	ref, err := f.p.Create(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.incident(ref.ID)
	if rec["u_environment"] != "production" {
		t.Errorf("u_environment = %q, want production", rec["u_environment"])
	}
	if _, ok := rec["u_not_a_column"]; ok {
		t.Errorf("the emulator stored a column the incident table lacks: %v", rec)
	}
}

func TestLongTicketKey(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	key := strings.Repeat("rule-and-resource/", 10) // 180 chars > correlation_id's 100
	ref := f.create(key)
	if again := f.create(key); again.ID != ref.ID {
		t.Fatalf("long key not idempotent: %s vs %s", again.ID, ref.ID)
	}
	if got := f.incident(ref.ID)["correlation_id"]; got != correlationValue(key) || len(got) > 100 {
		t.Errorf("correlation_id = %q", got)
	}
	if found, err := f.p.Find(ctx(t), &sdk.FindRequest{TicketKey: key}); err != nil || found == nil || found.ID != ref.ID {
		t.Errorf("Find(long key) = %+v, %v", found, err)
	}
}

func TestFindAndLifecycle(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	if r, err := f.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "nope"}); r != nil || err != nil {
		t.Fatalf("Find(missing) = %+v, %v", r, err)
	}
	ref := f.create("life")
	if err := f.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, TicketKey: "life", Text: "fired again"}); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: "life", Alert: resolvedAlert()}); err != nil {
		t.Fatal(err)
	}
	rec := f.incident(ref.ID)
	if rec["state"] != "6" || rec["close_code"] != "Solution provided" || rec["resolved_at"] == "" ||
		rec["close_notes"] != `Resolved automatically by itsmbridge: Azure Monitor alert "High CPU on vm-web-01" resolved at 2025-01-01T12:30:00Z (alert id `+sampleAlert().ID+`).` {
		t.Errorf("resolved incident = %v", rec)
	}
	f.emu.ClearCalls()
	if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: "life", Alert: resolvedAlert()}); err != nil {
		t.Errorf("second resolve: %v", err)
	}
	for _, c := range f.emu.Calls() {
		if c.Method != http.MethodGet {
			t.Errorf("second resolve wrote: %s %s", c.Method, c.Path)
		}
	}
	// Find still sees a resolved incident (it may be reopened) …
	if r, _ := f.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "life"}); r == nil || r.ID != ref.ID || r.State != "6" {
		t.Errorf("Find(resolved) = %+v", r)
	}
	if err := f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: "life", Alert: sampleAlert()}); err != nil {
		t.Fatal(err)
	}
	rec = f.incident(ref.ID)
	if rec["state"] != "2" || rec["reopen_count"] != "1" || rec["resolved_at"] != "" {
		t.Errorf("reopened incident = %v", rec)
	}
	if err := f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: "life", Alert: sampleAlert()}); err != nil {
		t.Errorf("reopen of an open incident: %v", err)
	}
	if f.incident(ref.ID)["reopen_count"] != "1" {
		t.Error("reopen of an open incident bumped reopen_count")
	}
	j := f.emu.Journal(ref.ID)
	if len(j) != 2 || j[0].Element != "work_notes" || j[0].Value != "fired again" || !strings.Contains(j[1].Value, "Reopened by itsmbridge") {
		t.Errorf("journal = %+v", j)
	}
	// … but Create does not reuse a resolved incident: the host wants a new one then.
	f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: "life", Alert: resolvedAlert()})
	if n := f.create("life"); n.ID == ref.ID {
		t.Error("create reused a resolved incident")
	}
	if f.emu.CountTickets("life") != 2 {
		t.Errorf("tickets = %d", f.emu.CountTickets("life"))
	}
}

func TestResolveAndReopenErrors(t *testing.T) {
	f := newFixture(t, emulator.Options{
		Users: []emulator.User{{UserName: "sandbox", Password: "sandbox", Roles: []string{"itil"}},
			{UserName: "admin", Password: "admin", Roles: []string{"admin"}}},
		CloseCodes: emulator.LegacyCloseCodes,
	}, `close_codes = []`)
	unknown := sdk.TicketRef{ID: strings.Repeat("0", 32)}
	err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: unknown, Alert: resolvedAlert()})
	wantKind(t, "resolve unknown", err, sdk.KindPermanent)
	if !strings.Contains(err.Error(), "404 No Record found") {
		t.Errorf("error %q lacks ServiceNow's message", err)
	}
	// the instance's close code list differs from the configured code: its
	// data policy answers 403 and the message reaches the DLQ.
	ref := f.create("k")
	err = f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, Alert: resolvedAlert()})
	wantKind(t, "resolve with a foreign close code", err, sdk.KindPermanent)
	if !strings.Contains(err.Error(), "403 Operation Failed: Data Policy Exception") {
		t.Errorf("error %q lacks the data policy message", err)
	}
	// closed by an admin → reopen is refused, permanently
	admin := NewWithLogger(hclog.NewNullLogger())
	if d := configureHCL(t, admin, `instance_url = "`+f.srv.URL+`"
username = "admin"
password = "admin"
close_code = "Closed/Resolved by Caller"
close_codes = []`); d.HasErrors() {
		t.Fatal(d.Error())
	}
	if err := admin.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, Alert: resolvedAlert()}); err != nil {
		t.Fatal(err)
	}
	st, _ := admin.current()
	if err := st.client.call(ctx(t), "PATCH", "/api/now/table/incident/"+ref.ID, nil, map[string]string{"state": "7"}, nil); err != nil {
		t.Fatal(err)
	}
	err = f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, Alert: sampleAlert()})
	wantKind(t, "reopen closed", err, sdk.KindPermanent)
	if !strings.Contains(err.Error(), "closed") {
		t.Errorf("reopen closed: %v", err)
	}
	if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, Alert: resolvedAlert()}); err != nil {
		t.Errorf("resolve of a closed incident must succeed: %v", err)
	}
}

func TestCommentField(t *testing.T) {
	f := newFixture(t, emulator.Options{}, `comment_field = "comments"`)
	ref := f.create("c")
	if err := f.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, Text: "visible"}); err != nil {
		t.Fatal(err)
	}
	if j := f.emu.Journal(ref.ID); len(j) != 1 || j[0].Element != "comments" {
		t.Errorf("journal = %+v", j)
	}
	err := f.p.Comment(ctx(t), &sdk.CommentRequest{Ref: sdk.TicketRef{ID: strings.Repeat("a", 32)}, Text: "x"})
	wantKind(t, "comment on missing incident", err, sdk.KindPermanent)
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name       string
		fault      emulator.Fault
		kind       sdk.ErrorKind
		retryAfter time.Duration
		msg        string
	}{
		{"429 with Retry-After", emulator.Fault{Status: 429, RetryAfterSeconds: 7}, sdk.KindRetryable, 7 * time.Second, "429 Rate limit exceeded"},
		{"503", emulator.Fault{Status: 503, RetryAfterSeconds: 2}, sdk.KindRetryable, 2 * time.Second, "503"},
		{"500", emulator.Fault{Status: 500}, sdk.KindRetryable, 0, "500"},
		{"400", emulator.Fault{Status: 400, Message: "Invalid query"}, sdk.KindPermanent, 0, "400 Invalid query"},
		{"401", emulator.Fault{Status: 401}, sdk.KindPermanent, 0, "401"},
		{"403", emulator.Fault{Status: 403, Message: "Insufficient rights"}, sdk.KindPermanent, 0, "403 Insufficient rights"},
		{"404", emulator.Fault{Status: 404}, sdk.KindPermanent, 0, "404"},
		{"network", emulator.Fault{Drop: true}, sdk.KindRetryable, 0, ""},
	}
	f := newFixture(t, emulator.Options{}, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.emu.ClearFaults()
			f.emu.InjectFault(tt.fault)
			defer f.emu.ClearFaults()
			_, err := f.p.Create(ctx(t), createReq("err-"+tt.name))
			wantKind(t, tt.name, err, tt.kind)
			if _, after := sdk.Classify(err); after != tt.retryAfter {
				t.Errorf("retry-after %v, want %v", after, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lacks %q", err, tt.msg)
			}
		})
	}
	// the real per-user rate rule: Retry-After is carried back
	f.emu.SetRateRule(&emulator.RateRule{Limit: 0})
	_, err := f.p.Create(ctx(t), createReq("limited"))
	wantKind(t, "rate rule", err, sdk.KindRetryable)
	if _, after := sdk.Classify(err); after < 59*time.Minute {
		t.Errorf("rate rule retry-after %v", after)
	}
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) || se.Header.Get("X-RateLimit-Limit") != "0" {
		t.Errorf("StatusError not reachable through the classified error: %v", err)
	}
}

func TestNotConfigured(t *testing.T) {
	p := New()
	_, err := p.Create(ctx(t), createReq("x"))
	wantKind(t, "unconfigured create", err, sdk.KindPermanent)
	if err := p.Health(ctx(t)); err == nil {
		t.Error("unconfigured health succeeded")
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	if err := f.p.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.emu.InjectFault(emulator.Fault{Status: 503})
	if err := f.p.Health(ctx(t)); !sdk.IsRetryable(err) {
		t.Errorf("health under 503: %v", err)
	}
}

// TestCreateRetryAfterLostResponse: the instance created the incident but the
// response never arrived. The error is retryable, and the retry finds the
// incident through the correlation field instead of opening a second one.
func TestCreateRetryAfterLostResponse(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	f.emu.InjectFault(emulator.Fault{DropAfter: true, Count: 1, Method: "POST", PathPrefix: "/api/now/table/incident"})
	_, err := f.p.Create(ctx(t), createReq("lost"))
	wantKind(t, "lost response", err, sdk.KindRetryable)
	if n := f.emu.CountTickets("lost"); n != 1 {
		t.Fatalf("the dropped POST did not create the incident (%d)", n)
	}
	ref := f.create("lost")
	if n := f.emu.CountTickets("lost"); n != 1 {
		t.Fatalf("retry made %d incidents", n)
	}
	if ref.Number != "INC0010001" {
		t.Errorf("retry returned %+v", ref)
	}
}
