package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// deriveOptions says how the demo changes the user's configuration.
type deriveOptions struct {
	// Replace maps the sandbox's default addresses ("127.0.0.1:18401") to the
	// ones actually served, wherever they appear (backend URLs, authority).
	Replace map[string]string
	// PluginDir (absolute) replaces plugin_dir.
	PluginDir string
	// StorePath (absolute) replaces every store block by store "sqlite".
	StorePath string
	// Listen and Admin, when set, replace server.listen and admin_listen.
	Listen, Admin string
}

// demoConfig is the configuration as the demo runs it, and what the demo
// needs to know about it.
type demoConfig struct {
	Path          string   // what to pass to `itsmbridge serve -config`
	Listen, Admin string   // server.listen and admin_listen ("" when not literal)
	SourceName    string   // the first azure_monitor source
	SourcePath    string   // its path (default "/webhooks/azure")
	Tenant        string   // its first tenant ("" when not literal)
	Audience      string   // its first audience ("" when not literal)
	Plugins       []string // plugin names of the backend blocks, sorted, unique
	Warnings      []string
}

// deriveConfig writes a copy of the configuration at src (a file or a
// directory of *.hcl) into outDir with the changes of o, so the demo never
// touches the user's data directory and can run on other ports. Everything
// else — sources, backends, routes — is the user's configuration unchanged.
func deriveConfig(src, outDir string, o deriveOptions) (*demoConfig, error) {
	files, err := configFiles(src)
	if err != nil {
		return nil, err
	}
	var pairs []string
	for from, to := range o.Replace {
		if from != to {
			pairs = append(pairs, from, to)
		}
	}
	repl := strings.NewReplacer(pairs...)
	dc := &demoConfig{SourcePath: "/webhooks/azure"}
	plugins := map[string]bool{}
	outs := make([][]byte, len(files))
	for i, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		text := []byte(repl.Replace(string(raw)))
		if outs[i], err = rewriteConfig(name, text, dc, plugins, o); err != nil {
			return nil, err
		}
	}
	if o.Listen != "" {
		dc.Listen = o.Listen
	}
	if o.Admin != "" {
		dc.Admin = o.Admin
	}
	outs[0] = append(outs[0], fmt.Sprintf("\n# Set by itsmbridge-sandbox demo: the built plugins and a fresh store.\nplugin_dir = %s\nstore \"sqlite\" {\n  path = %s\n}\n",
		hclString(o.PluginDir), hclString(o.StorePath))...)

	if len(files) == 1 {
		dc.Path = filepath.Join(outDir, "config.hcl")
		if err := os.WriteFile(dc.Path, outs[0], 0o600); err != nil {
			return nil, fmt.Errorf("writing the demo config: %w", err)
		}
	} else {
		dc.Path = filepath.Join(outDir, "config.d")
		if err := os.Mkdir(dc.Path, 0o700); err != nil {
			return nil, fmt.Errorf("writing the demo config: %w", err)
		}
		for i, f := range outs {
			if err := os.WriteFile(filepath.Join(dc.Path, filepath.Base(files[i])), f, 0o600); err != nil {
				return nil, fmt.Errorf("writing the demo config: %w", err)
			}
		}
	}
	for p := range plugins {
		dc.Plugins = append(dc.Plugins, p)
	}
	sort.Strings(dc.Plugins)
	return dc, nil
}

// configFiles lists src itself, or the *.hcl files of a directory in name
// order (as the bridge loads them).
func configFiles(src string) ([]string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if !st.IsDir() {
		return []string{src}, nil
	}
	files, err := filepath.Glob(filepath.Join(src, "*.hcl"))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("config: no *.hcl files in %s", src)
	}
	sort.Strings(files)
	return files, nil
}

// edit replaces the bytes [start, end) of a file.
type edit struct {
	start, end int
	text       string
}

// rewriteConfig reads what the demo needs from one file (addresses, the
// first azure_monitor source, the plugins the backends use; values that are
// not literals, such as env(...), stay empty) and returns the file with
// plugin_dir and the store blocks removed and the server addresses
// overridden. It edits byte ranges, so comments and layout stay as written.
func rewriteConfig(name string, text []byte, dc *demoConfig, plugins map[string]bool, o deriveOptions) ([]byte, error) {
	f, diags := hclsyntax.ParseConfig(text, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("config: %w", diags)
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, errors.New("config: unexpected HCL body")
	}
	usesFile := false
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		if fc, ok := n.(*hclsyntax.FunctionCallExpr); ok && fc.Name == "file" {
			usesFile = true
		}
		return nil
	})
	if usesFile {
		dc.Warnings = append(dc.Warnings, fmt.Sprintf("%s uses file(): relative paths in it resolve against the demo's temporary copy", name))
	}
	var edits []edit
	if a, ok := body.Attributes["plugin_dir"]; ok {
		edits = append(edits, removal(text, a.SrcRange, "# plugin_dir: set at the end by the demo"))
	}
	for _, b := range body.Blocks {
		switch {
		case b.Type == "store":
			edits = append(edits, removal(text, b.Range(), "# store: set at the end by the demo"))
		case b.Type == "server":
			if v, ok := literalString(b.Body, "listen"); ok {
				dc.Listen = v
			}
			if v, ok := literalString(b.Body, "admin_listen"); ok {
				dc.Admin = v
			}
			for _, kv := range [][2]string{{"listen", o.Listen}, {"admin_listen", o.Admin}} {
				attr, v := kv[0], kv[1]
				if v == "" {
					continue
				}
				if a, ok := b.Body.Attributes[attr]; ok {
					r := a.Expr.Range()
					edits = append(edits, edit{r.Start.Byte, r.End.Byte, hclString(v)})
				} else {
					at := b.CloseBraceRange.Start.Byte
					edits = append(edits, edit{at, at, "  " + attr + " = " + hclString(v) + "\n"})
				}
			}
		case b.Type == "backend" && len(b.Labels) == 2:
			plugins[b.Labels[0]] = true
		case b.Type == "source" && len(b.Labels) == 2 && b.Labels[0] == "azure_monitor" && dc.SourceName == "":
			dc.SourceName = b.Labels[1]
			if v, ok := literalString(b.Body, "path"); ok {
				dc.SourcePath = v
			}
			for _, ab := range b.Body.Blocks {
				if ab.Type != "azure_ad" {
					continue
				}
				if v, ok := literalFirst(ab.Body, "tenants"); ok {
					dc.Tenant = v
				}
				if v, ok := literalFirst(ab.Body, "audiences"); ok {
					dc.Audience = v
				}
			}
		}
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := append([]byte(nil), text...)
	for _, e := range edits { // from the end, so earlier offsets stay valid
		out = append(out[:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return out, nil
}

// removal replaces the range r of text by a comment and as many newlines as
// it spanned, so diagnostics of the copy have the original's line numbers.
func removal(text []byte, r hcl.Range, comment string) edit {
	n := strings.Count(string(text[r.Start.Byte:r.End.Byte]), "\n")
	return edit{r.Start.Byte, r.End.Byte, comment + strings.Repeat("\n", n)}
}

// hclString quotes s as an HCL string literal (no interpolation).
func hclString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

func literal(body *hclsyntax.Body, name string) (cty.Value, bool) {
	a, ok := body.Attributes[name]
	if !ok {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

func literalString(body *hclsyntax.Body, name string) (string, bool) {
	v, ok := literal(body, name)
	if !ok || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

func literalFirst(body *hclsyntax.Body, name string) (string, bool) {
	v, ok := literal(body, name)
	if !ok || !(v.Type().IsTupleType() || v.Type().IsListType()) || v.LengthInt() == 0 {
		return "", false
	}
	e := v.Index(cty.NumberIntVal(0))
	if e.IsNull() || e.Type() != cty.String {
		return "", false
	}
	return e.AsString(), true
}
