package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageTemplate is one page: the layout, the shared partials and the page's
// own "content" (and, for the overview, "live") templates.
type pageTemplate struct {
	t     *template.Template
	title string
}

// pageTitles names every page file (templates/<key>.html) and its title.
var pageTitles = map[string]string{
	"overview":    "Overview",
	"alerts":      "Alerts",
	"alert":       "Alert",
	"tickets":     "Tickets",
	"ticket":      "Ticket",
	"dlq":         "Dead letters",
	"quarantine":  "Quarantine",
	"quarantined": "Quarantined payload",
	"config":      "Configuration",
	"routetest":   "Route tester",
	"error":       "Error",
	"login":       "Sign in",
}

func mustParsePages() map[string]pageTemplate {
	pages, err := parsePages()
	if err != nil {
		panic(err)
	}
	return pages
}

func parsePages() (map[string]pageTemplate, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	pages := map[string]pageTemplate{}
	for key, title := range pageTitles {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+key+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", key, err)
		}
		pages[key] = pageTemplate{t: t, title: title}
	}
	return pages, nil
}

// assetVersion is a digest of the embedded static files: asset URLs carry it,
// so a new binary's browsers fetch the new files and old ones cache forever.
var assetVersion = func() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

var staticRoot = func() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}()

func serveStatic(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("v") == assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	staticRoot.ServeHTTP(w, r)
}

var funcs = template.FuncMap{
	"asset": func(name string) string { return "/static/" + path.Clean(name) + "?v=" + assetVersion },
	"iso":   isoTime,
	"utc":   utcTime,
	"sev":   func(n int) string { return fmt.Sprintf("Sev%d", n) },
	// vendorURL returns u when it is an http(s) link, else "" (the template
	// then prints the reference as text): a plugin's file: or javascript:
	// URL never becomes a link.
	"vendorURL": vendorURL,
	"join":      strings.Join,
	"pretty":    prettyJSON,
	"duration":  shortDuration,
	"inc":       func(i int) int { return i + 1 },
	"ticketURL": ticketURL,
	"slug":      func(s string) string { return strings.ReplaceAll(s, " ", "-") },
}

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func utcTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + " UTC" }

func vendorURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

// maxPretty bounds how much JSON a page shows; the API has the rest.
const maxPretty = 256 << 10

// prettyJSON indents raw JSON for display; anything else is shown as is.
func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	s := buf.String()
	if len(s) > maxPretty {
		s = s[:maxPretty] + fmt.Sprintf("\n… (%d more bytes; see the admin API)", len(s)-maxPretty)
	}
	return s
}

// shortDuration renders d to the second, e.g. "3m12s", "2h5m0s".
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Truncate(time.Second).String()
}
