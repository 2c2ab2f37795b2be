package emulator

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// predicate evaluates a compiled JQL where clause against an issue.
type predicate func(*issue) bool

var (
	cfClause       = regexp.MustCompile(`(?i)^cf\[(\d+)\]$`)
	propertyClause = regexp.MustCompile(`(?i)^issue\.property\[([^\]]+)\]((?:\.[^.]+)*)$`)
)

// compileJQL validates q against the site and compiles it (lock held).
func (e *Emulator) compileJQL(x jqlExpr) (predicate, error) {
	switch n := x.(type) {
	case jqlAnd:
		l, err := e.compileJQL(n.L)
		if err != nil {
			return nil, err
		}
		r, err := e.compileJQL(n.R)
		if err != nil {
			return nil, err
		}
		return func(is *issue) bool { return l(is) && r(is) }, nil
	case jqlOr:
		l, err := e.compileJQL(n.L)
		if err != nil {
			return nil, err
		}
		r, err := e.compileJQL(n.R)
		if err != nil {
			return nil, err
		}
		return func(is *issue) bool { return l(is) || r(is) }, nil
	case jqlNot:
		inner, err := e.compileJQL(n.X)
		if err != nil {
			return nil, err
		}
		return func(is *issue) bool { return !inner(is) }, nil
	case *jqlClause:
		return e.compileClause(n)
	}
	return nil, jqlErrorf("Error in the JQL Query: unsupported expression")
}

// fieldKind classifies a JQL field name.
type fieldKind int

const (
	kEnum fieldKind = iota // project, key, issuetype, status, statusCategory, resolution, priority, labels, select fields, properties
	kText                  // summary, description, text, text custom fields
	kDate                  // created, updated, resolutiondate
	kCMDB                  // Assets object fields: IS [NOT] EMPTY only
)

func opSupported(k fieldKind, op string) bool {
	switch k {
	case kEnum:
		return op == "=" || op == "!=" || op == "in" || op == "not in" || op == "is" || op == "is not"
	case kText:
		return op == "~" || op == "!~" || op == "is" || op == "is not"
	case kDate:
		return op != "~" && op != "!~" && op != "in" && op != "not in"
	case kCMDB:
		return op == "is" || op == "is not"
	}
	return false
}

func (e *Emulator) compileClause(c *jqlClause) (predicate, error) {
	name := strings.ToLower(c.Field)
	var (
		kind   fieldKind
		values func(*issue) []string // enum/text: the issue's values
		norm   func(v string) (string, error)
		when   func(*issue) time.Time
		caseIn bool
	)
	notExist := func(v string) error {
		return jqlErrorf("The value '%s' does not exist for the field '%s'.", v, c.Field)
	}
	single := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	switch name {
	case "project":
		values = func(is *issue) []string { return []string{is.ProjectID} }
		norm = func(v string) (string, error) {
			for _, p := range e.projects {
				if p.ID == v || strings.EqualFold(p.Key, v) || strings.EqualFold(p.Name, v) {
					return p.ID, nil
				}
			}
			return "", notExist(v)
		}
	case "key", "issuekey", "id":
		values = func(is *issue) []string { return []string{is.Key} }
		norm = func(v string) (string, error) {
			if is := e.lookupIssue(v); is != nil {
				return is.Key, nil
			}
			return "", jqlErrorf("An issue with key '%s' does not exist for field '%s'.", v, c.Field)
		}
	case "issuetype", "type":
		values = func(is *issue) []string { return []string{is.IssueTypeID} }
		norm = func(v string) (string, error) {
			for _, it := range e.issueTypes {
				if it.ID == v || strings.EqualFold(it.Name, v) {
					return it.ID, nil
				}
			}
			return "", notExist(v)
		}
	case "status":
		values = func(is *issue) []string { return []string{is.StatusID} }
		norm = func(v string) (string, error) {
			for _, st := range e.statuses {
				if st.ID == v || strings.EqualFold(st.Name, v) {
					return st.ID, nil
				}
			}
			return "", notExist(v)
		}
	case "statuscategory", "category":
		values = func(is *issue) []string { return []string{e.statuses[is.StatusID].Category.Key} }
		norm = func(v string) (string, error) {
			for _, sc := range []statusCategory{catNew, catIndeterminate, catDone} {
				if strconv.Itoa(sc.ID) == v || strings.EqualFold(sc.Key, v) || strings.EqualFold(sc.Name, v) {
					return sc.Key, nil
				}
			}
			return "", notExist(v)
		}
	case "resolution":
		values = func(is *issue) []string { return single(is.ResolutionID) }
		norm = func(v string) (string, error) {
			if strings.EqualFold(v, "unresolved") {
				return "", nil
			}
			for _, r := range e.resolutions {
				if r.ID == v || strings.EqualFold(r.Name, v) {
					return r.ID, nil
				}
			}
			return "", notExist(v)
		}
	case "priority":
		values = func(is *issue) []string { return single(is.PriorityID) }
		norm = func(v string) (string, error) {
			for _, p := range e.priorities {
				if p.ID == v || strings.EqualFold(p.Name, v) {
					return p.ID, nil
				}
			}
			return "", notExist(v)
		}
	case "labels":
		caseIn = true
		values = func(is *issue) []string { return is.Labels }
	case "summary":
		kind = kText
		values = func(is *issue) []string { return single(is.Summary) }
	case "description":
		kind = kText
		values = func(is *issue) []string { return single(adfText(is.Description)) }
	case "comment":
		kind = kText
		values = func(is *issue) []string {
			var out []string
			for _, cm := range is.Comments {
				out = append(out, adfText(cm.Body))
			}
			return out
		}
	case "text":
		kind = kText
		values = func(is *issue) []string {
			out := []string{is.Summary, adfText(is.Description)}
			for _, cm := range is.Comments {
				out = append(out, adfText(cm.Body))
			}
			for _, f := range e.fields {
				if f.Custom && f.Schema.Type == "string" {
					var s string
					_ = json.Unmarshal(is.Custom[f.ID], &s)
					out = append(out, s)
				}
			}
			return out
		}
	case "created", "createddate":
		kind, when = kDate, func(is *issue) time.Time { return is.Created }
	case "updated", "updateddate":
		kind, when = kDate, func(is *issue) time.Time { return is.Updated }
	case "resolutiondate", "resolved":
		kind, when = kDate, func(is *issue) time.Time { return is.ResolutionDate }
	default:
		if m := propertyClause.FindStringSubmatch(c.Field); m != nil {
			key := m[1]
			path := strings.Split(strings.TrimPrefix(m[2], "."), ".")
			if m[2] == "" {
				path = nil
			}
			values = func(is *issue) []string { return propertyValues(is.Properties[key], path) }
			if c.Op == "~" || c.Op == "!~" {
				kind = kText
			}
			break
		}
		f := e.customFieldByClause(c.Field)
		if f == nil {
			return nil, jqlErrorf("Field '%s' does not exist or you do not have permission to view it.", c.Field)
		}
		switch {
		case f.Schema.Type == "string":
			kind = kText
			values = func(is *issue) []string {
				var s string
				_ = json.Unmarshal(is.Custom[f.ID], &s)
				return single(s)
			}
		case f.Schema.Type == "option":
			values = func(is *issue) []string {
				r, _ := parseRef(is.Custom[f.ID])
				return single(r.ID)
			}
			norm = func(v string) (string, error) {
				for _, o := range f.Options {
					if o.ID == v || strings.EqualFold(o.Value, v) {
						return o.ID, nil
					}
				}
				return "", notExist(v)
			}
		default:
			kind = kCMDB
			values = func(is *issue) []string {
				var refs []cmdbRef
				_ = json.Unmarshal(is.Custom[f.ID], &refs)
				var out []string
				for _, r := range refs {
					out = append(out, r.ID)
				}
				return out
			}
		}
	}
	if !opSupported(kind, c.Op) {
		return nil, jqlErrorf("The operator '%s' is not supported by the '%s' field.", strings.ToUpper(c.Op), c.Field)
	}
	if c.Op == "is" || c.Op == "is not" {
		want := c.Op == "is"
		if kind == kDate {
			return func(is *issue) bool { return when(is).IsZero() == want }, nil
		}
		return func(is *issue) bool { return (len(values(is)) == 0) == want }, nil
	}
	if kind == kDate {
		t, err := parseJQLDate(c.Values[0], e.now())
		if err != nil {
			return nil, jqlErrorf("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", c.Values[0], c.Field)
		}
		op := c.Op
		return func(is *issue) bool {
			w := when(is)
			if w.IsZero() {
				return false
			}
			switch op {
			case "=":
				return w.Equal(t)
			case "!=":
				return !w.Equal(t)
			case ">":
				return w.After(t)
			case ">=":
				return !w.Before(t)
			case "<":
				return w.Before(t)
			default:
				return !w.After(t)
			}
		}, nil
	}
	if kind == kText {
		q := c.Values[0]
		neg := c.Op == "!~"
		return func(is *issue) bool {
			for _, v := range values(is) {
				if containsWords(v, q) {
					return !neg
				}
			}
			return neg
		}, nil
	}
	// Enumerated values.
	want := make([]string, 0, len(c.Values))
	unresolved := false
	for _, v := range c.Values {
		if norm != nil {
			n, err := norm(v)
			if err != nil {
				return nil, err
			}
			if n == "" {
				unresolved = true
				continue
			}
			v = n
		}
		want = append(want, v)
	}
	match := func(is *issue) (bool, bool) { // (any value matches, has values)
		vals := values(is)
		if unresolved && len(vals) == 0 {
			return true, true
		}
		for _, have := range vals {
			for _, w := range want {
				if have == w || (caseIn && strings.EqualFold(have, w)) {
					return true, true
				}
			}
		}
		return false, len(vals) > 0 || unresolved
	}
	if c.Op == "=" || c.Op == "in" {
		return func(is *issue) bool { m, _ := match(is); return m }, nil
	}
	// != and NOT IN never match an EMPTY field, as in Jira.
	return func(is *issue) bool { m, has := match(is); return has && !m }, nil
}

// customFieldByClause finds a custom field by cf[N], customfield_N or name.
func (e *Emulator) customFieldByClause(name string) *field {
	if m := cfClause.FindStringSubmatch(name); m != nil {
		name = "customfield_" + m[1]
	}
	for _, f := range e.fields {
		if f.Custom && (f.ID == name || strings.EqualFold(f.Name, name)) {
			return f
		}
	}
	return nil
}

// propertyValues returns the scalar values at path in a property value.
func propertyValues(raw json.RawMessage, path []string) []string {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	for _, seg := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[seg]
	}
	var out []string
	var add func(v any)
	add = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			out = append(out, strconv.FormatBool(x))
		case []any:
			for _, el := range x {
				add(el)
			}
		}
	}
	add(v)
	return out
}

var relDate = regexp.MustCompile(`^([-+]?)(\d+)([wdhm])$`)

func parseJQLDate(s string, now time.Time) (time.Time, error) {
	if m := relDate.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		n, _ := strconv.Atoi(m[2])
		unit := map[string]time.Duration{"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[3]]
		d := time.Duration(n) * unit
		if m[1] == "-" {
			d = -d
		}
		return now.Add(d), nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006/01/02 15:04", "2006-01-02", "2006/01/02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, jqlErrorf("bad date")
}

// orderFunc compiles ORDER BY (lock held).
func (e *Emulator) orderFunc(order []jqlOrder) (func(a, b *issue) int, error) {
	type keyFn func(a, b *issue) int
	var keys []keyFn
	for _, o := range order {
		var k keyFn
		switch strings.ToLower(o.Field) {
		case "key", "issuekey", "id":
			k = func(a, b *issue) int { return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.ID, b.ID)) }
		case "created":
			k = func(a, b *issue) int { return a.Created.Compare(b.Created) }
		case "updated":
			k = func(a, b *issue) int { return a.Updated.Compare(b.Updated) }
		case "resolutiondate", "resolved":
			k = func(a, b *issue) int { return a.ResolutionDate.Compare(b.ResolutionDate) }
		case "priority":
			// Jira sorts priority by its sequence, Highest last in ASC order.
			k = func(a, b *issue) int { return -cmp.Compare(a.PriorityID, b.PriorityID) }
		case "status":
			k = func(a, b *issue) int { return cmp.Compare(e.statuses[a.StatusID].Name, e.statuses[b.StatusID].Name) }
		case "summary":
			k = func(a, b *issue) int { return cmp.Compare(strings.ToLower(a.Summary), strings.ToLower(b.Summary)) }
		case "resolution":
			k = func(a, b *issue) int { return cmp.Compare(a.ResolutionID, b.ResolutionID) }
		default:
			return nil, jqlErrorf("Field '%s' does not exist or you do not have permission to view it.", o.Field)
		}
		if o.Desc {
			inner := k
			k = func(a, b *issue) int { return -inner(a, b) }
		}
		keys = append(keys, k)
	}
	return func(a, b *issue) int {
		for _, k := range keys {
			if r := k(a, b); r != 0 {
				return r
			}
		}
		// Default: newest first.
		return -cmp.Compare(a.ID, b.ID)
	}, nil
}

type searchRequest struct {
	JQL             string   `json:"jql"`
	MaxResults      *int     `json:"maxResults"`
	NextPageToken   string   `json:"nextPageToken"`
	Fields          []string `json:"fields"`
	Properties      []string `json:"properties"`
	Expand          string   `json:"expand"`
	FieldsByKeys    bool     `json:"fieldsByKeys"`
	ReconcileIssues []int    `json:"reconcileIssues"`
}

func pageToken(jql string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(jqlHash(jql) + ":" + strconv.Itoa(offset)))
}

func jqlHash(jql string) string {
	h := sha256.Sum256([]byte(jql))
	return hex.EncodeToString(h[:8])
}

func parsePageToken(tok, jql string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	h, off, ok := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || h != jqlHash(jql) || n < 0 {
		return 0, false
	}
	return n, true
}

// Search runs a JQL query as POST /rest/api/3/search/jql would, honouring
// the search lag, and returns the matching issue keys in order.
func (e *Emulator) Search(jql string) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	hits, err := e.search(jql, nil)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(hits))
	for i, is := range hits {
		keys[i] = is.Key
	}
	return keys, nil
}

// search evaluates jql over the index (lock held). Issues in reconcile are
// read from the database, as Jira's reconcileIssues does.
func (e *Emulator) search(jql string, reconcile []int) ([]*issue, error) {
	q, err := parseJQL(jql)
	if err != nil {
		return nil, err
	}
	if q.Where == nil {
		return nil, jqlErrorf("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
	}
	pred, err := e.compileJQL(q.Where)
	if err != nil {
		return nil, err
	}
	order, err := e.orderFunc(q.Order)
	if err != nil {
		return nil, err
	}
	now := e.now()
	var hits []*issue
	for id, live := range e.issuesByID {
		view := e.indexed(id, now)
		if slices.Contains(reconcile, id) {
			view = live
		}
		if view != nil && pred(view) {
			hits = append(hits, view)
		}
	}
	slices.SortFunc(hits, order)
	return hits, nil
}

func (e *Emulator) searchJQL(c *call) {
	var req searchRequest
	if !c.decodeBody(&req) {
		return
	}
	limit := 50
	if req.MaxResults != nil {
		limit = min(max(*req.MaxResults, 0), 5000)
	}
	if len(req.ReconcileIssues) > 50 {
		writePlatformError(c.w, http.StatusBadRequest, []string{"The number of issue IDs to reconcile cannot exceed 50."}, nil)
		return
	}
	offset := 0
	if req.NextPageToken != "" {
		var ok bool
		if offset, ok = parsePageToken(req.NextPageToken, req.JQL); !ok {
			writePlatformError(c.w, http.StatusBadRequest, []string{"The provided next page token is invalid or expired."}, nil)
			return
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	hits, err := e.search(req.JQL, req.ReconcileIssues)
	if err != nil {
		writePlatformError(c.w, http.StatusBadRequest, []string{err.Error()}, nil)
		return
	}
	ff := parseFieldFilter(req.Fields, "id")
	out := []map[string]any{}
	end := min(offset+limit, len(hits))
	for i := min(offset, len(hits)); i < end; i++ {
		out = append(out, e.renderIssue(c.base, hits[i], ff, req.Properties))
	}
	resp := map[string]any{"issues": out, "isLast": end >= len(hits)}
	if end < len(hits) {
		resp["nextPageToken"] = pageToken(req.JQL, end)
	}
	writeJSON(c.w, http.StatusOK, resp)
}

// searchRemoved answers the removed /rest/api/3/search (CHANGE-2046) with
// 410 Gone, so a plugin still using it fails loudly.
func (e *Emulator) searchRemoved(c *call) {
	writePlatformError(c.w, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
}
