package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/plugins/jira/internal/contract"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// TestPluginTrafficContract runs every plugin operation in both modes against
// the emulator behind the validating middleware and checks that each Jira
// operation the plugin uses was validated against the official descriptions
// (every fixture in this package validates its traffic; this test makes the
// coverage explicit). Assets calls are recorded as skipped: Atlassian
// publishes no description of that API.
func TestPluginTrafficContract(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	issueMode := f.plugin("mode = \"issue\"\ncorrelation {\n type = \"property\"\n}")
	f.emu.SeedCI(emulator.CI{Name: "vm-1", ResourceID: "/subscriptions/s/vm-1"})
	for _, p := range []*Plugin{f.p, issueMode} {
		ref := f.create(p, "contract-"+p.st.mode)
		c := ctx(t)
		if err := p.Comment(c, &sdk.CommentRequest{Ref: *ref, Text: "note"}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.BindCI(c, &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{ResourceID: "/subscriptions/s/vm-1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.BindCI(c, &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{Name: "vm-2"}, CreateMissing: true}); err != nil {
			t.Fatal(err)
		}
		if err := p.Resolve(c, &sdk.ResolveRequest{Ref: *ref, TicketKey: "contract-" + p.st.mode}); err != nil {
			t.Fatal(err)
		}
		if err := p.Reopen(c, &sdk.ReopenRequest{Ref: *ref}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Find(c, &sdk.FindRequest{TicketKey: "none"}); err != nil {
			t.Fatal(err)
		}
		if err := p.Health(c); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"getCurrentUser", "getProject", "getFields", "getPriorities", "getServiceDesks", "getRequestTypes", "getRequestTypeFields",
		"getAssetsWorkspaces", "createCustomerRequest", "createIssue", "getIssue", "editIssue", "getTransitions", "doTransition",
		"addComment", "createRequestComment", "setIssueProperty", "getUserProperty", "setUserProperty", "deleteUserProperty",
		"searchAndReconsileIssuesUsingJqlPost",
	}
	got := f.rec.Operations()
	for _, op := range want {
		if got[op] == 0 {
			t.Errorf("operation %s was not validated", op)
		}
	}
	skipped := 0
	for _, x := range f.rec.Exchanges() {
		if strings.HasPrefix(x.Path, "/jsm/assets/") {
			if x.Skipped != contract.AssetsSkipReason {
				t.Errorf("Assets exchange %s not marked skipped", x.Path)
			}
			skipped++
		} else if x.Operation == "" {
			t.Errorf("exchange %s %s matched no operation", x.Method, x.Path)
		}
	}
	if skipped == 0 {
		t.Error("no Assets exchange seen")
	}
	var ops []string
	for op := range got {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	t.Logf("validated %d exchanges over %d operations; %d Assets exchanges skipped", len(f.rec.Exchanges())-skipped, len(ops), skipped)
}
