package emulator

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (e *Emulator) routes() {
	api := http.NewServeMux()
	api.HandleFunc("POST /oauth_token.do", e.handleToken)
	for _, prefix := range []string{"/api/now/table", "/api/now/v1/table", "/api/now/v2/table"} {
		api.HandleFunc("GET "+prefix+"/{table}", e.handleList)
		api.HandleFunc("POST "+prefix+"/{table}", e.handleInsert)
		api.HandleFunc("GET "+prefix+"/{table}/{sys_id}", e.handleGet)
		api.HandleFunc("PATCH "+prefix+"/{table}/{sys_id}", e.handleUpdate)
		api.HandleFunc("PUT "+prefix+"/{table}/{sys_id}", e.handleUpdate)
		api.HandleFunc("DELETE "+prefix+"/{table}/{sys_id}", e.handleDelete)
	}
	api.HandleFunc("POST /api/now/identifyreconcile", e.handleIRE(false))
	api.HandleFunc("POST /api/now/identifyreconcile/query", e.handleIRE(true))
	api.HandleFunc("GET /api/now/cmdb/instance/{class}", e.handleInstanceList)
	api.HandleFunc("GET /api/now/cmdb/instance/{class}/{sys_id}", e.handleInstanceGet)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadRequest, "Requested URI does not represent any resource", r.URL.Path)
	})
	e.api = api
	e.controlRoutes()
}

// baseURL is the instance URL as the client addressed it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (e *Emulator) tableOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	t := r.PathValue("table")
	if e.cat[t] == nil {
		writeError(w, http.StatusBadRequest, "Invalid table "+t, "")
		return "", false
	}
	if !e.canRead(userFrom(r.Context()), t) {
		writeError(w, http.StatusForbidden, "Operation Failed", "ACL Exception Read Failed due to security constraints")
		return "", false
	}
	return t, true
}

// canRead: task tables and task_ci need itil (or admin); the rest is open to
// any authenticated user.
func (e *Emulator) canRead(u *User, table string) bool {
	if e.cat.isTaskTable(table) || table == "task_ci" {
		return u.hasRole("itil", "itil_admin")
	}
	return true
}

func renderOptions(r *http.Request) (renderOpts, error) {
	q := r.URL.Query()
	o := renderOpts{table: r.PathValue("table"), display: "false", base: baseURL(r)}
	switch d := strings.ToLower(q.Get("sysparm_display_value")); d {
	case "", "false":
	case "true", "all":
		o.display = d
	default:
		return o, fmt.Errorf("sysparm_display_value must be true, false or all, not %q", d)
	}
	o.noLink = strings.EqualFold(q.Get("sysparm_exclude_reference_link"), "true")
	if f := strings.TrimSpace(q.Get("sysparm_fields")); f != "" {
		o.fields = []string{}
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.fields = append(o.fields, name)
			}
		}
	}
	return o, nil
}

func intParam(q url.Values, name string, def int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer, not %q", name, s)
	}
	return n, nil
}

// handleList is GET /api/now/table/{table}.
func (e *Emulator) handleList(w http.ResponseWriter, r *http.Request) {
	table, ok := e.tableOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	ro, err := renderOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid parameter", err.Error())
		return
	}
	limit, err := intParam(q, "sysparm_limit", 10000)
	if err == nil && limit == 0 {
		limit = 10000
	}
	offset, err2 := intParam(q, "sysparm_offset", 0)
	if err == nil {
		err = err2
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid parameter", err.Error())
		return
	}
	parsed := ParseQuery(q.Get("sysparm_query"))
	// name=value parameters are AND'ed to the encoded query.
	for k, vs := range q {
		if strings.HasPrefix(k, "sysparm_") || len(vs) == 0 {
			continue
		}
		cond := Condition{Field: k, Op: "=", Value: vs[0], Raw: k + "=" + vs[0]}
		if len(parsed.Blocks) == 0 {
			parsed.Blocks = [][][]Condition{{}}
		}
		for i := range parsed.Blocks {
			parsed.Blocks[i] = append(parsed.Blocks[i], []Condition{cond})
		}
	}
	cq := compile(parsed, table, e.validField, e.opts.InvalidQueryReturnsNoRows)
	if len(cq.ignored) > 0 {
		e.log.Debug("query conditions on unknown fields ignored", "table", table, "ignored", cq.ignored)
	}

	e.mu.Lock()
	rows := e.listLocked(table, cq)
	total := len(rows)
	end := min(offset+limit, total)
	page := []map[string]any{}
	if offset < total {
		for _, rec := range rows[offset:end] {
			page = append(page, e.renderLocked(rec, ro))
		}
	}
	e.mu.Unlock()

	if !strings.EqualFold(q.Get("sysparm_no_count"), "true") {
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
	}
	if !strings.EqualFold(q.Get("sysparm_suppress_pagination_header"), "true") {
		w.Header().Set("Link", linkHeader(r, limit, offset, total))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": page})
}

// linkHeader builds the first/prev/next/last pagination links.
func linkHeader(r *http.Request, limit, offset, total int) string {
	at := func(off int, rel string) string {
		q := r.URL.Query()
		q.Set("sysparm_limit", strconv.Itoa(limit))
		q.Set("sysparm_offset", strconv.Itoa(off))
		return fmt.Sprintf(`<%s%s?%s>;rel="%s"`, baseURL(r), r.URL.Path, q.Encode(), rel)
	}
	links := []string{at(0, "first")}
	if offset > 0 {
		links = append(links, at(max(offset-limit, 0), "prev"))
	}
	if offset+limit < total {
		links = append(links, at(offset+limit, "next"))
	}
	last := 0
	if total > 0 {
		last = (total - 1) / limit * limit
	}
	links = append(links, at(last, "last"))
	return strings.Join(links, ",")
}

// handleGet is GET /api/now/table/{table}/{sys_id}.
func (e *Emulator) handleGet(w http.ResponseWriter, r *http.Request) {
	table, ok := e.tableOf(w, r)
	if !ok {
		return
	}
	ro, err := renderOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid parameter", err.Error())
		return
	}
	e.mu.Lock()
	rec := e.getLocked(table, r.PathValue("sys_id"))
	var out map[string]any
	if rec != nil {
		out = e.renderLocked(rec, ro)
	}
	e.mu.Unlock()
	if rec == nil {
		writeAPIError(w, errNotFound())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func writeAPIError(w http.ResponseWriter, err *apiError) {
	writeError(w, err.status, err.message, err.detail)
}

// checkWriteHeaders enforces the documented Content-Type and Accept rules.
func checkWriteHeaders(w http.ResponseWriter, r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Unsupported Media Type",
			"Content-Type must be application/json, not "+strconv.Quote(r.Header.Get("Content-Type")))
		return false
	}
	return checkAccept(w, r)
}

func checkAccept(w http.ResponseWriter, r *http.Request) bool {
	acc := r.Header.Get("Accept")
	if acc == "" || strings.Contains(acc, "application/json") || strings.Contains(acc, "*/*") {
		return true
	}
	writeError(w, http.StatusNotAcceptable, "Not Acceptable", "Accept must allow application/json")
	return false
}

// handleInsert is POST /api/now/table/{table}.
func (e *Emulator) handleInsert(w http.ResponseWriter, r *http.Request) {
	table, ok := e.tableOf(w, r)
	if !ok || !checkWriteHeaders(w, r) {
		return
	}
	ro, err := renderOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid parameter", err.Error())
		return
	}
	body := readBody(r)
	u := userFrom(r.Context())
	if table == "task_ci" && !u.hasRole("itil", "itil_admin") {
		writeAPIError(w, aclError("Insert"))
		return
	}
	e.mu.Lock()
	in, aerr := e.decodeInput(table, body)
	var rec *record
	if aerr == nil {
		rec, aerr = e.insertLocked(table, in, u)
	}
	var out map[string]any
	if aerr == nil {
		out = e.renderLocked(rec, ro)
	}
	e.mu.Unlock()
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	w.Header().Set("Location", baseURL(r)+"/api/now/table/"+table+"/"+rec.v["sys_id"])
	if strings.EqualFold(r.Header.Get("X-no-response-body"), "true") {
		w.WriteHeader(http.StatusCreated)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"result": out})
}

// handleUpdate is PATCH and PUT /api/now/table/{table}/{sys_id}.
func (e *Emulator) handleUpdate(w http.ResponseWriter, r *http.Request) {
	table, ok := e.tableOf(w, r)
	if !ok || !checkWriteHeaders(w, r) {
		return
	}
	ro, err := renderOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid parameter", err.Error())
		return
	}
	body := readBody(r)
	u := userFrom(r.Context())
	e.mu.Lock()
	rec := e.getLocked(table, r.PathValue("sys_id"))
	var aerr *apiError
	var out map[string]any
	if rec == nil {
		aerr = errNotFound()
	} else {
		var in map[string]string
		in, aerr = e.decodeInput(rec.class, body)
		if aerr == nil {
			aerr = e.updateLocked(rec, in, u)
		}
		if aerr == nil {
			out = e.renderLocked(rec, ro)
		}
	}
	e.mu.Unlock()
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if strings.EqualFold(r.Header.Get("X-no-response-body"), "true") {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

// handleDelete is DELETE /api/now/table/{table}/{sys_id}.
func (e *Emulator) handleDelete(w http.ResponseWriter, r *http.Request) {
	table, ok := e.tableOf(w, r)
	if !ok {
		return
	}
	u := userFrom(r.Context())
	e.mu.Lock()
	rec := e.getLocked(table, r.PathValue("sys_id"))
	if rec != nil && (e.cat.isTaskTable(rec.class) || rec.class == "task_ci") && !u.hasRole("itil", "itil_admin") {
		e.mu.Unlock()
		writeAPIError(w, aclError("Delete"))
		return
	}
	if rec != nil {
		e.deleteLocked(rec)
	}
	e.mu.Unlock()
	if rec == nil {
		writeAPIError(w, errNotFound())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
