package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// state is everything Configure derives from a config and the site.
type state struct {
	cfg    config
	client *jiraClient
	log    hclog.Logger
	base   string
	now    func() time.Time

	accountID      string
	projectID      string
	serviceProject bool
	mode           string
	serviceDeskID  string
	requestTypeID  string
	rtFields       map[string]bool // field ids on the request type
	issueTypeID    string
	fields         map[string]fieldDef // by id
	byName         map[string]string   // lower-case name → id
	corrField      fieldDef            // correlation custom field (type "field")
	priorities     map[string]string   // lower-case name → name
	assets         *assetsState
	assetsErr      error // why bind_ci is unavailable
	searchLag      time.Duration

	projectIssueTypes []issueTypeRef

	keys      *keyLocks
	recent    *recent
	ledgerOff atomic.Bool
}

type issueTypeRef struct{ id, name string }

// fieldDef is one entry of GET /rest/api/3/field.
type fieldDef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Custom bool   `json:"custom"`
	Schema struct {
		Type     string `json:"type"`
		Items    string `json:"items"`
		System   string `json:"system"`
		Custom   string `json:"custom"`
		CustomID int    `json:"customId"`
	} `json:"schema"`
}

const cmdbFieldType = "com.atlassian.jira.plugins.cmdb:cmdb-object-cftype"

// assetsState is the resolved Assets configuration.
type assetsState struct {
	workspaceID    string
	objectTypeID   string
	objectTypeName string
	ridAttr        string // attribute ids
	nameAttr       string
	typeAttr       string
	extraAttrs     map[string]string // "Subscription", "Resource Group" → id, when the type has them
	fieldID        string
}

var cfClauseRe = regexp.MustCompile(`^(?i)cf\[(\d+)\]$`)

// discover resolves the config against the site (Configure).
func (st *state) discover(ctx context.Context) sdk.Diagnostics {
	c := &st.cfg
	var d sdk.Diagnostics
	credPath := []string{"api_token"}
	if c.BearerToken != "" {
		credPath = []string{"bearer_token"}
	}
	var me struct {
		AccountID string `json:"accountId"`
	}
	if err := st.client.do(ctx, "check credentials", http.MethodGet, "/rest/api/3/myself", nil, nil, &me); err != nil {
		switch status(err) {
		case http.StatusUnauthorized:
			return sdk.Diagnostics{sdk.ErrorDiag("Jira rejected the credentials", fmt.Sprintf("GET %s/rest/api/3/myself answered 401: check username (the account email on Cloud) and the token.", st.base), credPath...)}
		case 0:
			return sdk.Diagnostics{sdk.ErrorDiag("cannot reach Jira", err.Error(), "url")}
		case http.StatusNotFound:
			return sdk.Diagnostics{sdk.ErrorDiag("no Jira REST API v3 at url", err.Error(), "url")}
		default:
			return sdk.Diagnostics{sdk.ErrorDiag("Jira credential check failed", err.Error(), credPath...)}
		}
	}
	st.accountID = me.AccountID

	var proj struct {
		ID             string `json:"id"`
		Key            string `json:"key"`
		ProjectTypeKey string `json:"projectTypeKey"`
		IssueTypes     []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"issueTypes"`
	}
	if err := st.client.do(ctx, "read project", http.MethodGet, "/rest/api/3/project/"+url.PathEscape(c.Project), nil, nil, &proj); err != nil {
		if status(err) == http.StatusNotFound {
			return sdk.Diagnostics{sdk.ErrorDiag("project not found", fmt.Sprintf("Jira has no project %q visible to this account.", c.Project), "project")}
		}
		return sdk.Diagnostics{sdk.ErrorDiag("cannot read the project", err.Error(), "project")}
	}
	st.projectID = proj.ID
	for _, it := range proj.IssueTypes {
		st.projectIssueTypes = append(st.projectIssueTypes, issueTypeRef{it.ID, it.Name})
	}
	st.serviceProject = proj.ProjectTypeKey == "service_desk"
	st.mode = c.Mode
	if st.mode == "" {
		st.mode = modeIssue
		if st.serviceProject {
			st.mode = modeServiceDesk
		}
	}
	if st.mode == modeServiceDesk && !st.serviceProject {
		return sdk.Diagnostics{sdk.ErrorDiag(`mode "servicedesk" needs a service project`, fmt.Sprintf("Project %s is a %q project; use mode = \"issue\".", c.Project, proj.ProjectTypeKey), "mode")}
	}

	if err := st.loadFields(ctx); err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("cannot read the field list", err.Error(), "url")}
	}
	if st.mode == modeServiceDesk {
		d = append(d, st.discoverRequestType(ctx)...)
	} else {
		names := []string{c.IssueType}
		if c.IssueType == "" {
			names = []string{"Incident", "[System] Incident"}
		}
		var have []string
		for _, it := range proj.IssueTypes {
			have = append(have, it.Name)
			for _, n := range names {
				if st.issueTypeID == "" && strings.EqualFold(it.Name, n) {
					st.issueTypeID = it.ID
				}
			}
		}
		if st.issueTypeID == "" {
			d = append(d, sdk.ErrorDiag("issue type not found", fmt.Sprintf("Project %s has no issue type %q; it has %s.", c.Project, strings.Join(names, `" or "`), quoteList(have)), "issue_type"))
		}
	}
	if c.Correlation.Type == corrField {
		f, ok := st.field(c.Correlation.Field)
		switch {
		case !ok:
			d = append(d, sdk.ErrorDiag("correlation field not found", fmt.Sprintf("Jira has no field %q.", c.Correlation.Field), "correlation", "field"))
		case !f.Custom || f.Schema.Type != "string":
			d = append(d, sdk.ErrorDiag("correlation field must be a single-line text custom field", fmt.Sprintf("%s (%s) has type %q.", f.Name, f.ID, f.Schema.Type), "correlation", "field"))
		default:
			st.corrField = f
		}
	}
	for k := range c.Fields {
		if _, ok := st.field(k); !ok {
			d = append(d, sdk.ErrorDiag("unknown field in fields", fmt.Sprintf("Jira has no field %q.", k), "fields"))
		}
	}
	d = append(d, st.checkPriorities(ctx)...)
	if d.HasErrors() {
		return d
	}
	d = append(d, st.discoverAssets(ctx)...)
	return d
}

func quoteList(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

func (st *state) loadFields(ctx context.Context) error {
	var fs []fieldDef
	if err := st.client.do(ctx, "list fields", http.MethodGet, "/rest/api/3/field", nil, nil, &fs); err != nil {
		return err
	}
	st.fields = map[string]fieldDef{}
	st.byName = map[string]string{}
	for _, f := range fs {
		st.fields[f.ID] = f
		if _, dup := st.byName[strings.ToLower(f.Name)]; !dup {
			st.byName[strings.ToLower(f.Name)] = f.ID
		}
	}
	return nil
}

// field finds a field by id, cf[N] or name (case-insensitive).
func (st *state) field(nameOrID string) (fieldDef, bool) {
	s := strings.TrimSpace(nameOrID)
	if m := cfClauseRe.FindStringSubmatch(s); m != nil {
		s = "customfield_" + m[1]
	}
	if f, ok := st.fields[s]; ok {
		return f, true
	}
	if id, ok := st.byName[strings.ToLower(s)]; ok {
		return st.fields[id], true
	}
	return fieldDef{}, false
}

// paged reads every page of a JSM list.
func (st *state) pagedJSM(ctx context.Context, what, path string, each func(raw []byte) error) error {
	start := 0
	for {
		var page struct {
			IsLastPage bool              `json:"isLastPage"`
			Size       int               `json:"size"`
			Values     []json.RawMessage `json:"values"`
		}
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {"50"}}
		if err := st.client.do(ctx, what, http.MethodGet, path, q, nil, &page); err != nil {
			return err
		}
		for _, v := range page.Values {
			if err := each(v); err != nil {
				return err
			}
		}
		if page.IsLastPage || len(page.Values) == 0 {
			return nil
		}
		start += len(page.Values)
	}
}

func (st *state) discoverRequestType(ctx context.Context) sdk.Diagnostics {
	c := &st.cfg
	err := st.pagedJSM(ctx, "list service desks", "/rest/servicedeskapi/servicedesk", func(raw []byte) error {
		var sd struct {
			ID         string `json:"id"`
			ProjectKey string `json:"projectKey"`
		}
		if err := json.Unmarshal(raw, &sd); err != nil {
			return err
		}
		if strings.EqualFold(sd.ProjectKey, c.Project) {
			st.serviceDeskID = sd.ID
		}
		return nil
	})
	if err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("cannot list service desks", err.Error(), "project")}
	}
	if st.serviceDeskID == "" {
		return sdk.Diagnostics{sdk.ErrorDiag("no service desk for the project", fmt.Sprintf("Project %s has no JSM service desk visible to this account; use mode = \"issue\".", c.Project), "project")}
	}
	incidentType := ""
	for _, n := range []string{"Incident", "[System] Incident"} {
		if id, ok := st.issueTypeByName(n); ok && incidentType == "" {
			incidentType = id
		}
	}
	var names []string
	var byIssueType string
	err = st.pagedJSM(ctx, "list request types", "/rest/servicedeskapi/servicedesk/"+url.PathEscape(st.serviceDeskID)+"/requesttype", func(raw []byte) error {
		var rt struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			IssueTypeID string `json:"issueTypeId"`
		}
		if err := json.Unmarshal(raw, &rt); err != nil {
			return err
		}
		names = append(names, rt.Name)
		want := c.RequestType
		if want == "" {
			want = "Report an incident"
		}
		if st.requestTypeID == "" && strings.EqualFold(rt.Name, want) {
			st.requestTypeID, st.issueTypeID = rt.ID, rt.IssueTypeID
		}
		if byIssueType == "" && incidentType != "" && rt.IssueTypeID == incidentType {
			byIssueType = rt.ID
		}
		return nil
	})
	if err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("cannot list request types", err.Error(), "request_type")}
	}
	if st.requestTypeID == "" && c.RequestType == "" && byIssueType != "" {
		st.requestTypeID, st.issueTypeID = byIssueType, incidentType
	}
	if st.requestTypeID == "" {
		return sdk.Diagnostics{sdk.ErrorDiag("request type not found", fmt.Sprintf("Service desk %s has no request type %q; it has %s.", st.serviceDeskID, c.RequestType, quoteList(names)), "request_type")}
	}
	var meta struct {
		RequestTypeFields []struct {
			FieldID string `json:"fieldId"`
		} `json:"requestTypeFields"`
	}
	path := "/rest/servicedeskapi/servicedesk/" + url.PathEscape(st.serviceDeskID) + "/requesttype/" + url.PathEscape(st.requestTypeID) + "/field"
	if err := st.client.do(ctx, "read request type fields", http.MethodGet, path, nil, nil, &meta); err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("cannot read the request type's fields", err.Error(), "request_type")}
	}
	st.rtFields = map[string]bool{}
	for _, f := range meta.RequestTypeFields {
		st.rtFields[f.FieldID] = true
	}
	return nil
}

// issueTypeByName finds one of the project's issue types.
func (st *state) issueTypeByName(name string) (string, bool) {
	for _, it := range st.projectIssueTypes {
		if strings.EqualFold(it.name, name) {
			return it.id, true
		}
	}
	return "", false
}

func (st *state) checkPriorities(ctx context.Context) sdk.Diagnostics {
	var ps []struct {
		Name string `json:"name"`
	}
	if err := st.client.do(ctx, "list priorities", http.MethodGet, "/rest/api/3/priority", nil, nil, &ps); err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("cannot list priorities", err.Error(), "priority_map")}
	}
	st.priorities = map[string]string{}
	var names []string
	for _, p := range ps {
		st.priorities[strings.ToLower(p.Name)] = p.Name
		names = append(names, p.Name)
	}
	var d sdk.Diagnostics
	keys := make([]string, 0, len(st.cfg.PriorityMap))
	for k := range st.cfg.PriorityMap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := st.cfg.PriorityMap[k]
		if _, ok := st.priorities[strings.ToLower(v)]; !ok {
			d = append(d, sdk.ErrorDiag("unknown priority in priority_map", fmt.Sprintf("Severity %s maps to %q; the site's priorities are %s.", k, v, quoteList(names)), "priority_map"))
		}
	}
	return d
}

// discoverAssets resolves the Assets settings. Problems are errors when the
// user configured the assets block, otherwise warnings: bind_ci then fails
// with the reason.
func (st *state) discoverAssets(ctx context.Context) sdk.Diagnostics {
	a := st.cfg.Assets
	explicit := a.WorkspaceID != "" || a.Field != "" || a.APIURL != "" || a.TypeAttribute != "" ||
		a.ObjectType != defaultObjectType || a.ResourceIDAttribute != defaultRIDAttribute || a.NameAttribute != defaultNameAttr
	fail := func(summary, detail string, path ...string) sdk.Diagnostics {
		st.assetsErr = fmt.Errorf("bind_ci unavailable: %s: %s", summary, detail)
		sev := sdk.SeverityWarning
		if explicit {
			sev = sdk.SeverityError
		}
		return sdk.Diagnostics{{Severity: sev, Summary: summary, Detail: detail + " CI binding is disabled.", AttributePath: append([]string{"assets"}, path...)}}
	}
	as := &assetsState{extraAttrs: map[string]string{}}
	// The Assets field on issues.
	var cmdb []fieldDef
	for _, f := range st.fields {
		if f.Schema.Custom == cmdbFieldType {
			cmdb = append(cmdb, f)
		}
	}
	switch {
	case a.Field != "":
		f, ok := st.field(a.Field)
		if !ok || f.Schema.Custom != cmdbFieldType {
			return fail("assets field not found", fmt.Sprintf("Jira has no Assets object field %q.", a.Field), "field")
		}
		as.fieldID = f.ID
	case len(cmdb) == 1:
		as.fieldID = cmdb[0].ID
	case len(cmdb) == 0:
		return fail("no Assets object field", "The site has no custom field of type Assets object.", "field")
	default:
		var names []string
		for _, f := range cmdb {
			names = append(names, f.Name)
		}
		slices.Sort(names)
		return fail("several Assets object fields", "Set assets.field to one of "+quoteList(names)+".", "field")
	}
	if st.mode == modeServiceDesk && st.rtFields != nil && !st.rtFields[as.fieldID] {
		st.log.Debug("the Assets field is not on the request type; it is set through the issue API", "field", as.fieldID)
	}
	// Workspace.
	as.workspaceID = a.WorkspaceID
	if as.workspaceID == "" {
		var ws struct {
			Values []struct {
				WorkspaceID string `json:"workspaceId"`
			} `json:"values"`
		}
		if err := st.client.do(ctx, "discover the Assets workspace", http.MethodGet, "/rest/servicedeskapi/assets/workspace", nil, nil, &ws); err != nil {
			return fail("cannot discover the Assets workspace", err.Error(), "workspace_id")
		}
		if len(ws.Values) == 0 {
			return fail("no Assets workspace", "The site has no Assets workspace.", "workspace_id")
		}
		as.workspaceID = ws.Values[0].WorkspaceID
	}
	base := st.assetsPath(as.workspaceID)
	// Object type and attributes.
	var schemas struct {
		Values []struct {
			ID string `json:"id"`
		} `json:"values"`
	}
	if err := st.client.doAssets(ctx, "list object schemas", http.MethodGet, base+"/objectschema/list", nil, nil, &schemas); err != nil {
		return fail("cannot list Assets object schemas", err.Error(), "workspace_id")
	}
	for _, s := range schemas.Values {
		var types []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := st.client.doAssets(ctx, "list object types", http.MethodGet, base+"/objectschema/"+url.PathEscape(s.ID)+"/objecttypes/flat", nil, nil, &types); err != nil {
			return fail("cannot list Assets object types", err.Error(), "object_type")
		}
		for _, t := range types {
			if as.objectTypeID == "" && strings.EqualFold(t.Name, a.ObjectType) {
				as.objectTypeID, as.objectTypeName = t.ID, t.Name
			}
		}
	}
	if as.objectTypeID == "" {
		return fail("Assets object type not found", fmt.Sprintf("No object schema has an object type %q.", a.ObjectType), "object_type")
	}
	var attrs []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := st.client.doAssets(ctx, "list object type attributes", http.MethodGet, base+"/objecttype/"+url.PathEscape(as.objectTypeID)+"/attributes", nil, nil, &attrs); err != nil {
		return fail("cannot list the object type's attributes", err.Error(), "object_type")
	}
	for _, at := range attrs {
		switch {
		case strings.EqualFold(at.Name, a.ResourceIDAttribute):
			as.ridAttr = at.ID
		case strings.EqualFold(at.Name, a.NameAttribute):
			as.nameAttr = at.ID
		case a.TypeAttribute != "" && strings.EqualFold(at.Name, a.TypeAttribute):
			as.typeAttr = at.ID
		case strings.EqualFold(at.Name, "Subscription"), strings.EqualFold(at.Name, "Resource Group"):
			as.extraAttrs[at.Name] = at.ID
		}
	}
	switch {
	case as.ridAttr == "":
		return fail("resource id attribute not found", fmt.Sprintf("Object type %q has no attribute %q.", as.objectTypeName, a.ResourceIDAttribute), "resource_id_attribute")
	case as.nameAttr == "":
		return fail("name attribute not found", fmt.Sprintf("Object type %q has no attribute %q.", as.objectTypeName, a.NameAttribute), "name_attribute")
	case a.TypeAttribute != "" && as.typeAttr == "":
		return fail("type attribute not found", fmt.Sprintf("Object type %q has no attribute %q.", as.objectTypeName, a.TypeAttribute), "type_attribute")
	}
	st.assets = as
	return nil
}

// assetsPath is the Assets API path prefix of a workspace.
func (st *state) assetsPath(ws string) string {
	return "/jsm/assets/workspace/" + url.PathEscape(ws) + "/v1"
}
