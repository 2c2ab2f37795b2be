package main

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

func TestCreateIdempotent(t *testing.T) {
	modes := []struct {
		name  string
		extra string
		check func(t *testing.T, tk emulator.Ticket, key string)
	}{
		{"servicedesk label", "", func(t *testing.T, tk emulator.Ticket, key string) {
			if tk.RequestTypeID != emulator.SeedRequestTypeID || !slices.Contains(tk.Labels, key) {
				t.Errorf("request type %q labels %v", tk.RequestTypeID, tk.Labels)
			}
		}},
		{"issue label", `mode = "issue"`, func(t *testing.T, tk emulator.Ticket, key string) {
			if tk.RequestTypeID != "" || !slices.Contains(tk.Labels, key) || tk.IssueType != "Incident" {
				t.Errorf("ticket %+v", tk)
			}
		}},
		{"servicedesk field", "correlation {\n type = \"field\"\n field = \"Alert correlation\"\n}", func(t *testing.T, tk emulator.Ticket, key string) {
			if string(tk.Fields[emulator.SeedCorrelationField]) != `"`+key+`"` || len(tk.Labels) != 0 {
				t.Errorf("fields %s labels %v", tk.Fields, tk.Labels)
			}
		}},
		{"issue property", "mode = \"issue\"\ncorrelation {\n type = \"property\"\n}", func(t *testing.T, tk emulator.Ticket, key string) {
			if len(tk.Labels) != 0 {
				t.Errorf("labels %v", tk.Labels)
			}
		}},
		{"request type without labels: correlation set after create", `request_type = "Get IT help"`, func(t *testing.T, tk emulator.Ticket, key string) {
			if tk.RequestTypeID != "12" || !slices.Contains(tk.Labels, key) || tk.Priority != "High" {
				t.Errorf("ticket %+v", tk)
			}
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			f := newFixture(t, emulator.Options{}, m.extra)
			key := "azmon-" + strings.ReplaceAll(m.name, " ", "-")
			ref := f.create(f.p, key)
			if ref.ID == "" || !strings.HasPrefix(ref.Number, "OPS-") || ref.URL != f.srv.URL+"/browse/"+ref.Number {
				t.Fatalf("ref %+v", ref)
			}
			again := f.create(f.p, key)
			if *again != *ref {
				t.Errorf("second create %+v, first %+v", again, ref)
			}
			f.emu.FlushIndex() // a restarted plugin, long after: search finds it
			if r := f.create(f.plugin(m.extra), key); r.ID != ref.ID {
				t.Errorf("restarted plugin created %+v, want %+v", r, ref)
			}
			if n := f.emu.CountTickets(key); n != 1 {
				t.Fatalf("%d tickets for %s", n, key)
			}
			tk := f.ticket(ref.Number)
			var prop struct{ TicketKey, AlertID string }
			_ = json.Unmarshal(tk.Properties["itsmbridge"], &prop)
			if prop.TicketKey != key || prop.AlertID == "" {
				t.Errorf("issue property %s", tk.Properties["itsmbridge"])
			}
			if !strings.HasPrefix(tk.Summary, "[Sev1]") || tk.Priority != "High" || !strings.Contains(tk.Description, "Alert id:") {
				t.Errorf("summary %q priority %q description %q", tk.Summary, tk.Priority, tk.Description)
			}
			m.check(t, tk, key)
			// Another key gets another issue.
			if other := f.create(f.p, key+"-2"); other.ID == ref.ID {
				t.Error("another key returned the same issue")
			}
		})
	}
}

func TestLabelForUnsafeKeys(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	key := "rule: CPU > 90% on vm-1" // spaces: not a valid label
	ref := f.create(f.p, key)
	tk := f.ticket(ref.Number)
	if len(tk.Labels) != 1 || !strings.HasPrefix(tk.Labels[0], "itsmbridge-") || tk.Labels[0] != labelFor(key) {
		t.Fatalf("labels %v", tk.Labels)
	}
	f.emu.FlushIndex()
	if r := f.create(f.plugin(""), key); r.ID != ref.ID {
		t.Errorf("lookup by hashed label failed: %+v", r)
	}
	if n := f.emu.CountTickets(key); n != 1 { // the property carries the raw key
		t.Errorf("CountTickets = %d", n)
	}
}

func TestFind(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	if ref, err := f.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "nothing"}); err != nil || ref != nil {
		t.Fatalf("Find(unknown) = %v, %v", ref, err)
	}
	ref := f.create(f.p, "k-find")
	got, err := f.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "k-find"})
	if err != nil || got == nil || got.ID != ref.ID {
		t.Fatalf("Find = %v, %v", got, err)
	}
	got, err = f.plugin("").Find(ctx(t), &sdk.FindRequest{TicketKey: "k-find"})
	if err != nil || got == nil || got.ID != ref.ID {
		t.Fatalf("Find from a fresh plugin = %v, %v", got, err)
	}
	// A resolved issue no longer carries an open incident for the key.
	if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: "k-find"}); err != nil {
		t.Fatal(err)
	}
	f.emu.FlushIndex()
	if got, err := f.plugin("").Find(ctx(t), &sdk.FindRequest{TicketKey: "k-find"}); err != nil || got != nil {
		t.Fatalf("Find after resolve = %v, %v", got, err)
	}
	if _, err := f.p.Find(ctx(t), &sdk.FindRequest{}); err == nil {
		t.Error("Find with an empty key succeeded")
	}
}

func TestResolveReopenByName(t *testing.T) {
	type step struct {
		from       string // transition id to apply first ("" none)
		wantStatus string
		wantRes    string
	}
	tests := []struct {
		name  string
		extra string
		step  step
	}{
		{"default from Open (id 761)", "", step{"", "Resolved", "Done"}},
		{"default from Work in progress (id 781)", "", step{"911", "Resolved", "Done"}},
		{"by name from Pending", `resolve_transition = "resolve"`, step{"921", "Resolved", "Done"}},
		{"by target status", `resolve_transition = "Closed"`, step{"", "Closed", "Won't Do"}},
		{"by name Cancel", `resolve_transition = "Cancel"`, step{"911", "Closed", "Won't Do"}},
		{"configured resolution", `resolution = "Cannot Reproduce"`, step{"", "Resolved", "Cannot Reproduce"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, emulator.Options{}, tt.extra)
			ref := f.create(f.p, "k")
			if tt.step.from != "" {
				f.transition(ref.Number, tt.step.from, "")
			}
			req := &sdk.ResolveRequest{Ref: *ref, TicketKey: "k", Alert: sdk.Alert{ResolvedAt: "2025-01-01T12:00:00Z"}}
			if err := f.p.Resolve(ctx(t), req); err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			tk := f.ticket(ref.Number)
			if tk.Status != tt.step.wantStatus || tk.Resolution != tt.step.wantRes {
				t.Fatalf("status %q resolution %q; want %q %q", tk.Status, tk.Resolution, tt.step.wantStatus, tt.step.wantRes)
			}
			calls := len(f.emu.Calls())
			if err := f.p.Resolve(ctx(t), req); err != nil {
				t.Fatalf("second Resolve: %v", err)
			}
			for _, c := range f.emu.Calls()[calls:] {
				if c.Method == "POST" && strings.HasSuffix(c.Path, "/transitions") {
					t.Errorf("second Resolve transitioned again: %+v", c)
				}
			}
		})
	}
	t.Run("reopen", func(t *testing.T) {
		f := newFixture(t, emulator.Options{}, "")
		ref := f.create(f.p, "k")
		if err := f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: "k"}); err != nil {
			t.Fatalf("Reopen of an open issue: %v", err)
		}
		if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: "k"}); err != nil {
			t.Fatal(err)
		}
		if err := f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: "k"}); err != nil {
			t.Fatalf("Reopen: %v", err)
		}
		if tk := f.ticket(ref.Number); tk.Status != "Open" || tk.Resolution != "" {
			t.Fatalf("after reopen: %+v", tk)
		}
		// Reopened: the next create for the key finds it again.
		if r := f.create(f.p, "k"); r.ID != ref.ID {
			t.Errorf("create after reopen made %+v", r)
		}
		// Closed is final in this workflow: no reopen transition.
		if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref}); err != nil {
			t.Fatal(err)
		}
		f.transition(ref.Number, "821", "")
		err := f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref})
		if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), "no transition") {
			t.Fatalf("Reopen of a Closed issue: %v", err)
		}
	})
	t.Run("software workflow without a resolution screen", func(t *testing.T) {
		f := newFixture(t, emulator.Options{}, "project = \"DEV\"\nissue_type = \"Task\"\nresolve_transition = \"Done\"\nreopen_transition = \"To Do\"")
		ref := f.create(f.p, "k")
		if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref}); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if tk := f.ticket(ref.Number); tk.Status != "Done" || tk.Resolution != "Done" {
			t.Fatalf("after resolve %+v", tk)
		}
		if err := f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref}); err != nil {
			t.Fatalf("Reopen by target status: %v", err)
		}
		if tk := f.ticket(ref.Number); tk.Status != "To Do" {
			t.Fatalf("after reopen %+v", tk)
		}
	})
	t.Run("errors", func(t *testing.T) {
		f := newFixture(t, emulator.Options{}, `resolve_transition = "Escalate"`)
		ref := f.create(f.p, "k")
		err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref})
		if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), `"Resolve" → Resolved`) {
			t.Fatalf("unknown transition: %v (must list the available ones)", err)
		}
		err = f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: sdk.TicketRef{ID: "OPS-999", Number: "OPS-999"}})
		if err == nil || sdk.IsRetryable(err) || vendorhttp.StatusCode(err) != 404 {
			t.Fatalf("unknown issue: %v", err)
		}
		bad := newFixture(t, emulator.Options{}, `resolution = "Fixed"`)
		ref = bad.create(bad.p, "k")
		err = bad.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref})
		if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), `resolution "Fixed" is not offered`) {
			t.Fatalf("unknown resolution: %v", err)
		}
	})
	t.Run("no ref: looked up by key", func(t *testing.T) {
		f := newFixture(t, emulator.Options{}, "")
		ref := f.create(f.p, "k-noref")
		if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{TicketKey: "k-noref"}); err != nil {
			t.Fatal(err)
		}
		if tk := f.ticket(ref.Number); tk.StatusCategory != "done" {
			t.Fatalf("%+v", tk)
		}
		if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{TicketKey: "k-none"}); err == nil || sdk.IsRetryable(err) {
			t.Fatalf("unknown key: %v", err)
		}
	})
}

func TestComment(t *testing.T) {
	tests := []struct {
		name, extra string
		public      bool
	}{
		{"servicedesk internal", "", false},
		{"servicedesk public", "public_comments = true", true},
		{"issue mode internal", `mode = "issue"`, false},
		{"issue mode public", "mode = \"issue\"\npublic_comments = true", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, emulator.Options{}, tt.extra)
			ref := f.create(f.p, "k")
			if err := f.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, TicketKey: "k", Text: "Fired again at 12:00\n\nsee https://portal.azure.com/x"}); err != nil {
				t.Fatal(err)
			}
			tk := f.ticket(ref.Number)
			if len(tk.Comments) != 1 || tk.Comments[0].Public != tt.public || !strings.Contains(tk.Comments[0].Text, "https://portal.azure.com/x") {
				t.Fatalf("comments %+v", tk.Comments)
			}
			if err := f.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, Text: " "}); err == nil || sdk.IsRetryable(err) {
				t.Errorf("empty comment: %v", err)
			}
		})
	}
	// A platform-created issue in servicedesk mode is no customer request:
	// the comment falls back to the platform API.
	f := newFixture(t, emulator.Options{}, "")
	issue := f.plugin(`mode = "issue"`)
	ref := f.create(issue, "k-platform")
	if err := f.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, Text: "note"}); err != nil {
		t.Fatal(err)
	}
	if tk := f.ticket(ref.Number); len(tk.Comments) != 1 || tk.Comments[0].Public {
		t.Fatalf("fallback comment %+v", tk.Comments)
	}
}

func TestBindCI(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	vm := "/subscriptions/sub-1/resourcegroups/rg-prod/providers/microsoft.compute/virtualmachines/vm-prod-01"
	existing, _ := f.emu.SeedCI(emulator.CI{Name: "vm-prod-01", ResourceID: vm})
	byName, _ := f.emu.SeedCI(emulator.CI{Name: "sql-prod"})
	f.emu.SeedCI(emulator.CI{Name: "web-prod", ResourceID: "/subscriptions/sub-1/other/web-prod"})
	ref := f.create(f.p, "k")
	tests := []struct {
		name        string
		item        sdk.ConfigurationItem
		create      bool
		wantID      string
		wantCreated bool
		wantErr     string
	}{
		{name: "by resource id (case-insensitive)", item: sdk.ConfigurationItem{ResourceID: strings.ToUpper(vm), Name: "other-name"}, wantID: existing},
		{name: "by name", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/sub-1/x/sql-prod", Name: "sql-prod"}, wantID: byName},
		{name: "same name, other resource id: not a match", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/sub-2/x/web-prod", Name: "web-prod"}, wantErr: "create_missing"},
		{name: "missing without create", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/sub-1/x/new-vm", Name: "new-vm"}, wantErr: "no \"Azure Resource\" object"},
		{name: "missing with create", item: sdk.ConfigurationItem{ResourceID: "/subscriptions/sub-1/resourcegroups/rg/providers/microsoft.web/sites/app-1",
			ResourceType: "microsoft.web/sites", Subscription: "sub-1", ResourceGroup: "rg"}, create: true, wantCreated: true},
		{name: "nothing to look up", item: sdk.ConfigurationItem{}, wantErr: "neither"},
	}
	var ids []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ci, err := f.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, TicketKey: "k", Item: tt.item, CreateMissing: tt.create, Primary: true})
			if tt.wantErr != "" {
				if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want permanent %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tt.wantID != "" && ci.ID != tt.wantID) || ci.Created != tt.wantCreated || ci.Class != "Azure Resource" || ci.Name == "" {
				t.Fatalf("ci %+v", ci)
			}
			ids = append(ids, ci.ID)
		})
	}
	tk := f.ticket(ref.Number)
	var refs []struct{ WorkspaceID, ID, ObjectID string }
	_ = json.Unmarshal(tk.Fields[emulator.SeedAssetsField], &refs)
	var linked []string
	for _, r := range refs {
		linked = append(linked, r.ObjectID)
		if r.WorkspaceID != emulator.SeedWorkspaceID || r.ID != r.WorkspaceID+":"+r.ObjectID {
			t.Errorf("reference %+v", r)
		}
	}
	if !slices.Equal(linked, ids) {
		t.Errorf("linked %v, bound %v", linked, ids)
	}
	// The created object carries the resource's attributes; binding again
	// finds it instead of creating another one.
	n := f.emu.ObjectCount()
	ci, err := f.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{ResourceID: "/subscriptions/sub-1/resourcegroups/rg/providers/microsoft.web/sites/app-1"}, CreateMissing: true})
	if err != nil || ci.Created || f.emu.ObjectCount() != n || ci.Name != "app-1" {
		t.Fatalf("rebind: %+v %v", ci, err)
	}
}

func TestErrorClassification(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	tests := []struct {
		name      string
		fault     emulator.Fault
		retryable bool
		after     time.Duration
	}{
		{"429 with Retry-After", emulator.Fault{Status: 429, RetryAfterSeconds: 7}, true, 7 * time.Second},
		{"429 without Retry-After uses X-RateLimit-Reset", emulator.Fault{Status: 429}, true, 0},
		{"503", emulator.Fault{Status: 503, RetryAfterSeconds: 2}, true, 2 * time.Second},
		{"500", emulator.Fault{Status: 500}, true, 0},
		{"400", emulator.Fault{Status: 400}, false, 0},
		{"401", emulator.Fault{Status: 401}, false, 0},
		{"403", emulator.Fault{Status: 403}, false, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.emu.InjectFault(tt.fault)
			defer f.emu.ClearFaults()
			_, err := f.p.Create(ctx(t), createReq("k-"+string(rune('a'+i))))
			kind, after := sdk.Classify(err)
			if err == nil || (kind == sdk.KindRetryable) != tt.retryable {
				t.Fatalf("err = %v (%s), want retryable=%v", err, kind, tt.retryable)
			}
			if tt.after > 0 && after != tt.after {
				t.Errorf("retry after %v, want %v", after, tt.after)
			}
			if tt.fault.Status == 429 && tt.after == 0 && after <= 0 {
				t.Errorf("429 without Retry-After: no wait derived from X-RateLimit-Reset")
			}
			if !strings.Contains(err.Error(), "Injected fault") && !strings.Contains(err.Error(), "Rate limit exceeded.") {
				t.Errorf("error %q lacks Jira's message", err)
			}
		})
	}
	// Jira's own validation message reaches the error (and the DLQ).
	bad := newFixture(t, emulator.Options{}, `fields = { Impact = "Huge" }`)
	_, err := bad.p.Create(ctx(t), createReq("k-bad"))
	if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), "Option value 'Huge' is not valid") {
		t.Fatalf("validation error: %v", err)
	}
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) || se.StatusCode != 400 {
		t.Errorf("no StatusError in the chain: %v", err)
	}
	if n := bad.emu.CountTickets("k-bad"); n != 0 {
		t.Errorf("%d tickets after a rejected create", n)
	}
	// A definite failure clears the ledger: fixing the config lets the next
	// attempt create at once (no search-lag wait).
	good := bad.plugin("")
	if _, err := good.Create(ctx(t), createReq("k-bad")); err != nil {
		t.Fatalf("create after the rejected one: %v", err)
	}
}

func TestTicketFields(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "mode = \"issue\"\nfields = { Impact = \"Minor / Localized\", labels = \"azure,monitor\" }")
	req := createReq("k-fields")
	req.Ticket.Fields = map[string]string{"priority": "Lowest", "customfield_10004": "Significant / Large"}
	ref, err := f.p.Create(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	tk := f.ticket(ref.Number)
	var impact struct{ Value string }
	_ = json.Unmarshal(tk.Fields[emulator.SeedImpactField], &impact)
	if tk.Priority != "Lowest" || impact.Value != "Significant / Large" || !slices.Equal(tk.Labels, []string{"azure", "monitor", "k-fields"}) {
		t.Fatalf("ticket %+v impact %+v", tk, impact)
	}
	req = createReq("k-unknown-field")
	req.Ticket.Fields = map[string]string{"Colour": "red"}
	if _, err := f.p.Create(ctx(t), req); err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), "Colour") {
		t.Fatalf("unknown route field: %v", err)
	}
	for _, tt := range []struct {
		f    fieldDef
		in   string
		want string
	}{
		{fieldDef{Schema: struct {
			Type     string `json:"type"`
			Items    string `json:"items"`
			System   string `json:"system"`
			Custom   string `json:"custom"`
			CustomID int    `json:"customId"`
		}{Type: "number"}}, "3.5", "3.5"},
		{fieldDef{Schema: struct {
			Type     string `json:"type"`
			Items    string `json:"items"`
			System   string `json:"system"`
			Custom   string `json:"custom"`
			CustomID int    `json:"customId"`
		}{Type: "array", Items: "option"}}, "a, b", `[{"value":"a"},{"value":"b"}]`},
		{fieldDef{Schema: struct {
			Type     string `json:"type"`
			Items    string `json:"items"`
			System   string `json:"system"`
			Custom   string `json:"custom"`
			CustomID int    `json:"customId"`
		}{Type: "user"}}, "557058:x", `{"accountId":"557058:x"}`},
		{fieldDef{}, `{"raw":true}`, `{"raw":true}`},
		{fieldDef{}, `plain`, `"plain"`},
	} {
		v, err := convertField(tt.f, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(v); string(b) != tt.want {
			t.Errorf("convert %q as %s = %s, want %s", tt.in, tt.f.Schema.Type, b, tt.want)
		}
	}
}

// TestAssetsUnavailable: a site without Assets configures with a warning and
// bind_ci fails permanently with the reason; an explicit assets block errors.
func TestAssetsUnavailable(t *testing.T) {
	f := newServer(t, emulator.Options{})
	f.emu.InjectFault(emulator.Fault{Status: 404, PathPrefix: "/rest/servicedeskapi/assets/"})
	p := NewWithLogger(nil)
	d := f.configure(p, "")
	if d.HasErrors() || len(d) != 1 || d[0].Severity != sdk.SeverityWarning || !slices.Equal(d[0].AttributePath, []string{"assets", "workspace_id"}) {
		t.Fatalf("diagnostics %+v", d)
	}
	f.emu.ClearFaults()
	f.p = p
	ref := f.create(p, "k")
	_, err := p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{Name: "vm"}})
	if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), "bind_ci unavailable") {
		t.Fatalf("BindCI: %v", err)
	}
	f.emu.InjectFault(emulator.Fault{Status: 404, PathPrefix: "/rest/servicedeskapi/assets/"})
	if d := f.configure(NewWithLogger(nil), "assets {\n object_type = \"Azure Resource\"\n type_attribute = \"Resource Type\"\n}"); !d.HasErrors() {
		t.Fatalf("explicit assets block without Assets: %+v", d)
	}
}
