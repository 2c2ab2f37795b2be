package main

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// samplesFS holds official Azure Monitor sample payloads, copied unchanged
// (see samples/SOURCES.md), so the demo needs nothing outside the binary.
//
//go:embed samples/*.json samples/SOURCES.md
var samplesFS embed.FS

// samplePrefix names an embedded sample on the command line
// ("sample:common-log-alerts-v2-fired.json").
const samplePrefix = "sample:"

// sample returns an embedded sample by file name.
func sample(name string) ([]byte, error) {
	b, err := samplesFS.ReadFile("samples/" + name)
	if err != nil {
		return nil, fmt.Errorf("no embedded sample %q (have: %s)", name, strings.Join(sampleNames(), ", "))
	}
	return b, nil
}

// sampleNames lists the embedded samples.
func sampleNames() []string {
	ents, _ := fs.ReadDir(samplesFS, "samples")
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// readPayload reads a file, or an embedded sample named "sample:NAME".
func readPayload(arg string) ([]byte, error) {
	if name, ok := strings.CutPrefix(arg, samplePrefix); ok {
		return sample(name)
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("reading payload: %w", err)
	}
	return b, nil
}
