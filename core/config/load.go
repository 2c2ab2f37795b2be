package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/itsmbridge/itsmbridge/core/certfile"
)

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "plugin_dir"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "server"},
		{Type: "store", LabelNames: []string{"kind"}},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "backend", LabelNames: []string{"type", "name"}},
		{Type: "route", LabelNames: []string{"name"}},
	},
}

// Load reads the configuration at path: one file, or every *.hcl file of a
// directory (not recursive). Declaration order, which is the order routes are
// evaluated in, is: files sorted by name, then position in the file.
//
// Load always returns a Config, even with error diagnostics; then it is
// incomplete and must not be run, but its Files, Redact and Secrets still work
// so callers can print the diagnostics with snippets and without secrets (see
// WriteDiagnostics). Diagnostic summaries and details are already redacted.
func Load(path string, opts Options) (*Config, hcl.Diagnostics) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	cfg := &Config{Files: map[string]*hcl.File{}, secrets: newSecretSet()}

	paths, dir, err := configFiles(path)
	if err != nil {
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration", Detail: err.Error()}}
	}
	cfg.Dir = dir

	parser := hclparse.NewParser()
	var files []*hcl.File
	var diags hcl.Diagnostics
	for _, p := range paths {
		f, d := parser.ParseHCLFile(p)
		diags = append(diags, d...)
		if f != nil {
			files = append(files, f)
		}
	}
	cfg.Files = parser.Files()
	if diags.HasErrors() {
		return cfg, diags
	}

	cfg.funcs = functions(funcEnv{lookupEnv: opts.LookupEnv, baseDir: dir, secrets: cfg.secrets})
	d := &decoder{
		static:  &hcl.EvalContext{Functions: cfg.funcs},
		alert:   &hcl.EvalContext{Functions: cfg.funcs, Variables: map[string]cty.Value{"alert": UnknownAlert()}},
		secrets: cfg.secrets,
		diags:   diags,
	}
	content, cd := hcl.MergeFiles(files).Content(rootSchema)
	d.add(cd...)

	cfg.PluginDir = DefaultPluginDir
	d.str(content.Attributes, "plugin_dir", &cfg.PluginDir)
	cfg.PluginDir = resolve(dir, cfg.PluginDir)

	d.decodeServer(cfg, content.Blocks)
	d.decodeStore(cfg, content.Blocks)
	d.decodeSources(cfg, content.Blocks)
	d.decodeBackends(cfg, content.Blocks)
	schemas := d.decodeBackendConfigs(cfg, opts)
	d.decodeRoutes(cfg, content.Blocks, schemas)
	d.checkRetention(cfg)

	if len(cfg.Sources) == 0 && !d.diags.HasErrors() {
		d.warnf(hcl.Range{Filename: paths[0], Start: hcl.InitialPos, End: hcl.InitialPos}, "No sources",
			"No source block is declared, so the bridge accepts no alerts. Add a source \"azure_monitor\" \"NAME\" block.")
	}
	sortDiags(d.diags, paths)
	return cfg, redactDiags(cfg, d.diags)
}

// sortDiags orders diagnostics by file (declaration order) and position, so
// output is stable (hcldec reports in map order) and reads top to bottom.
func sortDiags(diags hcl.Diagnostics, paths []string) {
	fileIdx := map[string]int{}
	for i, p := range paths {
		fileIdx[p] = i
	}
	key := func(d *hcl.Diagnostic) (int, int) {
		if d.Subject == nil {
			return -1, 0
		}
		return fileIdx[d.Subject.Filename], d.Subject.Start.Byte
	}
	sort.SliceStable(diags, func(i, j int) bool {
		fi, bi := key(diags[i])
		fj, bj := key(diags[j])
		if fi != fj {
			return fi < fj
		}
		return bi < bj
	})
}

// configFiles lists the files to parse and the configuration's directory.
func configFiles(path string) ([]string, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		return []string{path}, filepath.Dir(path), nil
	}
	matches, err := filepath.Glob(filepath.Join(path, "*.hcl"))
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", path, err)
	}
	if len(matches) == 0 {
		return nil, "", fmt.Errorf("%s: no *.hcl files in the directory", path)
	}
	sort.Strings(matches)
	return matches, path, nil
}

// resolve makes a relative path relative to the configuration's directory.
func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func redactDiags(cfg *Config, diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		d.Summary = cfg.Redact(d.Summary)
		d.Detail = cfg.Redact(d.Detail)
		// The evaluation context would let a diagnostic writer print values.
		d.EvalContext = nil
		d.Expression = nil
	}
	return diags
}

// WriteDiagnostics prints diags for humans, with every secret redacted: for
// each one a first line "file:line:col: Error: summary" (which editors and CI
// annotators understand), then hcl's text rendering (the source snippet and
// the detail). width wraps the detail text (0 = no wrapping).
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, width uint) error {
	var out, one strings.Builder
	tw := hcl.NewDiagnosticTextWriter(&one, c.Files, width, false)
	for _, d := range diags {
		one.Reset()
		if err := tw.WriteDiagnostic(d); err != nil {
			return err
		}
		text := one.String()
		if d.Subject != nil {
			// hcl's writer starts with "Error: summary"; prefix the position.
			fmt.Fprintf(&out, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		out.WriteString(text)
	}
	_, err := io.WriteString(w, c.Redact(out.String()))
	return err
}

func (d *decoder) decodeServer(cfg *Config, blocks hcl.Blocks) {
	s := &cfg.Server
	*s = Server{
		Listen:          DefaultListen,
		AdminListen:     DefaultAdminListen,
		MaxBodyBytes:    DefaultMaxBodyBytes,
		ReadTimeout:     DefaultReadTimeout,
		WriteTimeout:    DefaultWriteTimeout,
		IdleTimeout:     DefaultIdleTimeout,
		ShutdownTimeout: DefaultShutdownTimeout,
	}
	b := d.singleBlock(blocks, "server")
	if b == nil {
		return
	}
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "listen"}, {Name: "admin_listen"}, {Name: "admin_token"}, {Name: "max_body_bytes"},
		{Name: "read_timeout"}, {Name: "write_timeout"}, {Name: "idle_timeout"}, {Name: "shutdown_timeout"},
	}, Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}, {Type: "admin_tls"}}})
	d.add(diags...)
	if tb := d.singleBlock(content.Blocks, "tls"); tb != nil {
		s.TLS = d.decodeTLS(cfg, tb)
	}
	if tb := d.singleBlock(content.Blocks, "admin_tls"); tb != nil {
		s.AdminTLS = d.decodeTLS(cfg, tb)
	}
	a := content.Attributes
	listen := d.str(a, "listen", &s.Listen)
	admin := d.str(a, "admin_listen", &s.AdminListen)
	n := len(d.diags)
	if d.str(a, "admin_token", &s.AdminToken) != nil {
		d.secrets.add(s.AdminToken)
	}
	tokenFailed := d.diags[n:].HasErrors() // already reported; do not pile on
	maxBody := int(s.MaxBodyBytes)
	d.intAttr(a, "max_body_bytes", 1024, 1<<30, &maxBody)
	s.MaxBodyBytes = int64(maxBody)
	d.duration(a, "read_timeout", &s.ReadTimeout)
	d.duration(a, "write_timeout", &s.WriteTimeout)
	d.duration(a, "idle_timeout", &s.IdleTimeout)
	d.duration(a, "shutdown_timeout", &s.ShutdownTimeout)

	rangeOf := func(attr *hcl.Attribute) hcl.Range {
		if attr != nil {
			return attr.Expr.Range()
		}
		return b.DefRange
	}
	loopback, ok := d.checkListen(rangeOf(admin), "admin_listen", s.AdminListen)
	if ok && !loopback && s.AdminToken == "" && !tokenFailed {
		d.errorf(rangeOf(admin), "Admin token required",
			"admin_listen %q is not a loopback address, so the admin API needs a token: set admin_token = env(\"ITSMBRIDGE_ADMIN_TOKEN\") in the server block.", s.AdminListen)
	}
	d.checkListen(rangeOf(listen), "listen", s.Listen)
	if s.Listen == s.AdminListen {
		d.errorf(rangeOf(admin), "Address already used", "listen and admin_listen must differ; both are %q.", s.Listen)
	}
}

// decodeTLS decodes a tls or admin_tls block and loads its pair, so a
// missing file or a key that does not match is a load-time diagnostic.
func (d *decoder) decodeTLS(cfg *Config, b *hcl.Block) *TLS {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "cert_file", Required: true}, {Name: "key_file", Required: true}, {Name: "min_version"},
	}})
	d.add(diags...)
	a := content.Attributes
	t := &TLS{MinVersion: tls.VersionTLS12}
	certAttr := d.str(a, "cert_file", &t.CertFile)
	d.str(a, "key_file", &t.KeyFile)
	t.CertFile, t.KeyFile = resolve(cfg.Dir, t.CertFile), resolve(cfg.Dir, t.KeyFile)
	min := "1.2"
	if attr := d.str(a, "min_version", &min); attr != nil {
		switch min {
		case "1.2":
		case "1.3":
			t.MinVersion = tls.VersionTLS13
		default:
			d.errorf(attr.Expr.Range(), "Invalid min_version", "min_version must be \"1.2\" or \"1.3\"; got %q.", min)
		}
	}
	if certAttr != nil && t.CertFile != "" && t.KeyFile != "" {
		if _, err := certfile.Load(t.CertFile, t.KeyFile); err != nil {
			d.errorf(certAttr.Expr.Range(), "Invalid TLS certificate",
				"The %s block's certificate cannot be used: %s.", b.Type, err)
		}
	}
	return t
}

// checkListen validates a host:port address and reports whether it is loopback.
func (d *decoder) checkListen(rng hcl.Range, name, addr string) (loopback, ok bool) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		d.errorf(rng, "Invalid address", "%s must be host:port, such as \"127.0.0.1:8080\"; got %q.", name, addr)
		return false, false
	}
	if host == "localhost" {
		return true, true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), true
}

func (d *decoder) decodeStore(cfg *Config, blocks hcl.Blocks) {
	cfg.Store = Store{Kind: StoreSQLite, Path: resolve(cfg.Dir, DefaultSQLitePath), Retention: DefaultRetention}
	b := d.singleBlock(blocks, "store")
	if b == nil {
		return
	}
	kind := b.Labels[0]
	switch kind {
	case StoreSQLite:
		content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path"}, {Name: "retention"}}})
		d.add(diags...)
		path := DefaultSQLitePath
		d.str(content.Attributes, "path", &path)
		cfg.Store.Path = resolve(cfg.Dir, path)
		d.retention(cfg, content.Attributes)
	case StorePostgres:
		content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
			{Name: "dsn", Required: true}, {Name: "max_open_conns"}, {Name: "retention"},
		}})
		d.add(diags...)
		cfg.Store = Store{Kind: StorePostgres, Retention: DefaultRetention}
		if d.str(content.Attributes, "dsn", &cfg.Store.DSN) != nil {
			d.secrets.add(cfg.Store.DSN)
		}
		d.intAttr(content.Attributes, "max_open_conns", 0, 10000, &cfg.Store.MaxOpenConns)
		d.retention(cfg, content.Attributes)
	default:
		d.errorf(b.LabelRanges[0], "Unknown store kind",
			"The store kind must be \"sqlite\" or \"postgres\"; got %q.%s", kind, didYouMean(kind, []string{StoreSQLite, StorePostgres}))
	}
}

// retention decodes the store's retention ("0" keeps everything).
func (d *decoder) retention(cfg *Config, attrs hcl.Attributes) {
	attr := d.duration(attrs, "retention", &cfg.Store.Retention)
	if attr == nil {
		return
	}
	cfg.Store.RetentionRange = attr.Expr.Range()
	if r := cfg.Store.Retention; r > 0 && r < time.Hour {
		d.errorf(attr.Expr.Range(), "Retention too short",
			"retention must be at least 1h (or \"0\" to keep everything); got %s.", r)
	}
}

// checkRetention: a resolved ticket must be remembered for its route's
// whole reopen window, or a fire inside the window would file a new ticket
// instead of reopening.
func (d *decoder) checkRetention(cfg *Config) {
	keep := cfg.Store.Retention
	if keep <= 0 {
		return
	}
	for _, rt := range cfg.Routes {
		if w := rt.Lifecycle.ReopenWithin; w > keep {
			rng := cfg.Store.RetentionRange
			if rng.Filename == "" {
				rng = rt.DeclRange
			}
			d.errorf(rng, "Retention shorter than a reopen window",
				"The store keeps resolved tickets for %s (retention, default %s), but route %q reopens them within %s. "+
					"Raise the store's retention to at least %s, or shorten the route's reopen_within.",
				keep, DefaultRetention, rt.Name, w, w)
		}
	}
}

// identifier checks a block label used in references (backend.TYPE.NAME).
func (d *decoder) identifier(b *hcl.Block, i int, what string) bool {
	if hclsyntax.ValidIdentifier(b.Labels[i]) {
		return true
	}
	d.errorf(b.LabelRanges[i], "Invalid "+what,
		"%q is not a valid %s: use letters, digits, underscores and dashes, starting with a letter.", b.Labels[i], what)
	return false
}

// duplicate reports a block whose labels were already declared.
func (d *decoder) duplicate(seen map[string]hcl.Range, key, what string, b *hcl.Block) bool {
	if prev, ok := seen[key]; ok {
		d.errorf(b.DefRange, "Duplicate "+what,
			"A %s %s is already declared at %s; names must be unique.", what, key, prev)
		return true
	}
	seen[key] = b.DefRange
	return false
}
