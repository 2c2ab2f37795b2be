package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/itsmbridge/itsmbridge/core/normalize"
)

// maxInspectBytes bounds what `alert inspect` reads; real payloads are a few
// kilobytes, and Azure caps webhook bodies far below this.
const maxInspectBytes = 64 << 20

// inspectStdin is where `alert inspect -` reads from (a variable for tests).
var inspectStdin io.Reader = os.Stdin

func init() {
	register("alert inspect", command{
		summary: "print the normalized alert of a payload (FILE, or - for stdin)",
		run:     runAlertInspect,
	})
}

func runAlertInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alert inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: itsmbridge alert inspect FILE|-")
	}
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitFailed
	}
	name := fs.Arg(0)
	raw, err := readPayload(name)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: alert inspect: %v\n", err)
		return exitFailed
	}
	a, err := normalize.Normalize(raw)
	if err != nil {
		if name == "-" {
			name = "stdin"
		}
		fmt.Fprintf(stderr, "itsmbridge: alert inspect: %s: %v\n", name, err)
		return exitFailed
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // ids like "<subscription ID>" stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(a); err != nil {
		fmt.Fprintf(stderr, "itsmbridge: alert inspect: write: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// readPayload reads FILE, or stdin for "-", refusing oversized input.
func readPayload(name string) ([]byte, error) {
	var r io.Reader = inspectStdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxInspectBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(raw) > maxInspectBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, maxInspectBytes>>20)
	}
	return raw, nil
}
