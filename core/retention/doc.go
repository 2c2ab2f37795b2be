// Package retention deletes old, finished history from the store on a
// schedule: alerts whose deliveries are all done (and unrouted alerts) and
// resolved tickets older than the configured retention. Unfinished work,
// dead letters, open tickets and quarantined payloads are never deleted
// (see store.Purger).
package retention
