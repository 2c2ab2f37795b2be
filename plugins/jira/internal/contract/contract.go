package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Spec is one loaded OpenAPI description.
type Spec struct {
	Name        string
	PathPrefix  string // paths this description covers
	doc         *openapi3.T
	router      routers.Router
	errorSchema *openapi3.Schema
}

// Validator holds the loaded descriptions. It is safe for concurrent use.
type Validator struct {
	specs []*Spec
	// LoadTime is how long loading and routing the descriptions took.
	LoadTime time.Duration
}

// SpecFile names a description file, the path prefix it covers and the name
// of its error body schema in components.schemas.
type SpecFile struct {
	Path        string
	PathPrefix  string
	ErrorSchema string
	// KeepPaths, when set, restricts the description to exactly these paths
	// (and the components they reference, transitively) before kin-openapi
	// loads it: the platform description has 417 paths and loading all of
	// it takes seconds, tens of seconds under -race. Pruning can only make
	// validation stricter: a request to a dropped path is reported as "not
	// an operation".
	KeepPaths []string
}

// Load reads the descriptions. Servers are dropped so that routes match by
// path on any host (the emulator listens on 127.0.0.1).
func Load(files ...SpecFile) (*Validator, error) {
	start := time.Now()
	v := &Validator{}
	for _, f := range files {
		raw, err := os.ReadFile(f.Path)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", f.Path, err)
		}
		if len(f.KeepPaths) > 0 {
			if raw, err = prune(raw, f.KeepPaths); err != nil {
				return nil, fmt.Errorf("prune %s: %w", f.Path, err)
			}
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(raw)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", f.Path, err)
		}
		doc.Servers = nil
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", f.Path, err)
		}
		s := &Spec{Name: f.Path, PathPrefix: f.PathPrefix, doc: doc, router: r}
		if ref := doc.Components.Schemas[f.ErrorSchema]; ref != nil {
			s.errorSchema = ref.Value
		} else {
			return nil, fmt.Errorf("%s: no schema %q", f.Path, f.ErrorSchema)
		}
		v.specs = append(v.specs, s)
	}
	v.LoadTime = time.Since(start)
	return v, nil
}

// Exchange is one request/response pair seen by the middleware.
type Exchange struct {
	Method    string
	Path      string
	Status    int
	Operation string // operationId, empty when skipped or unrouted
	Skipped   string // why it was not validated
	Err       error  // the violation, nil when valid
}

// Recorder collects exchanges.
type Recorder struct {
	mu        sync.Mutex
	exchanges []Exchange
}

func (r *Recorder) add(x Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exchanges = append(r.exchanges, x)
}

// Exchanges returns a copy of what was recorded.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.exchanges...)
}

// Violations returns the exchanges that failed validation.
func (r *Recorder) Violations() []Exchange {
	var out []Exchange
	for _, x := range r.Exchanges() {
		if x.Err != nil {
			out = append(out, x)
		}
	}
	return out
}

// Operations counts validated exchanges per operationId.
func (r *Recorder) Operations() map[string]int {
	out := map[string]int{}
	for _, x := range r.Exchanges() {
		if x.Operation != "" && x.Skipped == "" {
			out[x.Operation]++
		}
	}
	return out
}

// InvalidRequestHeader marks a request a test sends invalid on purpose (no
// credentials where the description requires them, a malformed body): its
// request must fail validation, and its response is still validated.
const InvalidRequestHeader = "X-Contract-Invalid-Request"

// AssetsSkipReason is recorded for Assets API exchanges.
const AssetsSkipReason = "Atlassian publishes no OpenAPI description of the Assets API"

// capture buffers a response so it can be validated and then forwarded.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// Middleware validates every exchange with next and records it in rec.
func (v *Validator) Middleware(next http.Handler, rec *Recorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_emulator/") {
			next.ServeHTTP(w, r)
			return
		}
		reqBody, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		cw := &capture{header: http.Header{}}
		next.ServeHTTP(cw, r)
		for k, vs := range cw.header {
			w.Header()[k] = vs
		}
		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		w.WriteHeader(cw.status)
		_, _ = w.Write(cw.body.Bytes())

		x := Exchange{Method: r.Method, Path: r.URL.Path, Status: cw.status}
		if strings.HasPrefix(r.URL.Path, "/jsm/assets/") {
			x.Skipped = AssetsSkipReason
			rec.add(x)
			return
		}
		x.Operation, x.Err = v.validate(r, reqBody, cw)
		rec.add(x)
	})
}

func (v *Validator) spec(path string) *Spec {
	var best *Spec
	for _, s := range v.specs {
		if strings.HasPrefix(path, s.PathPrefix) && (best == nil || len(s.PathPrefix) > len(best.PathPrefix)) {
			best = s
		}
	}
	return best
}

func (v *Validator) validate(r *http.Request, reqBody []byte, cw *capture) (string, error) {
	s := v.spec(r.URL.Path)
	if s == nil {
		return "", fmt.Errorf("%s %s: no official description covers this path", r.Method, r.URL.Path)
	}
	// Route and validate a clone so the handler's request is untouched.
	rq := r.Clone(context.Background())
	rq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := s.router.FindRoute(rq)
	if err != nil && r.Header.Get(InvalidRequestHeader) != "" {
		return "", nil // a path outside the descriptions, on purpose
	}
	if err != nil {
		return "", fmt.Errorf("%s %s: not an operation of %s: %w", r.Method, r.URL.Path, s.Name, err)
	}
	op := route.Operation.OperationID
	opts := &openapi3filter.Options{AuthenticationFunc: authenticate}
	in := &openapi3filter.RequestValidationInput{Request: rq, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch why := r.Header.Get(InvalidRequestHeader); {
	case why == "" && reqErr != nil:
		return op, fmt.Errorf("request %s %s (%s): %w", r.Method, r.URL.Path, op, reqErr)
	case why != "" && reqErr == nil:
		return op, fmt.Errorf("request %s %s (%s) was sent as invalid on purpose (%s) but validates", r.Method, r.URL.Path, op, why)
	}
	respOpts := opts
	if cw.status == http.StatusNoContent {
		// A 204 carries no body (RFC 9110 §15.3.5), yet the platform
		// description declares JSON content for its 204s: check only the
		// status and headers.
		o := *opts
		o.ExcludeResponseBody = true
		respOpts = &o
		if cw.body.Len() > 0 {
			return op, fmt.Errorf("response 204 to %s %s (%s) has a body", r.Method, r.URL.Path, op)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: cw.status, Header: cw.header, Options: respOpts,
	}
	out.SetBodyBytes(cw.body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return op, fmt.Errorf("response %d to %s %s (%s): %w", cw.status, r.Method, r.URL.Path, op, err)
	}
	// Error statuses the operation leaves unspecified still use the API's
	// error body.
	if cw.status >= 400 && !documentsBody(route.Operation, cw.status) {
		if err := checkErrorBody(s.errorSchema, cw.body.Bytes()); err != nil {
			return op, fmt.Errorf("response %d to %s %s (%s): error body is not a %s: %w", cw.status, r.Method, r.URL.Path, op, errorSchemaName(s), err)
		}
	}
	return op, nil
}

func errorSchemaName(s *Spec) string {
	if s.errorSchema.Title != "" {
		return s.errorSchema.Title
	}
	return "documented error body"
}

// documentsBody reports whether op specifies a body schema for status.
func documentsBody(op *openapi3.Operation, status int) bool {
	ref := op.Responses.Status(status)
	if ref == nil || ref.Value == nil {
		return false
	}
	for _, mt := range ref.Value.Content {
		if mt.Schema != nil && mt.Schema.Value != nil && (mt.Schema.Ref != "" || len(mt.Schema.Value.Properties) > 0) {
			return true
		}
	}
	return false
}

func checkErrorBody(schema *openapi3.Schema, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil // Jira sends some errors (401) with no body at all.
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return schema.VisitJSON(v)
}

// authenticate satisfies the descriptions' security requirements from the
// Authorization header. See the package comment for the JSM Basic case.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, _, _ := strings.Cut(h, " ")
	ss := in.SecurityScheme
	switch {
	case ss.Type == "http" && strings.EqualFold(ss.Scheme, "basic") && strings.EqualFold(scheme, "basic"):
		return nil
	case ss.Type == "oauth2" && (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "basic")):
		return nil
	}
	return in.NewError(errors.New("no " + ss.Type + " credentials"))
}

// prune keeps the given paths and the components they reference,
// transitively. The JSON stays the vendor's: nothing is edited, only unused
// parts are left out. Only what is kept is decoded.
func prune(raw []byte, keep []string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var paths map[string]json.RawMessage
	if err := json.Unmarshal(doc["paths"], &paths); err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	var comps map[string]map[string]json.RawMessage
	if err := json.Unmarshal(doc["components"], &comps); err != nil {
		return nil, fmt.Errorf("components: %w", err)
	}
	kept := map[string]json.RawMessage{}
	var queue []json.RawMessage
	for _, k := range keep {
		item, ok := paths[k]
		if !ok {
			return nil, fmt.Errorf("the description has no path %s", k)
		}
		kept[k] = item
		queue = append(queue, item)
	}
	used := map[string]map[string]json.RawMessage{"securitySchemes": comps["securitySchemes"]}
	for len(queue) > 0 {
		var node any
		if err := json.Unmarshal(queue[len(queue)-1], &node); err != nil {
			return nil, err
		}
		queue = queue[:len(queue)-1]
		for _, ref := range refsIn(node) {
			kind, name, ok := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
			if !ok || used[kind][name] != nil {
				continue
			}
			c, ok := comps[kind][name]
			if !ok {
				continue
			}
			if used[kind] == nil {
				used[kind] = map[string]json.RawMessage{}
			}
			used[kind][name] = c
			queue = append(queue, c)
		}
	}
	pathsOut, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	compsOut, err := json.Marshal(used)
	if err != nil {
		return nil, err
	}
	doc["paths"], doc["components"] = pathsOut, compsOut
	return json.Marshal(doc)
}

// refsIn lists the local component references in a decoded JSON value.
func refsIn(n any) []string {
	var out []string
	var walk func(n any)
	walk = func(n any) {
		switch x := n.(type) {
		case map[string]any:
			for k, v := range x {
				if ref, ok := v.(string); k == "$ref" && ok && strings.HasPrefix(ref, "#/components/") {
					out = append(out, ref)
					continue
				}
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(n)
	return out
}

// JiraSpecs describes the two official descriptions in dir (the emulator's
// testdata), pruned to the operations the emulator serves.
func JiraSpecs(dir string) []SpecFile {
	return []SpecFile{
		{
			Path: dir + "/jira-cloud-platform.swagger-v3.v3.json", PathPrefix: "/rest/api/", ErrorSchema: "ErrorCollection",
			KeepPaths: []string{
				"/rest/api/3/myself", "/rest/api/3/serverInfo", "/rest/api/3/project/{projectIdOrKey}", "/rest/api/3/field",
				"/rest/api/3/priority", "/rest/api/3/resolution", "/rest/api/3/issue", "/rest/api/3/issue/{issueIdOrKey}",
				"/rest/api/3/issue/{issueIdOrKey}/transitions", "/rest/api/3/issue/{issueIdOrKey}/comment",
				"/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", "/rest/api/3/user/properties/{propertyKey}",
				"/rest/api/3/search/jql", "/rest/api/3/search",
			},
		},
		{
			Path: dir + "/jsm-servicedesk-cloud.openapi.json", PathPrefix: "/rest/servicedeskapi/", ErrorSchema: "ErrorResponse",
			KeepPaths: []string{
				"/rest/servicedeskapi/request", "/rest/servicedeskapi/request/{issueIdOrKey}",
				"/rest/servicedeskapi/request/{issueIdOrKey}/comment", "/rest/servicedeskapi/request/{issueIdOrKey}/transition",
				"/rest/servicedeskapi/servicedesk", "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype",
				"/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}/field",
				"/rest/servicedeskapi/assets/workspace",
			},
		},
	}
}
