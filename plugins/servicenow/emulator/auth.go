package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"mime"
	"net/http"
	"strings"
	"time"
)

// authenticate checks Basic credentials or a Bearer token.
func (e *Emulator) authenticate(r *http.Request) (*User, bool) {
	h := r.Header.Get("Authorization")
	if user, pass, ok := r.BasicAuth(); ok {
		return e.checkPassword(user, pass)
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, false
	}
	e.mu.Lock()
	t := e.tokens[strings.TrimSpace(tok)]
	valid := t != nil && e.now().Before(t.expires)
	var name string
	if valid {
		name = t.user
	}
	e.mu.Unlock()
	if !valid {
		return nil, false
	}
	return e.userByName(name)
}

func (e *Emulator) checkPassword(user, pass string) (*User, bool) {
	for i := range e.opts.Users {
		u := &e.opts.Users[i]
		if u.UserName == user && u.Password == pass {
			return u, true
		}
	}
	return nil, false
}

func (e *Emulator) userByName(name string) (*User, bool) {
	for i := range e.opts.Users {
		if e.opts.Users[i].UserName == name {
			return &e.opts.Users[i], true
		}
	}
	return nil, false
}

func (u *User) hasRole(roles ...string) bool {
	for _, have := range u.Roles {
		if have == "admin" {
			return true
		}
		for _, want := range roles {
			if have == want {
				return true
			}
		}
	}
	return false
}

// tokenResponse is /oauth_token.do's success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleToken is POST /oauth_token.do. Only form-encoded bodies are accepted:
// ServiceNow documents that a JSON body gives an unspecified error.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "request body must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f := r.PostForm
	client := e.client(f.Get("client_id"), f.Get("client_secret"))
	if client == nil {
		oauthError(w, http.StatusUnauthorized, "server_error", "access_denied")
		return
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	switch f.Get("grant_type") {
	case "password":
		u, ok := e.checkPassword(f.Get("username"), f.Get("password"))
		if !ok {
			oauthError(w, http.StatusUnauthorized, "server_error", "access_denied")
			return
		}
		// While a token is still valid the same one is returned again.
		for _, t := range e.tokens {
			if t.user == u.UserName && t.client == client.ID && t.refresh != "" && now.Before(t.expires) {
				writeJSON(w, http.StatusOK, e.tokenBody(t, true))
				return
			}
		}
		t := e.issueLocked(u.UserName, client.ID, true)
		writeJSON(w, http.StatusOK, e.tokenBody(t, true))
	case "refresh_token":
		old := e.refresh[f.Get("refresh_token")]
		if old == nil || old.client != client.ID {
			oauthError(w, http.StatusUnauthorized, "server_error", "access_denied")
			return
		}
		t := &token{access: randomToken(), refresh: old.refresh, user: old.user, client: client.ID, expires: now.Add(e.opts.TokenTTL)}
		e.tokens[t.access] = t
		writeJSON(w, http.StatusOK, e.tokenBody(t, false))
	case "client_credentials":
		t := e.issueLocked(client.User, client.ID, false)
		writeJSON(w, http.StatusOK, e.tokenBody(t, false))
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password, refresh_token or client_credentials")
	}
}

func (e *Emulator) client(id, secret string) *OAuthClient {
	for i := range e.opts.OAuthClients {
		c := &e.opts.OAuthClients[i]
		if c.ID == id && c.Secret == secret && id != "" {
			return c
		}
	}
	return nil
}

func (e *Emulator) issueLocked(user, client string, withRefresh bool) *token {
	t := &token{access: randomToken(), user: user, client: client, expires: e.now().Add(e.opts.TokenTTL)}
	if withRefresh {
		t.refresh = randomToken()
		e.refresh[t.refresh] = t
	}
	e.tokens[t.access] = t
	return t
}

func (e *Emulator) tokenBody(t *token, withRefresh bool) tokenResponse {
	b := tokenResponse{AccessToken: t.access, Scope: "useraccount", TokenType: "Bearer",
		ExpiresIn: int(t.expires.Sub(e.now()) / time.Second)}
	if withRefresh {
		b.RefreshToken = t.refresh
	}
	return b
}

func randomToken() string {
	var b [48]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
