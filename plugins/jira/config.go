package main

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Modes.
const (
	modeServiceDesk = "servicedesk"
	modeIssue       = "issue"
)

// Correlation types: where the ticket key lives on the issue.
const (
	corrLabel    = "label"
	corrField    = "field"
	corrProperty = "property"
)

// config is the decoded `config` block. JSON tags are the attribute names.
type config struct {
	URL               string            `json:"url"`
	Username          string            `json:"username"`
	APIToken          string            `json:"api_token"`
	BearerToken       string            `json:"bearer_token"`
	Project           string            `json:"project"`
	Mode              string            `json:"mode"`
	RequestType       string            `json:"request_type"`
	IssueType         string            `json:"issue_type"`
	Correlation       correlationConfig `json:"correlation"`
	ResolveTransition string            `json:"resolve_transition"`
	ReopenTransition  string            `json:"reopen_transition"`
	Resolution        string            `json:"resolution"`
	PriorityMap       map[string]string `json:"priority_map"`
	Assets            assetsConfig      `json:"assets"`
	Fields            map[string]string `json:"fields"`
	PublicComments    bool              `json:"public_comments"`
	Timeout           string            `json:"timeout"`
	DedupLedger       bool              `json:"dedup_ledger"`
	SearchLag         string            `json:"search_lag"`
}

type correlationConfig struct {
	Type     string `json:"type"`
	Field    string `json:"field"`
	Property string `json:"property"`
}

type assetsConfig struct {
	WorkspaceID         string `json:"workspace_id"`
	ObjectType          string `json:"object_type"`
	ResourceIDAttribute string `json:"resource_id_attribute"`
	NameAttribute       string `json:"name_attribute"`
	TypeAttribute       string `json:"type_attribute"`
	Field               string `json:"field"`
	APIURL              string `json:"api_url"`
}

// Defaults (also declared in the schema, as JSON, for documentation and the host).
const (
	defaultResolution   = "Done"
	defaultProperty     = "itsmbridge"
	defaultObjectType   = "Azure Resource"
	defaultRIDAttribute = "Resource ID"
	defaultNameAttr     = "Name"
	defaultTimeout      = "30s"
	defaultSearchLag    = "30s"
)

var defaultPriorityMap = map[string]string{"0": "Highest", "1": "High", "2": "Medium", "3": "Low", "4": "Lowest"}

func defaultConfig() config {
	pm := map[string]string{}
	for k, v := range defaultPriorityMap {
		pm[k] = v
	}
	return config{
		Correlation: correlationConfig{Type: corrLabel, Property: defaultProperty},
		Resolution:  defaultResolution,
		PriorityMap: pm,
		Assets: assetsConfig{
			ObjectType: defaultObjectType, ResourceIDAttribute: defaultRIDAttribute, NameAttribute: defaultNameAttr,
		},
		Fields:      map[string]string{},
		Timeout:     defaultTimeout,
		DedupLedger: true,
		SearchLag:   defaultSearchLag,
	}
}

func schema() sdk.Schema {
	return sdk.Schema{
		Attributes: []sdk.Attribute{
			{Name: "url", Type: "string", Required: true, Description: "Jira site URL, e.g. https://acme.atlassian.net (the emulator: http://127.0.0.1:18402)."},
			{Name: "username", Type: "string", Description: "Account for Basic auth with api_token: the Atlassian account email on Cloud (a username also works on the emulator and Data Center)."},
			{Name: "api_token", Type: "string", Sensitive: true, Description: "API token for Basic auth with username (https://id.atlassian.com/manage-profile/security/api-tokens)."},
			{Name: "bearer_token", Type: "string", Sensitive: true, Description: "Bearer token (an OAuth 2.0 access token, or a Data Center personal access token) used instead of username + api_token. The plugin speaks the Cloud v3 API."},
			{Name: "project", Type: "string", Required: true, Description: "Project key the incidents are created in, e.g. OPS."},
			{Name: "mode", Type: "string", Description: `How incidents are created: "servicedesk" (JSM request API, request types) or "issue" (platform issue API). Default: servicedesk when the project is a service project, else issue.`},
			{Name: "request_type", Type: "string", Description: `Request type name (servicedesk mode), resolved to its id at Configure. Default: "Report an incident", else the first request type whose issue type is Incident.`},
			{Name: "issue_type", Type: "string", Description: `Issue type name (issue mode), resolved to its id at Configure. Default: "Incident", else "[System] Incident".`},
			{Name: "resolve_transition", Type: "string", Description: "Transition used to resolve, by transition name or target status name, looked up on each issue (ids differ per workflow). Default: a transition named Resolve/Done/Close, else any transition to a Done-category status."},
			{Name: "reopen_transition", Type: "string", Description: "Transition used to reopen, by transition name or target status name, looked up on each issue. Default: a transition named Reopen, else any transition out of the Done category."},
			{Name: "resolution", Type: "string", Default: `"Done"`, Description: "Resolution set when the resolve transition's screen has a Resolution field."},
			{Name: "priority_map", Type: "map(string)", Default: `{"0":"Highest","1":"High","2":"Medium","3":"Low","4":"Lowest"}`, Description: `Alert severity (0..4 or Sev0..Sev4) to Jira priority name; checked against the site's priorities at Configure. A severity without an entry leaves the priority to Jira's default.`},
			{Name: "fields", Type: "map(string)", Default: `{}`, Description: "Extra fields set on every incident: field name or id → value (converted by the field's type: text, number, select option, labels, multi-select as comma-separated values, user account id, or raw JSON). Route ticket fields override them."},
			{Name: "public_comments", Type: "bool", Default: `false`, Description: "Whether comments are visible to customers (JSM); default internal notes."},
			{Name: "timeout", Type: "string", Default: `"30s"`, Description: "Timeout of one Jira API request (Go duration)."},
			{Name: "dedup_ledger", Type: "bool", Default: `true`, Description: "Record each create in an entity property on the API user's own account (read-after-write, unlike search), so a retried create after a plugin restart inside the search lag finds the first issue instead of making a second one."},
			{Name: "search_lag", Type: "string", Default: `"30s"`, Description: "How long a new issue may stay invisible to JQL search (Jira Cloud's index lag). A create whose outcome is unknown is not repeated within this window (Go duration)."},
		},
		Blocks: []sdk.Block{
			{Name: "correlation", Description: "Where the ticket key is stored on the issue. An issue property (key `property`, value {ticketKey, alertId}) is always written as well.", Nested: sdk.Schema{Attributes: []sdk.Attribute{
				{Name: "type", Type: "string", Default: `"label"`, Description: `"label" (a label: the ticket key when it is a valid label, else itsmbridge-<sha256>), "field" (a single-line text custom field) or "property" (the issue property; JQL can query it on Cloud only when an app indexes it).`},
				{Name: "field", Type: "string", Description: `Custom field name or id (customfield_NNNNN) for type "field".`},
				{Name: "property", Type: "string", Default: `"itsmbridge"`, Description: "Issue property key holding {ticketKey, alertId}."},
			}}},
			{Name: "assets", Description: "JSM Assets as the CMDB for bind_ci.", Nested: sdk.Schema{Attributes: []sdk.Attribute{
				{Name: "workspace_id", Type: "string", Description: "Assets workspace id. Default: discovered with GET /rest/servicedeskapi/assets/workspace."},
				{Name: "object_type", Type: "string", Default: `"Azure Resource"`, Description: "Object type holding Azure resources."},
				{Name: "resource_id_attribute", Type: "string", Default: `"Resource ID"`, Description: "Attribute holding the (lower-case) Azure resource id."},
				{Name: "name_attribute", Type: "string", Default: `"Name"`, Description: "Attribute holding the resource name (usually the label attribute)."},
				{Name: "type_attribute", Type: "string", Description: "Optional attribute holding the ARM resource type: used to narrow a lookup by name and filled on create."},
				{Name: "field", Type: "string", Description: "The issue's Assets object custom field (name or id). Default: the site's only Assets object field."},
				{Name: "api_url", Type: "string", Description: "Assets API base. Default: https://api.atlassian.com for *.atlassian.net sites, else url."},
			}}},
		},
	}
}

var (
	projectKeyRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}$`)
	severityKey  = regexp.MustCompile(`^(?i:sev)?([0-4])$`)
)

// validate runs the offline checks of a decoded config.
func (c *config) validate() sdk.Diagnostics {
	var d sdk.Diagnostics
	u, err := url.Parse(c.URL)
	switch {
	case strings.TrimSpace(c.URL) == "":
		d = append(d, sdk.ErrorDiag("url is required", "Set url to the Jira site, e.g. https://acme.atlassian.net.", "url"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		d = append(d, sdk.ErrorDiag("url must be an absolute http(s) URL", fmt.Sprintf("Got %q.", c.URL), "url"))
	}
	switch {
	case c.BearerToken != "" && (c.Username != "" || c.APIToken != ""):
		d = append(d, sdk.ErrorDiag("set either bearer_token or username + api_token, not both", "", "bearer_token"))
	case c.BearerToken == "" && c.Username == "":
		d = append(d, sdk.ErrorDiag("username is required", "Basic auth needs username (the account email on Cloud) and api_token; or set bearer_token.", "username"))
	case c.BearerToken == "" && c.APIToken == "":
		d = append(d, sdk.ErrorDiag("api_token is required", "Basic auth needs username and api_token; or set bearer_token.", "api_token"))
	}
	if !projectKeyRe.MatchString(c.Project) {
		d = append(d, sdk.ErrorDiag("project must be a Jira project key", fmt.Sprintf("Got %q; keys are upper-case letters, digits and _ starting with a letter, e.g. OPS.", c.Project), "project"))
	}
	switch c.Mode {
	case "", modeServiceDesk, modeIssue:
	default:
		d = append(d, sdk.ErrorDiag(`mode must be "servicedesk" or "issue"`, fmt.Sprintf("Got %q.", c.Mode), "mode"))
	}
	switch c.Correlation.Type {
	case corrLabel, corrProperty:
	case corrField:
		if strings.TrimSpace(c.Correlation.Field) == "" {
			d = append(d, sdk.ErrorDiag(`correlation.field is required when correlation.type = "field"`, "Name a single-line text custom field, e.g. \"Alert correlation\" or customfield_10050.", "correlation", "field"))
		}
	default:
		d = append(d, sdk.ErrorDiag(`correlation.type must be "label", "field" or "property"`, fmt.Sprintf("Got %q.", c.Correlation.Type), "correlation", "type"))
	}
	if !validPropertyKey(c.Correlation.Property) {
		d = append(d, sdk.ErrorDiag("correlation.property must be 1-255 characters without spaces", fmt.Sprintf("Got %q.", c.Correlation.Property), "correlation", "property"))
	}
	for k, v := range c.PriorityMap {
		if !severityKey.MatchString(k) {
			d = append(d, sdk.ErrorDiag("priority_map keys are severities 0..4 (or Sev0..Sev4)", fmt.Sprintf("Got %q.", k), "priority_map"))
		}
		if strings.TrimSpace(v) == "" {
			d = append(d, sdk.ErrorDiag("priority_map values must be priority names", fmt.Sprintf("Severity %s maps to an empty name.", k), "priority_map"))
		}
	}
	for k := range c.Fields {
		if strings.TrimSpace(k) == "" {
			d = append(d, sdk.ErrorDiag("fields keys must be field names or ids", "", "fields"))
		}
	}
	for _, x := range []struct {
		v, name string
	}{{c.Timeout, "timeout"}, {c.SearchLag, "search_lag"}} {
		if dur, err := time.ParseDuration(x.v); err != nil || dur < 0 {
			d = append(d, sdk.ErrorDiag(x.name+" must be a Go duration such as 30s", fmt.Sprintf("Got %q.", x.v), x.name))
		}
	}
	if c.Assets.APIURL != "" {
		if u, err := url.Parse(c.Assets.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d = append(d, sdk.ErrorDiag("assets.api_url must be an absolute http(s) URL", fmt.Sprintf("Got %q.", c.Assets.APIURL), "assets", "api_url"))
		}
	}
	return d
}

func validPropertyKey(k string) bool {
	return k != "" && len(k) <= 255 && !strings.ContainsAny(k, " \t\n")
}

// priorityFor maps a severity to the configured priority name ("" = none).
func (c *config) priorityFor(sev int) string {
	if v, ok := c.PriorityMap[strconv.Itoa(sev)]; ok {
		return v
	}
	for k, v := range c.PriorityMap {
		if m := severityKey.FindStringSubmatch(k); m != nil && m[1] == strconv.Itoa(sev) {
			return v
		}
	}
	return ""
}

// assetsAPIURL is the Assets API base for the site.
func (c *config) assetsAPIURL() string {
	if c.Assets.APIURL != "" {
		return strings.TrimSuffix(c.Assets.APIURL, "/")
	}
	if u, err := url.Parse(c.URL); err == nil && strings.HasSuffix(strings.ToLower(u.Hostname()), ".atlassian.net") {
		return "https://api.atlassian.com"
	}
	return strings.TrimSuffix(c.URL, "/")
}
