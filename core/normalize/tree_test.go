package normalize

import "testing"

func TestTreeLookup(t *testing.T) {
	p := getParser()
	defer putParser(p)
	root, err := p.parse([]byte(`{"a":1,"A":2,"isSynthetic":"x","dup":"first","dup":"last","esc\u0061ped":"e","arr":[10,"s",null,{"k":"v"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, want string }{
		{"a", "1"}, {"A", "2"}, // exact match wins over a case-insensitive one
		{"IsSynthetic", "x"}, // otherwise case-insensitive
		{"dup", "last"},      // duplicates: the last wins, as with encoding/json
		{"escaped", "e"},     // escaped names are compared unquoted
		{"missing", ""},
	} {
		if got, _ := root.get(tc.key).text(); got != tc.want {
			t.Errorf("get(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	arr := root.get("arr")
	var kinds []string
	for e := arr.first(); e.exists(); e = e.next() {
		kinds = append(kinds, kindName(e.kind()))
	}
	if len(kinds) != 4 || kinds[3] != "an object" || kinds[2] != "null" {
		t.Errorf("array elements %v", kinds)
	}
	obj := arr.first().next().next().next()
	if got := obj.get("k").jsonPath(); got != "arr[3].k" {
		t.Errorf("jsonPath = %q", got)
	}
	if string(obj.raw()) != `{"k":"v"}` {
		t.Errorf("raw = %s", obj.raw())
	}
}
