package alert

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"time"
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
// The key is 32 hex digits: 8 of the status time (Unix seconds, zeros when
// there is none) followed by 24 of the SHA-256 digest (96 bits). Fixed
// length for store indexes, free of separator ambiguities between the
// parts, and time-ordered: alerts arrive close to their fire or resolve
// time, so the stores' unique dedup index grows at its right-hand edge
// instead of taking each insert to a random leaf page (one page write per
// alert, and a read once the index outgrows the cache). Two alerts can
// share a key only if they share the time, so the prefix loses nothing.
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
	var key [16]byte
	var secs uint32
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil && t.Unix() > 0 && t.Unix() <= math.MaxUint32 {
		secs = uint32(t.Unix())
	}
	binary.BigEndian.PutUint32(key[:4], secs)
	var sum [sha256.Size]byte
	copy(key[4:], h.Sum(sum[:0]))
	return hex.EncodeToString(key[:])
}
