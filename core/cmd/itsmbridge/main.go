// Command itsmbridge is the bridge's CLI: `serve`, `validate`, `route test`,
// `alert inspect`, `auth check`, `dlq`, `alerts` and `plugins list` (DESIGN §5).
//
// Each subcommand lives in its own file and registers itself in init, so the
// commands stay independent of each other.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes (DESIGN §5).
const (
	exitOK      = 0
	exitFailed  = 1 // failed check or usage error
	exitRuntime = 2 // runtime failure
)

// command is one CLI subcommand.
type command struct {
	// summary is the one-line help text.
	summary string
	// run executes the command with the arguments after its name.
	run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

// register adds a command under name (one or two words, e.g. "alert inspect").
func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("duplicate command " + name)
	}
	commands[name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a command; it is main without os.Exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitFailed
		}
		return exitOK
	}
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c.run(args[2:], stdout, stderr)
		}
	}
	if c, ok := commands[args[0]]; ok {
		return c.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "itsmbridge: unknown command %q (see itsmbridge help)\n", strings.Join(args[:min(2, len(args))], " "))
	return exitFailed
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: itsmbridge <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
}
