package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/bridge"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
)

// These commands open the configured store directly, so they work while
// the server is down (SQLite allows a second process; PostgreSQL any number).
func init() {
	register("dlq list", command{summary: "list dead-lettered deliveries", run: runDLQList})
	register("dlq replay", command{summary: "put dead letters back in the queue: dlq replay ID…", run: dlqAction("replayed", func(s store.Store) func(context.Context, int64) error { return s.ReplayDeadLetter })})
	register("dlq drop", command{summary: "delete dead letters: dlq drop ID…", run: dlqAction("dropped", func(s store.Store) func(context.Context, int64) error { return s.DropDeadLetter })})
	register("alerts list", command{summary: "list stored alerts (newest first)", run: runAlertsList})
	register("alerts show", command{summary: "show one stored alert with its deliveries: alerts show ID", run: runAlertsShow})
	register("store backup", command{summary: "write a consistent, checked copy of the SQLite store (also while serving): store backup -out FILE", run: runStoreBackup})
}

// backuper is a store that can copy itself (core/store/sqlite).
type backuper interface {
	Backup(ctx context.Context, dest string) (sqlite.BackupInfo, error)
}

func runStoreBackup(args []string, stdout, stderr io.Writer) int {
	var out *string
	st, _, code := openStoreFromFlags("store backup", args, stderr, func(fs *flag.FlagSet) {
		out = fs.String("out", "", "the backup file to write (must not exist)")
	})
	if st == nil {
		return code
	}
	defer st.Close()
	if *out == "" {
		fmt.Fprintln(stderr, "itsmbridge: store backup: -out FILE is required")
		return exitFailed
	}
	b, ok := st.(backuper)
	if !ok {
		fmt.Fprintln(stderr, "itsmbridge: store backup: only the sqlite store is backed up by itsmbridge; back up PostgreSQL with its own tools (pg_dump, or base backups with WAL archiving)")
		return exitFailed
	}
	info, err := b.Backup(context.Background(), *out)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
		return exitRuntime
	}
	fmt.Fprintf(stdout, "backup written: %s (%d bytes, schema version %d, %d alerts, %d deliveries, integrity ok)\n",
		info.Path, info.Bytes, info.SchemaVersion, info.Alerts, info.Deliveries)
	fmt.Fprintln(stdout, "to restore: stop the bridge, put this file in place of the store's path (and delete its -wal and -shm files), start the bridge")
	return exitOK
}

// storeFlags parses -config (and extra flags) and opens the store.
func openStoreFromFlags(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (store.Store, *flag.FlagSet, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "config.hcl", "configuration file or directory (its store block is used)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, exitFailed
	}
	cfg, diags := config.Load(*cfgPath, config.Options{})
	if diags.HasErrors() {
		if cfg != nil {
			_ = cfg.WriteDiagnostics(stderr, diags, 0)
		}
		return nil, nil, exitFailed
	}
	st, err := bridge.OpenStore(context.Background(), cfg, hclog.NewNullLogger())
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
		return nil, nil, exitRuntime
	}
	return st, fs, exitOK
}

func runDLQList(args []string, stdout, stderr io.Writer) int {
	var backend *string
	var asJSON *bool
	var limit *int
	st, _, code := openStoreFromFlags("dlq list", args, stderr, func(fs *flag.FlagSet) {
		backend = fs.String("backend", "", "only this backend (TYPE.NAME)")
		asJSON = fs.Bool("json", false, "print JSON")
		limit = fs.Int("limit", 100, "at most this many")
	})
	if st == nil {
		return code
	}
	defer st.Close()
	var id store.BackendID
	if *backend != "" {
		var err error
		if id, err = store.ParseBackendID(*backend); err != nil {
			fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
			return exitFailed
		}
	}
	page, err := st.ListDeadLetters(context.Background(), id, store.PageRequest{Limit: *limit})
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
		return exitRuntime
	}
	if *asJSON {
		return printJSON(stdout, stderr, page.Items)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBACKEND\tEVENT\tATTEMPTS\tDEAD SINCE\tREASON")
	for _, d := range page.Items {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Backend, d.Event, d.Attempts, d.FinishedAt.Format(time.RFC3339), oneLine(d.DeadReason, 100))
	}
	tw.Flush()
	if len(page.Items) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
	}
	return exitOK
}

func dlqAction(done string, op func(store.Store) func(context.Context, int64) error) func([]string, io.Writer, io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		st, fs, code := openStoreFromFlags("dlq "+strings.TrimSuffix(done, "ed"), args, stderr, nil)
		if st == nil {
			return code
		}
		defer st.Close()
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "usage: itsmbridge dlq replay|drop -config PATH ID…")
			return exitFailed
		}
		code = exitOK
		for _, a := range fs.Args() {
			id, err := strconv.ParseInt(a, 10, 64)
			if err == nil {
				err = op(st)(context.Background(), id)
			}
			if err != nil {
				fmt.Fprintf(stderr, "itsmbridge: dead letter %s: %v\n", a, err)
				code = exitFailed
				continue
			}
			fmt.Fprintf(stdout, "dead letter %d %s\n", id, done)
		}
		return code
	}
}

func runAlertsList(args []string, stdout, stderr io.Writer) int {
	var f store.AlertFilter
	var asJSON *bool
	var limit *int
	st, _, code := openStoreFromFlags("alerts list", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&f.Source, "source", "", "only this source")
		fs.StringVar(&f.Status, "status", "", "fired or resolved")
		fs.StringVar(&f.Rule, "rule", "", "only this alert rule")
		fs.StringVar(&f.Subscription, "subscription", "", "only this subscription")
		fs.BoolVar(&f.Unrouted, "unrouted", false, "only alerts that matched no route")
		asJSON = fs.Bool("json", false, "print JSON")
		limit = fs.Int("limit", 50, "at most this many")
	})
	if st == nil {
		return code
	}
	defer st.Close()
	page, err := st.ListAlerts(context.Background(), f, store.PageRequest{Limit: *limit})
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
		return exitRuntime
	}
	if *asJSON {
		return printJSON(stdout, stderr, page.Items)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tSOURCE\tSTATUS\tSEV\tRULE\tRESOURCE\tDELIVERIES")
	for _, a := range page.Items {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\tSev%d\t%s\t%s\t%d\n", a.ID, a.ReceivedAt.Format(time.RFC3339), a.Source, a.Status, a.Severity, oneLine(a.Rule, 40), a.ResourceName, a.Deliveries)
	}
	tw.Flush()
	return exitOK
}

func runAlertsShow(args []string, stdout, stderr io.Writer) int {
	st, fs, code := openStoreFromFlags("alerts show", args, stderr, nil)
	if st == nil {
		return code
	}
	defer st.Close()
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: itsmbridge alerts show -config PATH ID")
		return exitFailed
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: alert id %q is not a number\n", fs.Arg(0))
		return exitFailed
	}
	rec, ds, err := st.GetAlert(context.Background(), id)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: alert %d: %v\n", id, err)
		return exitFailed
	}
	return printJSON(stdout, stderr, map[string]any{"alert": rec, "normalized": rec.Normalized, "deliveries": ds})
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}
