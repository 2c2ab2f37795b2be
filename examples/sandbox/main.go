package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// Exit codes, as the itsmbridge CLI's.
const (
	exitOK      = 0
	exitFailed  = 1 // failed check or usage
	exitRuntime = 2 // runtime failure
)

// command is one subcommand: run gets the arguments after its name.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"serve": {"serve the emulators and the Entra ID stand-in", runServe},
	"send":  {"sign a token like an action group and POST alert payloads", runSend},
	"demo":  {"run the sandbox and the bridge and send a realistic sequence of samples", runDemo},
	"load":  {"load-test an ingress with signed alerts (bounded, loopback only)", runLoad},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitFailed
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "itsmbridge-sandbox: unknown command %q\n", args[0])
		usage(stderr)
		return exitFailed
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: itsmbridge-sandbox COMMAND [flags]   (COMMAND -h for its flags)")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-6s %s\n", n, commands[n].summary)
	}
}

// parseFlags parses args; when it returns false the command exits with
// code: 0 after -h, 1 on a bad flag (the flag package printed why).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitFailed, false
	}
	return 0, true
}
