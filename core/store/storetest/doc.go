// Package storetest is the conformance suite every store.Store
// implementation passes. An implementation's test calls
//
//	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
//		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.Options{Now: now})
//		...
//		t.Cleanup(func() { s.Close() })
//		return s
//	})
//
// Each subtest gets a fresh, empty store driven by a fake clock, so lease
// expiry and retry scheduling are tested without sleeping.
package storetest
