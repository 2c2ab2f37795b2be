package sqlite

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// TestEncodeAlertMatchesJSON: the spliced encoding decodes to the same
// alert as encoding/json's, for contexts that are empty, compact, indented
// and full of characters encoding/json escapes; an invalid context is an
// error, as with json.Marshal.
func TestEncodeAlertMatchesJSON(t *testing.T) {
	base := alert.Alert{
		ID: "/subscriptions/s/alerts/1", Schema: "azureMonitorCommonAlertSchema", Status: alert.StatusFired,
		Severity: 2, Rule: `cpu "high" <script>`, Targets: []string{"/subscriptions/s/rg/vm"},
		Custom: map[string]string{"context": "null", `"context":null`: "x"}, DedupKey: `k"context":null`,
	}
	for name, ctx := range map[string]string{
		"none":     "",
		"null":     "null",
		"compact":  `{"a":[1,2,{"b":"c"}],"d":"<&>"}`,
		"indented": "{\n  \"a\": [1, 2],\n  \"s\": \"\\u00e9\\n\"\n}",
		"string":   `"just a string"`,
	} {
		t.Run(name, func(t *testing.T) {
			a := base
			if ctx != "" {
				a.Context = json.RawMessage(ctx)
			}
			head, alertCtx, tail, err := encodeAlert(&a)
			if err != nil {
				t.Fatalf("encodeAlert: %v", err)
			}
			got := slices.Concat(head, alertCtx, tail)
			want, err := json.Marshal(&a)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("encodeAlert output is not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("encodeAlert =\n%s\nwant the same value as json.Marshal:\n%s", got, want)
			}
		})
	}
	bad := base
	bad.Context = json.RawMessage(`{"a":`)
	if _, _, _, err := encodeAlert(&bad); err == nil {
		t.Fatal("encodeAlert accepted an invalid context")
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	norm := []byte(`{"id":"x","context":{"k":"` + strings.Repeat("v", 5000) + `"}}`)
	raw := []byte(`{"data":{"k":"` + strings.Repeat("v", 5000) + `"}}`)
	for _, c := range []struct{ norm, raw []byte }{{norm, raw}, {norm, nil}, {nil, raw}, {nil, nil}} {
		half := len(c.norm) / 2 // as head and tail around an empty context
		p := encodePayload(c.norm[:half], nil, c.norm[half:], c.raw)
		if len(c.norm)+len(c.raw) > 1000 && len(p) > (len(c.norm)+len(c.raw))/4 {
			t.Errorf("payload of %d bytes compressed to %d; want under a quarter", len(c.norm)+len(c.raw), len(p))
		}
		n, r, err := decodePayload(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(n, c.norm) || !bytes.Equal(r, c.raw) {
			t.Fatalf("round trip: got %d+%d bytes, want %d+%d", len(n), len(r), len(c.norm), len(c.raw))
		}
	}
	for _, corrupt := range [][]byte{nil, {0xff}, encodePayload(norm, nil, nil, raw)[:10]} {
		if _, _, err := decodePayload(corrupt); err == nil {
			t.Errorf("decodePayload(%x) accepted a corrupt payload", corrupt)
		}
	}
}
