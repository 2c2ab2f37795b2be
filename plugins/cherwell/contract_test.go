package main

import (
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator/contract"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// TestPluginTrafficMatchesSwagger drives every plugin operation through a
// fresh swagger validator: each request the plugin sends and each response
// it gets validates (violations fail the test through newTestEnv's
// reporter), and every CSM operation the plugin uses is covered.
func TestPluginTrafficMatchesSwagger(t *testing.T) {
	val, err := contract.Load(specPath)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, envOpts{val: val})
	ref, err := e.p.Create(ctx(t), createReq("k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Find(ctx(t), &sdk.FindRequest{TicketKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, Text: "note"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{ResourceID: vmID, Name: "vm-web-01"}, CreateMissing: true, Primary: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, Alert: resolvedAlert()}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Comment(ctx(t), &sdk.CommentRequest{Ref: sdk.TicketRef{Number: ref.Number}, Text: "by number"}); err != nil {
		t.Fatal(err)
	}
	e.emu.ExpireTokens(false)
	if err := e.p.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := val.Require(
		"Service_Token",
		"service_get_service_info_v1",
		"business_object_get_business_object_summary_by_name_v1",
		"business_object_get_business_object_summaries_v1",
		"business_object_get_business_object_schema_v1",
		"searches_get_search_results_ad_hoc_v1",
		"business_object_save_business_object_v1",
		"business_object_get_business_object_by_rec_id_v1",
		"business_object_get_business_object_by_public_id_v1",
		"business_object_save_related_business_object_v1",
		"business_object_link_related_business_object_by_rec_id_v1",
	); err != nil {
		t.Error(err)
	}
	t.Logf("validated exchanges per operation: %v", val.Checked())
}
