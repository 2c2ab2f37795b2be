package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// currentCloseCodes is the close_code choice list of current ServiceNow
// releases (Incident Management best practice).
var currentCloseCodes = []string{
	"Duplicate", "Known error", "No resolution provided", "Resolved by caller", "Resolved by change",
	"Resolved by problem", "Resolved by request", "Solution provided", "Workaround provided", "User error",
}

// defaultCIClasses are searched, in order, for an Azure resource id in
// object_id. Each defines object_id itself: base cmdb_ci does not, and a
// query on a field a table lacks is silently ignored by ServiceNow.
var defaultCIClasses = []string{
	"cmdb_ci_vm_instance", "cmdb_ci_cloud_database", "cmdb_ci_cloud_storage_account",
	"cmdb_ci_kubernetes_cluster", "cmdb_ci_cloud_function", "cmdb_ci_cloud_load_balancer",
	"cmdb_ci_compute_security_group", "cmdb_ci_resource_group",
}

// defaultClassMap maps ARM resource types (lower case) to the CI class a
// missing CI is created in.
var defaultClassMap = map[string]string{
	"microsoft.compute/virtualmachines":                "cmdb_ci_vm_instance",
	"microsoft.compute/virtualmachinescalesets":        "cmdb_ci_vm_instance",
	"microsoft.classiccompute/virtualmachines":         "cmdb_ci_vm_instance",
	"microsoft.sql/servers":                            "cmdb_ci_cloud_database",
	"microsoft.sql/servers/databases":                  "cmdb_ci_cloud_database",
	"microsoft.sql/managedinstances":                   "cmdb_ci_cloud_database",
	"microsoft.dbformysql/servers":                     "cmdb_ci_cloud_database",
	"microsoft.dbformysql/flexibleservers":             "cmdb_ci_cloud_database",
	"microsoft.dbforpostgresql/servers":                "cmdb_ci_cloud_database",
	"microsoft.dbforpostgresql/flexibleservers":        "cmdb_ci_cloud_database",
	"microsoft.documentdb/databaseaccounts":            "cmdb_ci_cloud_database",
	"microsoft.cache/redis":                            "cmdb_ci_cloud_database",
	"microsoft.storage/storageaccounts":                "cmdb_ci_cloud_storage_account",
	"microsoft.containerservice/managedclusters":       "cmdb_ci_kubernetes_cluster",
	"microsoft.web/sites":                              "cmdb_ci_cloud_function",
	"microsoft.network/loadbalancers":                  "cmdb_ci_cloud_load_balancer",
	"microsoft.network/applicationgateways":            "cmdb_ci_cloud_load_balancer",
	"microsoft.network/networksecuritygroups":          "cmdb_ci_compute_security_group",
	"microsoft.resources/resourcegroups":               "cmdb_ci_resource_group",
	"microsoft.resources/subscriptions/resourcegroups": "cmdb_ci_resource_group",
}

// severityLevels is one severity_map entry.
type severityLevels struct {
	Impact  string `json:"impact"`
	Urgency string `json:"urgency"`
}

// defaultSeverityMap: Sev0 → priority 1 … Sev4 → priority 5 under the
// default Priority Lookup Rules.
var defaultSeverityMap = map[string]severityLevels{
	"Sev0": {"1", "1"}, "Sev1": {"1", "2"}, "Sev2": {"2", "2"}, "Sev3": {"2", "3"}, "Sev4": {"3", "3"},
}

const defaultCloseNotes = `Resolved automatically by itsmbridge: Azure Monitor alert "{{.rule}}" resolved at {{.resolved_at}} (alert id {{.id}}).`

// oauthConfig is the `oauth` block.
type oauthConfig struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	GrantType    string `json:"grant_type"`
	TokenURL     string `json:"token_url"`
	Scope        string `json:"scope"`
}

// ciLookupConfig is the `ci_lookup` block.
type ciLookupConfig struct {
	Classes      []string          `json:"classes"`
	IDField      string            `json:"id_field"`
	NameFallback bool              `json:"name_fallback"`
	ClassMap     map[string]string `json:"class_map"`
	DefaultClass string            `json:"default_class"`
	DataSource   string            `json:"data_source"`
}

// config is the decoded `config` block.
type config struct {
	InstanceURL      string                    `json:"instance_url"`
	Username         string                    `json:"username"`
	Password         string                    `json:"password"`
	OAuth            *oauthConfig              `json:"oauth"`
	Table            string                    `json:"table"`
	CorrelationField string                    `json:"correlation_field"`
	SeverityMap      map[string]severityLevels `json:"severity_map"`
	CloseCode        string                    `json:"close_code"`
	CloseCodes       []string                  `json:"close_codes"`
	CloseNotes       string                    `json:"close_notes"`
	AssignmentGroup  string                    `json:"assignment_group"`
	CallerID         string                    `json:"caller_id"`
	Category         string                    `json:"category"`
	Fields           map[string]string         `json:"fields"`
	CommentField     string                    `json:"comment_field"`
	CILookup         *ciLookupConfig           `json:"ci_lookup"`
	Timeout          string                    `json:"timeout"`
}

func defaultConfig() config {
	return config{
		Table:            "incident",
		CorrelationField: "correlation_id",
		SeverityMap:      maps.Clone(defaultSeverityMap), // decoding merges into it: never hand out the global
		CloseCode:        "Solution provided",
		CloseCodes:       slices.Clone(currentCloseCodes),
		CloseNotes:       defaultCloseNotes,
		Fields:           map[string]string{},
		CommentField:     "work_notes",
		Timeout:          "30s",
	}
}

func defaultCILookup() ciLookupConfig {
	return ciLookupConfig{
		Classes: slices.Clone(defaultCIClasses), IDField: "object_id", NameFallback: true,
		ClassMap: map[string]string{}, DataSource: "ServiceNow",
	}
}

func jsonDefault(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// schema declares the config block (attribute names are the contract).
func schema() sdk.Schema {
	return sdk.Schema{
		Attributes: []sdk.Attribute{
			{Name: "instance_url", Type: "string", Required: true,
				Description: "ServiceNow instance URL, e.g. https://acme.service-now.com (the sandbox: http://127.0.0.1:18401)."},
			{Name: "username", Type: "string",
				Description: "Integration user (needs role itil). Used for Basic auth, or for the OAuth password grant when an oauth block is set."},
			{Name: "password", Type: "string", Sensitive: true,
				Description: "Password of username. Use env(\"...\") or file(\"...\")."},
			{Name: "table", Type: "string", Default: `"incident"`,
				Description: "Table incidents are created in (incident or a table extending task)."},
			{Name: "correlation_field", Type: "string", Default: `"correlation_id"`,
				Description: "Field that stores the bridge's ticket key; it is looked up before every create so retries never open a second incident. Must exist on table: ServiceNow silently ignores unknown fields in queries."},
			{Name: "severity_map", Type: "map(object({impact=string, urgency=string}))", Default: jsonDefault(defaultSeverityMap),
				Description: "Alert severity (keys Sev0..Sev4, or 0..4; merged over the defaults) to impact and urgency (1 high, 2 medium, 3 low). ServiceNow computes priority from them; priority is never set directly."},
			{Name: "close_code", Type: "string", Default: `"Solution provided"`,
				Description: "Resolution code written when an incident is resolved (mandatory on the instance)."},
			{Name: "close_codes", Type: "list(string)", Default: jsonDefault(currentCloseCodes),
				Description: "The close_code choices of your instance, used to check close_code offline. Older releases use \"Solved (Permanently)\" and friends; set [] to skip the check."},
			{Name: "close_notes", Type: "string", Default: jsonDefault(defaultCloseNotes),
				Description: "Resolution notes, a Go text/template over the alert's JSON keys, e.g. {{.rule}}, {{.resolved_at}}, {{.id}}, {{.resource_name}}."},
			{Name: "assignment_group", Type: "string", Default: `""`,
				Description: "Assignment group, by name or sys_id (resolved to a sys_id when configured)."},
			{Name: "caller_id", Type: "string", Default: `""`,
				Description: "Caller, by user_name, name or sys_id."},
			{Name: "category", Type: "string", Default: `""`,
				Description: "Incident category (choice value, e.g. software)."},
			{Name: "fields", Type: "map(string)", Default: `{}`,
				Description: "Extra incident fields set on every create (e.g. contact_type, u_custom). Route ticket fields override them."},
			{Name: "comment_field", Type: "string", Default: `"work_notes"`,
				Description: "Journal field comments go to: work_notes (internal) or comments (customer-visible)."},
			{Name: "timeout", Type: "string", Default: `"30s"`,
				Description: "Timeout of one HTTP request to the instance (Go duration)."},
		},
		Blocks: []sdk.Block{
			{Name: "oauth", Description: "OAuth 2.0 instead of Basic auth: tokens from <instance>/oauth_token.do, refreshed before they expire.",
				Nested: sdk.Schema{Attributes: []sdk.Attribute{
					{Name: "client_id", Type: "string", Required: true, Description: "Client id of the OAuth application registry entry."},
					{Name: "client_secret", Type: "string", Required: true, Sensitive: true, Description: "Client secret of the OAuth application."},
					{Name: "grant_type", Type: "string", Default: `"password"`,
						Description: "password (uses username/password, gets a refresh token) or client_credentials."},
					{Name: "token_url", Type: "string", Default: `""`, Description: "Token endpoint; default <instance_url>/oauth_token.do."},
					{Name: "scope", Type: "string", Default: `""`, Description: "Optional OAuth scope."},
				}}},
			{Name: "ci_lookup", Description: "How BindCI finds configuration items: object_id (the Azure resource id) in each class, then name.",
				Nested: sdk.Schema{Attributes: []sdk.Attribute{
					{Name: "classes", Type: "list(string)", Default: jsonDefault(defaultCIClasses),
						Description: "CI classes searched, in order. Each must define id_field."},
					{Name: "id_field", Type: "string", Default: `"object_id"`, Description: "Field holding the Azure resource id (compared case-insensitively)."},
					{Name: "name_fallback", Type: "bool", Default: `true`, Description: "Fall back to matching the CI name within classes."},
					{Name: "class_map", Type: "map(string)", Default: `{}`,
						Description: "ARM resource type (lower case) → CI class for creating missing CIs; merged over the built-in map."},
					{Name: "default_class", Type: "string", Default: `""`, Description: "Class for missing CIs of an unmapped resource type; empty refuses to create them."},
					{Name: "data_source", Type: "string", Default: `"ServiceNow"`, Description: "sysparm_data_source sent to identifyreconcile (a discovery_source choice)."},
				}}},
		},
		TicketFields: ticketFields(),
	}
}

// ticketFields are the incident fields a route's ticket { fields } may set.
func ticketFields() []sdk.Attribute {
	f := func(name, desc string) sdk.Attribute {
		return sdk.Attribute{Name: name, Type: "string", Description: desc}
	}
	return []sdk.Attribute{
		f("impact", "1 high, 2 medium, 3 low (overrides severity_map)."),
		f("urgency", "1 high, 2 medium, 3 low (overrides severity_map)."),
		f("assignment_group", "Assignment group name or sys_id."),
		f("assigned_to", "Assignee user_name, name or sys_id."),
		f("caller_id", "Caller user_name, name or sys_id."),
		f("category", "Category choice value."),
		f("subcategory", "Subcategory choice value."),
		f("contact_type", "Channel, e.g. monitoring or email."),
		f("business_service", "Business service name or sys_id."),
		f("cmdb_ci", "Configuration item name or sys_id."),
		f("short_description", "Overrides the rendered title."),
		f("description", "Overrides the rendered description."),
		f("correlation_display", "Shown next to correlation_id."),
		f("hold_reason", "Hold reason choice value."),
		f("location", "Location sys_id."),
		f("company", "Company sys_id."),
		f("u_*", "A custom incident column (u_ prefix, e.g. u_environment), sent as given. ServiceNow ignores a column the table lacks."),
	}
}

var identRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// check validates cfg offline and returns its diagnostics.
func (c *config) check() sdk.Diagnostics {
	var d sdk.Diagnostics
	add := func(summary, detail string, path ...string) { d = append(d, sdk.ErrorDiag(summary, detail, path...)) }
	if strings.TrimSpace(c.InstanceURL) == "" {
		add("instance_url is required", "Set the ServiceNow instance URL, e.g. https://acme.service-now.com.", "instance_url")
	} else if u, err := url.Parse(c.InstanceURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		add("invalid instance_url", "Want an absolute http(s) URL without credentials, e.g. https://acme.service-now.com.", "instance_url")
	}
	if c.OAuth == nil {
		if c.Username == "" {
			add("username is required", "Set username and password, or an oauth block.", "username")
		}
		if c.Password == "" {
			add("password is required", "Set username and password, or an oauth block.", "password")
		}
	} else {
		o := c.OAuth
		if o.ClientID == "" {
			add("client_id is required", "", "oauth", "client_id")
		}
		if o.ClientSecret == "" {
			add("client_secret is required", "", "oauth", "client_secret")
		}
		switch o.GrantType {
		case "password":
			if c.Username == "" || c.Password == "" {
				add("the password grant needs username and password", "Set them, or use grant_type = \"client_credentials\".", "oauth", "grant_type")
			}
		case "client_credentials":
		default:
			add("invalid grant_type", fmt.Sprintf("%q: want password or client_credentials.", o.GrantType), "oauth", "grant_type")
		}
		if o.TokenURL != "" {
			if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				add("invalid token_url", "Want an absolute http(s) URL.", "oauth", "token_url")
			}
		}
	}
	if !identRe.MatchString(c.Table) {
		add("invalid table", fmt.Sprintf("%q is not a table name.", c.Table), "table")
	}
	if !identRe.MatchString(c.CorrelationField) {
		add("invalid correlation_field", fmt.Sprintf("%q is not a field name.", c.CorrelationField), "correlation_field")
	}
	for k, lv := range c.SeverityMap {
		if _, ok := severityKey(k); !ok {
			add("invalid severity_map key", fmt.Sprintf("%q: want Sev0..Sev4 or 0..4.", k), "severity_map")
		}
		if !validLevel(lv.Impact) || !validLevel(lv.Urgency) {
			add("invalid severity_map entry", fmt.Sprintf("%s: impact and urgency must be 1, 2 or 3.", k), "severity_map")
		}
	}
	if c.CloseCode == "" {
		add("close_code is required", "ServiceNow refuses to resolve an incident without a resolution code.", "close_code")
	} else if len(c.CloseCodes) > 0 && !slices.Contains(c.CloseCodes, c.CloseCode) {
		add("unknown close_code", fmt.Sprintf("%q is not in close_codes %q; set close_codes to your instance's list.", c.CloseCode, c.CloseCodes), "close_code")
	}
	if strings.TrimSpace(c.CloseNotes) == "" {
		add("close_notes is required", "ServiceNow refuses to resolve an incident without resolution notes.", "close_notes")
	} else if _, err := template.New("close_notes").Option("missingkey=zero").Parse(c.CloseNotes); err != nil {
		add("invalid close_notes template", err.Error(), "close_notes")
	}
	if c.CommentField != "work_notes" && c.CommentField != "comments" {
		add("invalid comment_field", "Want work_notes or comments.", "comment_field")
	}
	for k := range c.Fields {
		switch {
		case !identRe.MatchString(k):
			add("invalid field name", fmt.Sprintf("%q is not a field name.", k), "fields")
		case k == c.CorrelationField:
			add("fields must not set the correlation field", "The ticket key is written there.", "fields")
		case k == "priority":
			add("fields must not set priority", "ServiceNow computes priority from impact and urgency; set those.", "fields")
		}
	}
	if dur, err := time.ParseDuration(c.Timeout); err != nil || dur <= 0 {
		add("invalid timeout", fmt.Sprintf("%q: want a positive Go duration like 30s.", c.Timeout), "timeout")
	}
	if l := c.CILookup; l != nil {
		if len(l.Classes) == 0 {
			add("ci_lookup.classes is empty", "List at least one CI class.", "ci_lookup", "classes")
		}
		for _, cl := range append(slices.Clone(l.Classes), l.DefaultClass) {
			if cl != "" && !identRe.MatchString(cl) {
				add("invalid CI class", fmt.Sprintf("%q is not a class name.", cl), "ci_lookup", "classes")
			}
		}
		if !identRe.MatchString(l.IDField) {
			add("invalid id_field", fmt.Sprintf("%q is not a field name.", l.IDField), "ci_lookup", "id_field")
		}
		for _, cl := range l.ClassMap {
			if !identRe.MatchString(cl) {
				add("invalid class_map entry", fmt.Sprintf("%q is not a class name.", cl), "ci_lookup", "class_map")
			}
		}
	}
	return d
}

func validLevel(s string) bool { return s == "1" || s == "2" || s == "3" }

// severityKey normalises "Sev2", "sev2" and "2" to 2.
func severityKey(k string) (int, bool) {
	k = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(k)), "sev")
	if len(k) == 1 && k[0] >= '0' && k[0] <= '4' {
		return int(k[0] - '0'), true
	}
	return 0, false
}

// decodeConfig applies defaults and decodes cfg.
func decodeConfig(raw sdk.Config) (config, error) {
	c := defaultConfig()
	var probe struct {
		OAuth    *oauthConfig    `json:"oauth"`
		CILookup *ciLookupConfig `json:"ci_lookup"`
	}
	if err := raw.Decode(&probe); err != nil {
		return c, err
	}
	// Nested blocks get their defaults before their own attributes decode.
	if probe.OAuth != nil {
		c.OAuth = &oauthConfig{GrantType: "password"}
	}
	l := defaultCILookup()
	c.CILookup = &l
	if err := raw.Decode(&c); err != nil {
		return c, err
	}
	if c.OAuth != nil && c.OAuth.GrantType == "" {
		c.OAuth.GrantType = "password"
	}
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	if c.CILookup.IDField == "" {
		c.CILookup.IDField = "object_id"
	}
	if c.CILookup.DataSource == "" {
		c.CILookup.DataSource = "ServiceNow"
	}
	return c, nil
}
