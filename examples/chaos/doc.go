// Package chaos holds the chaos tests (DESIGN §8.1, §8.2, §8.4–§8.7): a
// stream of signed alerts through the real binaries — `itsmbridge serve` and
// itsmbridge-plugin-servicenow, built by TestMain — against the ServiceNow
// emulator, while something goes wrong:
//
//   - TestChaosHostKilled: the host is SIGKILLed mid-stream and restarted on
//     the same SQLite database; what was not acknowledged is sent again, as
//     Azure retries.
//   - TestChaosPluginKilled: the plugin process is SIGKILLed twice mid-stream;
//     the host's supervisor restarts it.
//   - TestChaosVendorErrors: the emulator answers 30% of calls with 503 and
//     some with 429 + Retry-After for a while, then recovers.
//   - TestChaosConcurrentDuplicates: every payload is posted five times in
//     parallel.
//   - TestReplicasPostgres (DESIGN §8.4, §8.7): three replicas on one
//     PostgreSQL database (a throw-away server, core/store/pgtest; skipped
//     when PostgreSQL is not installed, failed under CI=true) take alerts
//     round-robin, copies posted to two replicas at once; one replica is
//     SIGKILLed while it holds leases, which the others take over once they
//     expire. The emulator's call log shows, per ticket key, the create
//     before the resolve, and which replica made each call.
//
// Each test asserts, by counting incidents in the emulator by correlation
// key, that every acknowledged alert has exactly one ticket, that the tickets
// of acknowledged resolves are Resolved (state 6), that the bridge's own view
// (alerts, deliveries, tickets) agrees, and that nothing was dead-lettered.
//
// BenchmarkReplicasEndToEnd measures deliveries per second through two
// replicas on PostgreSQL, to the no-op plugin (noopplugin, built by
// TestMain like the others) and to ServiceNow (figures in
// docs/bench/replicas.md).
//
// The package has no code outside its tests and the no-op plugin. The tests need Linux's /proc
// (to find the plugin process) and take about half a minute in total (the
// replica test waits out the 15 s dispatcher lease of the killed replica).
package chaos
