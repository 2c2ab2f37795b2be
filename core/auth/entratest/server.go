package entratest

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// Server is a local Entra ID stand-in. Create it with New; serve Handler on
// any listener (then call SetAuthority) or call Start for an httptest server
// on 127.0.0.1. It is safe for concurrent use.
type Server struct {
	mux *http.ServeMux

	mu        sync.Mutex
	keys      []*signingKey // keys[0] signs; all are published
	nextKey   int           // next pool index Rotate uses
	authority string
	down      int // status code discovery and JWKS answer with; 0 = up
	stats     Stats
	changed   chan struct{} // closed and replaced when stats change
	ts        *httptest.Server
}

// Stats counts the requests the stand-in served (including failed ones).
type Stats struct {
	Discovery int `json:"discovery"` // discovery documents (v1 and v2)
	JWKS      int `json:"jwks"`      // JWKS documents
	Tokens    int `json:"tokens"`    // tokens issued through /_entra/token
}

// New returns a stand-in with one signing key. It panics only if the
// system cannot generate an RSA key.
func New() *Server {
	k, err := poolKey(0)
	if err != nil {
		panic(err)
	}
	s := &Server{keys: []*signingKey{k}, nextKey: 1, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.serveDiscoveryV2)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", s.serveDiscoveryV1)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.serveJWKS(true))
	mux.HandleFunc("GET /{tenant}/discovery/keys", s.serveJWKS(false))
	mux.HandleFunc("POST /_entra/token", s.serveToken)
	mux.HandleFunc("POST /_entra/rotate", s.serveRotate)
	mux.HandleFunc("POST /_entra/down", s.serveDown)
	mux.HandleFunc("POST /_entra/up", s.serveUp)
	mux.HandleFunc("GET /_entra/stats", s.serveStats)
	s.mux = mux
	return s
}

// Handler serves, for any tenant path segment (a GUID, "common",
// "organizations"...):
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration  v2 discovery
//	GET  /{tenant}/.well-known/openid-configuration       v1 discovery
//	GET  /{tenant}/discovery/v2.0/keys                    JWKS (v2 shape, with "issuer")
//	GET  /{tenant}/discovery/keys                         JWKS (v1 shape)
//
// and a control surface for the sandbox and tests:
//
//	POST /_entra/token   body: TokenOptions as JSON → {"access_token", "token_type", "expires_in"}
//	POST /_entra/rotate  ?keep=true keeps the old key published → {"kid"}
//	POST /_entra/down    ?status=503 (default) discovery and JWKS fail
//	POST /_entra/up      discovery and JWKS work again
//	GET  /_entra/stats   request counts (Stats as JSON)
func (s *Server) Handler() http.Handler { return s.mux }

// Start serves the stand-in on an httptest server on 127.0.0.1, sets the
// authority to its URL and returns it. Close stops it.
func (s *Server) Start() string {
	ts := httptest.NewServer(s.mux)
	s.mu.Lock()
	s.ts = ts
	s.authority = ts.URL
	s.mu.Unlock()
	return ts.URL
}

// Close stops the server started by Start, if any.
func (s *Server) Close() {
	s.mu.Lock()
	ts := s.ts
	s.ts = nil
	s.mu.Unlock()
	if ts != nil {
		ts.Close()
	}
}

// SetAuthority sets the base URL the documents and v2 issuers use (e.g.
// "http://127.0.0.1:8081"), when Handler is served on a listener of your own.
// Without it, documents use the request's host and ActionGroupToken fails.
func (s *Server) SetAuthority(url string) {
	s.mu.Lock()
	s.authority = strings.TrimRight(url, "/")
	s.mu.Unlock()
}

// Authority returns the base URL set by Start or SetAuthority.
func (s *Server) Authority() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authority
}

// KeyID returns the kid of the current signing key.
func (s *Server) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0].kid
}

// PublicKey returns the current signing key's public half.
func (s *Server) PublicKey() *rsa.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &s.keys[0].priv.PublicKey
}

// KeyIDs returns the kids of all published keys, the signing one first.
func (s *Server) KeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	kids := make([]string, len(s.keys))
	for i, k := range s.keys {
		kids[i] = k.kid
	}
	return kids
}

// Rotate makes a new signing key current and returns its kid. With keepOld
// the previous keys stay published (as Entra does during a rollover);
// without, they are dropped at once.
func (s *Server) Rotate(keepOld bool) (string, error) {
	s.mu.Lock()
	i := s.nextKey
	s.nextKey++
	s.mu.Unlock()
	k, err := poolKey(i)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if keepOld {
		s.keys = append([]*signingKey{k}, s.keys...)
	} else {
		s.keys = []*signingKey{k}
	}
	return k.kid, nil
}

// SetDown makes discovery and JWKS requests fail with status (e.g. 503);
// 0 brings them back.
func (s *Server) SetDown(status int) {
	s.mu.Lock()
	s.down = status
	s.mu.Unlock()
}

// Stats returns the request counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Wait blocks until cond holds for the request counts or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(Stats) bool) error {
	for {
		s.mu.Lock()
		st, ch := s.stats, s.changed
		s.mu.Unlock()
		if cond(st) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("entratest: waiting for requests (seen %+v): %w", st, ctx.Err())
		}
	}
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// base returns the authority for documents served in answer to r.
func (s *Server) base(r *http.Request) string {
	s.mu.Lock()
	a := s.authority
	s.mu.Unlock()
	if a != "" {
		return a
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// failing answers the request with the configured failure, if any.
func (s *Server) failing(w http.ResponseWriter) bool {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down == 0 {
		return false
	}
	writeJSON(w, down, map[string]any{
		"error":             "temporarily_unavailable",
		"error_description": "AADSTS90033: A transient error has occurred. Please try again.",
	})
	return true
}

// issuerTenant is what Entra puts in issuers for a tenant path: the tenant
// itself, or the "{tenantid}" placeholder for the multi-tenant aliases.
func issuerTenant(tenant string) string {
	switch strings.ToLower(tenant) {
	case "common", "organizations", "consumers":
		return "{tenantid}"
	}
	return tenant
}

// V1Issuer returns the iss of v1 tokens for tenant.
func V1Issuer(tenant string) string { return "https://sts.windows.net/" + tenant + "/" }

// V2Issuer returns the iss of v2 tokens for tenant under authority.
func V2Issuer(authority, tenant string) string {
	return strings.TrimRight(authority, "/") + "/" + tenant + "/v2.0"
}

// discoveryV2 follows the field order of Entra's v2 document.
type discoveryV2 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// discoveryV1 follows the field order of Entra's v1 document.
type discoveryV1 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	MicrosoftMultiRefreshToken        bool     `json:"microsoft_multi_refresh_token"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CheckSessionIframe                string   `json:"check_session_iframe"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

var authMethods = []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}

func (s *Server) serveDiscoveryV2(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.Discovery++ })
	if s.failing(w) {
		return
	}
	base, tenant := s.base(r), r.PathValue("tenant")
	t := base + "/" + tenant
	writeJSON(w, http.StatusOK, discoveryV2{
		TokenEndpoint:                     t + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: authMethods,
		JWKSURI:                           t + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            V2Issuer(base, issuerTenant(tenant)),
		UserinfoEndpoint:                  "https://graph.microsoft.com/oidc/userinfo",
		AuthorizationEndpoint:             t + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       t + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                t + "/oauth2/v2.0/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		KerberosEndpoint:   t + "/kerberos",
		CloudInstanceName:  "microsoftonline.com",
		CloudGraphHostName: "graph.windows.net",
		MSGraphHost:        "graph.microsoft.com",
		RBACURL:            "https://pas.windows.net",
	})
}

func (s *Server) serveDiscoveryV1(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.Discovery++ })
	if s.failing(w) {
		return
	}
	base, tenant := s.base(r), r.PathValue("tenant")
	t := base + "/" + tenant
	writeJSON(w, http.StatusOK, discoveryV1{
		TokenEndpoint:                     t + "/oauth2/token",
		TokenEndpointAuthMethodsSupported: authMethods,
		JWKSURI:                           base + "/common/discovery/keys", // as Entra: v1 keys are not per tenant
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "token id_token", "token"},
		ScopesSupported:                   []string{"openid"},
		Issuer:                            V1Issuer(issuerTenant(tenant)),
		MicrosoftMultiRefreshToken:        true,
		AuthorizationEndpoint:             t + "/oauth2/authorize",
		DeviceAuthorizationEndpoint:       t + "/oauth2/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                t + "/oauth2/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"},
		CheckSessionIframe: t + "/oauth2/checksession",
		UserinfoEndpoint:   t + "/openid/userinfo",
		KerberosEndpoint:   t + "/kerberos",
		CloudInstanceName:  "microsoftonline.com",
		CloudGraphHostName: "graph.windows.net",
		MSGraphHost:        "graph.microsoft.com",
		RBACURL:            "https://pas.windows.net",
	})
}

// jwk follows the field order of Entra's JWKS entries.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"` // v2 only
}

func (s *Server) serveJWKS(v2 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.count(func(st *Stats) { st.JWKS++ })
		if s.failing(w) {
			return
		}
		base := s.base(r)
		s.mu.Lock()
		keys := s.keys
		s.mu.Unlock()
		out := struct {
			Keys []jwk `json:"keys"`
		}{Keys: make([]jwk, 0, len(keys))}
		for _, k := range keys {
			j := jwk{
				Kty: "RSA",
				Use: "sig",
				Kid: k.kid,
				X5t: k.kid,
				N:   base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
				E:   base64.RawURLEncoding.EncodeToString(bigEndian(k.priv.E)),
				X5c: []string{base64.StdEncoding.EncodeToString(k.cert)},
			}
			if v2 {
				j.Issuer = V2Issuer(base, issuerTenant(r.PathValue("tenant")))
			}
			out.Keys = append(out.Keys, j)
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	var o TokenOptions
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&o); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	tok, err := s.ActionGroupToken(o)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	s.count(func(st *Stats) { st.Tokens++ })
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":   "Bearer",
		"expires_in":   int(o.ttl().Seconds()),
		"access_token": tok,
	})
}

func (s *Server) serveRotate(w http.ResponseWriter, r *http.Request) {
	keep, _ := strconv.ParseBool(r.URL.Query().Get("keep"))
	kid, err := s.Rotate(keep)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kid": kid})
}

func (s *Server) serveDown(w http.ResponseWriter, r *http.Request) {
	status := http.StatusServiceUnavailable
	if v := r.URL.Query().Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 400 || n > 599 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "status must be 400-599"})
			return
		}
		status = n
	}
	s.SetDown(status)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveUp(w http.ResponseWriter, _ *http.Request) {
	s.SetDown(0)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func bigEndian(e int) []byte {
	var b []byte
	for ; e > 0; e >>= 8 {
		b = append([]byte{byte(e)}, b...)
	}
	return b
}
