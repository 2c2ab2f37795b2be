// Package chaos holds the chaos tests (DESIGN §8.1, §8.2, §8.5, §8.6): a
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
//
// Each test asserts, by counting incidents in the emulator by correlation
// key, that every acknowledged alert has exactly one ticket, that the tickets
// of acknowledged resolves are Resolved (state 6), that the bridge's own view
// (alerts, deliveries, tickets) agrees, and that nothing was dead-lettered.
//
// The package has no code outside its tests. The tests need Linux's /proc
// (to find the plugin process) and take about half a minute in total.
package chaos
