package alert

import (
	"crypto/sha256"
	"encoding/hex"
)

// DedupKey returns the key that makes a delivery a duplicate (DESIGN §3, §8):
// a digest of the alert id, its status and the time of that status
// (ResolvedAt when resolved, FiredAt otherwise).
//
// Azure delivers the same notification once per action group, byte for byte,
// so those collapse; a Fired → Resolved → Fired sequence differs in status or
// time and yields three keys. When a payload carries no time at all (the
// legacy budget notification), the alert context stands in for it, so only a
// repeat of the same notification collapses.
//
// The key is 32 hex digits (128 bits of SHA-256): fixed length for store
// indexes and free of separator ambiguities between the parts.
func DedupKey(a *Alert) string {
	at := a.FiredAt
	if a.Status == StatusResolved {
		at = a.ResolvedAt
	}
	h := sha256.New()
	h.Write([]byte(a.ID))
	h.Write([]byte{0})
	h.Write([]byte(a.Status))
	h.Write([]byte{0})
	if at != "" {
		h.Write([]byte(at))
	} else {
		h.Write([]byte{1})
		h.Write(a.Context)
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
