package entratest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// AzNSAppID is the app id of Microsoft's "AzNS AAD Webhook" application, the
// caller in every action group token. (Same value as auth.AzNSAppID; this
// package stands for Azure's side and does not import the verifier.)
const AzNSAppID = "461e8683-5575-4561-ac7f-899cc907d62a"

// RoleSecureWebhook is the app role the AzNS service principal is assigned.
const RoleSecureWebhook = "ActionGroupsSecureWebhook"

// DefaultTTL is the lifetime of tokens made by ActionGroupToken.
const DefaultTTL = time.Hour

// TokenOptions describes an action group token. Tenant and Audience are
// required; the rest defaults to what Azure Monitor sends.
type TokenOptions struct {
	Tenant   string        `json:"tenant"`   // tenant id (tid, and in iss)
	Audience string        `json:"audience"` // aud: App ID URI (v1, usually) or client id (v2)
	V1       bool          `json:"v1"`       // v1 token (iss sts.windows.net, appid, ver 1.0) instead of v2
	TTL      time.Duration `json:"ttl"`      // exp - iat; default DefaultTTL
	AppID    string        `json:"app_id"`   // appid/azp; default AzNSAppID
	// Roles; nil means [RoleSecureWebhook], an empty non-nil slice omits the claim.
	Roles []string `json:"roles"`
	// Now is the issue time; zero means time.Now().
	Now time.Time `json:"now"`
	// Issuer overrides iss.
	Issuer string `json:"issuer,omitempty"`
	// Claims are set over the generated ones; a nil value removes a claim.
	Claims map[string]any `json:"claims,omitempty"`
	// Headers are added to the JOSE header (see Sign).
	Headers map[string]any `json:"headers,omitempty"`
}

func (o TokenOptions) ttl() time.Duration {
	if o.TTL > 0 {
		return o.TTL
	}
	return DefaultTTL
}

// ActionGroupToken signs a token shaped like those Azure Monitor's action
// groups send: RS256 with the current key (header typ, alg, kid, and x5t for
// v1), claims aud, iss, iat, nbf, exp, aio, appid+appidacr (v1) or
// azp+azpacr (v2), idp (v1), idtyp, oid, rh, roles, sub, tid, uti, ver.
// The v2 issuer needs the authority: call Start or SetAuthority first.
func (s *Server) ActionGroupToken(o TokenOptions) (string, error) {
	if o.Tenant == "" || o.Audience == "" {
		return "", errors.New("entratest: token options need Tenant and Audience")
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	app := o.AppID
	if app == "" {
		app = AzNSAppID
	}
	// The AzNS service principal's object id differs per tenant; make it
	// stable per tenant like the real one.
	oid := guidFrom("oid", o.Tenant, app)
	c := map[string]any{
		"aud":   o.Audience,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(o.ttl()).Unix(),
		"aio":   opaque(40),
		"idtyp": "app",
		"oid":   oid,
		"rh":    "0." + opaque(60) + ".",
		"sub":   oid,
		"tid":   o.Tenant,
		"uti":   opaque(22),
	}
	if o.V1 {
		c["iss"] = V1Issuer(o.Tenant)
		c["idp"] = V1Issuer(o.Tenant)
		c["appid"] = app
		c["appidacr"] = "2"
		c["ver"] = "1.0"
	} else {
		a := s.Authority()
		if a == "" {
			return "", errors.New("entratest: authority unknown; call Start or SetAuthority")
		}
		c["iss"] = V2Issuer(a, o.Tenant)
		c["azp"] = app
		c["azpacr"] = "2"
		c["ver"] = "2.0"
	}
	switch {
	case o.Roles == nil:
		c["roles"] = []string{RoleSecureWebhook}
	case len(o.Roles) > 0:
		c["roles"] = o.Roles
	}
	if o.Issuer != "" {
		c["iss"] = o.Issuer
	}
	for k, v := range o.Claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	headers := map[string]any{}
	if o.V1 {
		headers["x5t"] = s.KeyID()
	}
	for k, v := range o.Headers {
		headers[k] = v
	}
	return s.Sign(c, headers)
}

// Sign signs claims with the current key (RS256, typ JWT, kid of the key).
// Each headers map is added to the protected header; a "kid" entry replaces
// the key's kid (an empty string omits it), e.g. {"kid": "bogus"} or
// {"jku": "https://evil.example/keys"}.
func (s *Server) Sign(claims map[string]any, headers ...map[string]any) (string, error) {
	s.mu.Lock()
	k := s.keys[0]
	s.mu.Unlock()
	h := map[string]any{}
	for _, m := range headers {
		for name, v := range m {
			h[name] = v
		}
	}
	kid := k.kid
	if v, ok := h["kid"]; ok {
		kid, _ = v.(string)
		delete(h, "kid")
	}
	return SignWith(k.priv, kid, claims, h)
}

// SignWith signs claims with any RSA key (RS256, typ JWT), with kid (omitted
// when empty) and extra protected headers — for tokens the stand-in would
// never issue.
func SignWith(key *rsa.PrivateKey, kid string, claims map[string]any, headers map[string]any) (string, error) {
	var signingKey any = key
	if kid != "" {
		signingKey = jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.RS256)}
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for name, v := range headers {
		opts.WithHeader(jose.HeaderKey(name), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: signingKey}, opts)
	if err != nil {
		return "", fmt.Errorf("entratest: signer: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("entratest: claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("entratest: signing: %w", err)
	}
	return jws.CompactSerialize()
}

// FetchToken asks a stand-in running elsewhere (e.g. `itsmbridge-sandbox
// serve`) for an action group token through POST {entraURL}/_entra/token.
func FetchToken(ctx context.Context, client *http.Client, entraURL string, o TokenOptions) (string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	body, err := json.Marshal(o)
	if err != nil {
		return "", fmt.Errorf("entratest: token options: %w", err)
	}
	u := strings.TrimRight(entraURL, "/") + "/_entra/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("entratest: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("entratest: POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("entratest: POST %s: %w", u, err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", fmt.Errorf("entratest: POST %s: status %d: %w", u, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", fmt.Errorf("entratest: POST %s: status %d: %s %s", u, resp.StatusCode, out.Error, out.Description)
	}
	return out.AccessToken, nil
}

// opaque returns n random base64url characters, like Entra's aio/uti/rh.
func opaque(n int) string {
	b := make([]byte, (n*3+3)/4)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// guidFrom derives a stable GUID-formatted id from parts.
func guidFrom(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := sum[:16]
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
