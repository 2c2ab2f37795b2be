package console

import (
	"bytes"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// CookieName is the cookie the admin API accepts in place of
// `Authorization: Bearer` (a browser cannot add that header to a page load).
const CookieName = "itsmbridge_admin"

// WithLogin wraps the admin handler h so that a browser can use the console
// when an admin token is set: GET /login shows a form, POST /login checks the
// token and stores it in an HttpOnly, SameSite=Strict cookie (so another
// site's page cannot make the browser use it), POST /logout clears it, and a
// page request without a valid token is redirected to /login instead of
// getting the API's JSON 401. h still checks every request itself.
// With an empty token, h is returned unchanged.
func WithLogin(h http.Handler, token string) http.Handler {
	if token == "" {
		return h
	}
	pages := mustParsePages()
	valid := func(got string) bool {
		return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/login":
			login(w, r, pages, valid)
			return
		case r.URL.Path == "/logout" && r.Method == http.MethodPost:
			http.SetCookie(w, &http.Cookie{Name: CookieName, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		case r.Method == http.MethodGet && isPage(r) && !authorized(r, valid):
			http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// isPage reports whether r is a browser asking for a console page (not the
// API, metrics or probes, which keep their JSON or plain answers).
func isPage(r *http.Request) bool {
	p := r.URL.Path
	for _, prefix := range []string{"/api/", "/metrics", "/healthz", "/readyz", "/static/"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func authorized(r *http.Request, valid func(string) bool) bool {
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && valid(got) {
		return true
	}
	c, err := r.Cookie(CookieName)
	return err == nil && valid(c.Value)
}

type loginView struct {
	Next  string
	Error string
}

func login(w http.ResponseWriter, r *http.Request, pages map[string]pageTemplate, valid func(string) bool) {
	v := loginView{Next: safeNext(r.FormValue("next"))}
	status := http.StatusOK
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if valid(r.PostFormValue("token")) {
			http.SetCookie(w, &http.Cookie{
				Name: CookieName, Value: r.PostFormValue("token"), Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
			})
			http.Redirect(w, r, v.Next, http.StatusSeeOther)
			return
		}
		v.Error, status = "That is not the admin token.", http.StatusUnauthorized
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var buf bytes.Buffer
	if err := pages["login"].t.ExecuteTemplate(&buf, "layout", view{Page: "login", Title: "Sign in", Data: v}); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// safeNext keeps redirects on this server: a local absolute path, or "/".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}
