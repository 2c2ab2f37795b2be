package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// session is one issued access/refresh token pair.
type session struct {
	access, refresh string
	user            string
	accessExp       time.Time
	refreshExp      time.Time
}

type ctxKey int

const sessionKey ctxKey = 0

func randomToken(n int, b64 bool) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if b64 {
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return hex.EncodeToString(b)
}

// handleToken implements POST /CherwellAPI/token (OAuth2 password and
// refresh_token grants, form-encoded).
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_request", Description: "The request body is not a valid form."})
		return
	}
	grant := r.PostForm.Get("grant_type")
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		clientID = r.URL.Query().Get("api_key") // Ivanti's PowerShell sample passes it here
	}
	if grant != "password" && grant != "refresh_token" {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "unsupported_grant_type"})
		return
	}
	if clientID != e.opts.ClientID {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_client_id",
			Description: "Client " + clientID + " is not registered in the system."})
		return
	}
	// auth_mode belongs in the query; Ivanti's prose puts it in the body, so
	// accept both.
	mode := r.URL.Query().Get("auth_mode")
	if mode == "" {
		mode = r.PostForm.Get("auth_mode")
	}
	if mode == "" {
		mode = "Internal"
	}
	if !e.authModeAllowed(mode) {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_grant",
			Description: "Authentication mode " + mode + " is not enabled for this client."})
		return
	}

	now := e.opts.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	var user string
	if grant == "password" {
		if r.PostForm.Get("username") != e.opts.Username || r.PostForm.Get("password") != e.opts.Password {
			e.log.Debug("login refused", "username", r.PostForm.Get("username"))
			writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_grant",
				Description: "Could not login to system with the provided user ID and password."})
			return
		}
		user = e.opts.Username
	} else {
		old := e.refresh[r.PostForm.Get("refresh_token")]
		if old == nil || !now.Before(old.refreshExp) {
			writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_grant",
				Description: "The refresh token is invalid or has expired."})
			return
		}
		// Rotation: the old pair dies with the refresh.
		delete(e.refresh, old.refresh)
		delete(e.tokens, old.access)
		user = old.user
	}
	s := &session{
		access:     randomToken(48, true),
		refresh:    randomToken(16, false),
		user:       user,
		accessExp:  now.Add(e.opts.TokenLifetime),
		refreshExp: now.Add(e.opts.RefreshTokenLifetime),
	}
	e.tokens[s.access] = s
	e.refresh[s.refresh] = s
	e.log.Debug("token issued", "grant_type", grant, "username", user)
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  s.access,
		TokenType:    "bearer",
		ExpiresIn:    int(e.opts.TokenLifetime/time.Second) - 1,
		RefreshToken: s.refresh,
		ClientID:     clientID,
		Username:     user,
		Issued:       now.UTC().Format(http.TimeFormat),
		Expires:      s.accessExp.UTC().Format(http.TimeFormat),
	})
}

func (e *Emulator) authModeAllowed(mode string) bool {
	for _, m := range e.opts.AuthModes {
		if strings.EqualFold(m, mode) {
			return true
		}
	}
	return false
}

// requireBearer rejects API calls without a live access token with the
// ASP.NET 401 body CSM sends.
func (e *Emulator) requireBearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		var s *session
		if ok && strings.EqualFold(scheme, "Bearer") {
			e.mu.RLock()
			s = e.tokens[strings.TrimSpace(tok)]
			if s != nil && !e.opts.Now().Before(s.accessExp) {
				s = nil
			}
			e.mu.RUnlock()
		}
		if s == nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, apiMessage{Message: "Authorization has been denied for this request."})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, s)))
	})
}

func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request) {
	s, _ := r.Context().Value(sessionKey).(*session)
	if s != nil {
		e.mu.Lock()
		delete(e.tokens, s.access)
		delete(e.refresh, s.refresh)
		e.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

// ExpireTokens makes every issued access token expire now, so the next API
// call gets 401. With refresh set the refresh tokens die too, forcing a new
// password login.
func (e *Emulator) ExpireTokens(refresh bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	past := e.opts.Now().Add(-time.Second)
	for _, s := range e.tokens {
		s.accessExp = past
		if refresh {
			s.refreshExp = past
		}
	}
	if refresh {
		for _, s := range e.refresh {
			s.refreshExp = past
		}
	}
}

// TokenCount reports how many access tokens are live (for tests).
func (e *Emulator) TokenCount() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	now := e.opts.Now()
	n := 0
	for _, s := range e.tokens {
		if now.Before(s.accessExp) {
			n++
		}
	}
	return n
}
