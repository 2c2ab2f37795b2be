package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// config is the decoded `config` block; json tags are the attribute names.
type config struct {
	URL                 string                       `json:"url"`
	ClientID            string                       `json:"client_id"`
	ClientSecret        string                       `json:"client_secret"`
	Username            string                       `json:"username"`
	Password            string                       `json:"password"`
	AuthMode            string                       `json:"auth_mode"`
	BusinessObject      string                       `json:"business_object"`
	CorrelationField    string                       `json:"correlation_field"`
	ResolvedStatus      string                       `json:"resolved_status"`
	ReopenedStatus      string                       `json:"reopened_status"`
	ClosedStatuses      []string                     `json:"closed_statuses"`
	CloseDescription    string                       `json:"close_description"`
	SeverityMap         map[string]map[string]string `json:"severity_map"`
	Fields              map[string]string            `json:"fields"`
	JournalRelationship string                       `json:"journal_relationship"`
	JournalObject       string                       `json:"journal_object"`
	CIRelationship      string                       `json:"ci_relationship"`
	CIObjectTypes       []string                     `json:"ci_object_types"`
	CICreateType        string                       `json:"ci_create_type"`
	CIResourceIDField   string                       `json:"ci_resource_id_field"`
	CINameField         string                       `json:"ci_name_field"`
	WebURL              string                       `json:"web_url"`
	Timeout             string                       `json:"timeout"`
}

// Defaults, shared by the schema (as JSON) and by defaultConfig.
const (
	defAuthMode         = "Internal"
	defBusinessObject   = "Incident"
	defCorrelationField = "CorrelationID"
	defResolvedStatus   = "Resolved"
	defReopenedStatus   = "Reopened"
	defJournalRel       = "Incident Owns Journals"
	defJournalObject    = "Journal - Note"
	defCIRel            = "Incident Links Configuration Items"
	defResourceIDField  = "AzureResourceID"
	defCINameField      = "FriendlyName"
	defTimeout          = "30s"
	defCloseDescription = `Resolved automatically by itsmbridge: Azure Monitor alert "{{.rule}}" is resolved{{with .resolved_at}} ({{.}}){{end}}.`
)

var (
	defClosedStatuses = []string{"Resolved", "Closed"}
	defCITypes        = []string{"Config - Server", "Config - Computer"}
	// defSeverityMap maps Azure Sev0..Sev4 to CSM Priority 1..5.
	defSeverityMap = map[string]map[string]string{
		"0": {"Priority": "1"}, "1": {"Priority": "2"}, "2": {"Priority": "3"}, "3": {"Priority": "4"}, "4": {"Priority": "5"},
	}
	authModes = []string{"Internal", "Windows", "LDAP", "SAML", "Auto"}
)

func defaultConfig() config {
	sm := map[string]map[string]string{}
	for k, v := range defSeverityMap {
		sm[k] = map[string]string{}
		for f, x := range v {
			sm[k][f] = x
		}
	}
	return config{
		AuthMode: defAuthMode, BusinessObject: defBusinessObject, CorrelationField: defCorrelationField,
		ResolvedStatus: defResolvedStatus, ReopenedStatus: defReopenedStatus,
		ClosedStatuses: slices.Clone(defClosedStatuses), CloseDescription: defCloseDescription,
		SeverityMap: sm, Fields: map[string]string{}, JournalRelationship: defJournalRel, JournalObject: defJournalObject,
		CIRelationship: defCIRel, CIObjectTypes: slices.Clone(defCITypes), CIResourceIDField: defResourceIDField,
		CINameField: defCINameField, Timeout: defTimeout,
	}
}

func jsonDefault(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // constants only
	}
	return string(b)
}

// schema declares the config block.
func schema() sdk.Schema {
	str := func(name, def, desc string) sdk.Attribute {
		a := sdk.Attribute{Name: name, Type: "string", Description: desc}
		if def != "" {
			a.Default = jsonDefault(def)
		}
		return a
	}
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "url", Type: "string", Required: true, Description: "Base URL of the CSM REST API, including /CherwellAPI (e.g. https://csm.example.com/CherwellAPI)."},
		{Name: "client_id", Type: "string", Required: true, Description: "REST API client key registered in CSM Administrator (Security > Edit REST API client settings)."},
		{Name: "client_secret", Type: "string", Sensitive: true, Description: "Client secret, only for REST API clients registered as native clients that require one."},
		{Name: "username", Type: "string", Required: true, Description: "CSM login of the integration account."},
		{Name: "password", Type: "string", Required: true, Sensitive: true, Description: "Password of the integration account."},
		str("auth_mode", defAuthMode, "CSM authentication mode sent as auth_mode: Internal, Windows, LDAP, SAML or Auto."),
		str("business_object", defBusinessObject, "Name of the business object tickets are created in."),
		str("correlation_field", defCorrelationField, "Name of the site-added text field of the business object that stores the bridge's ticket key (CSM has no built-in correlation field); used to find open tickets before creating, so retries never duplicate."),
		str("resolved_status", defResolvedStatus, "Status value set when an alert resolves."),
		str("reopened_status", defReopenedStatus, "Status value set when a resolved ticket is reopened."),
		{Name: "closed_statuses", Type: "list(string)", Default: jsonDefault(defClosedStatuses), Description: "Status values that count as closed: Find and Create ignore tickets in these states, and resolving a ticket in one of them is a no-op. resolved_status always counts as closed."},
		str("close_description", defCloseDescription, "Go text/template for CloseDescription on resolve; the data are the alert's keys ({{.rule}}, {{.resource_name}}, {{.resolved_at}}, ...) plus {{.ticket_key}}."),
		{Name: "severity_map", Type: "map(map(string))", Default: jsonDefault(defSeverityMap), Description: `Fields set per alert severity: keys "0" (Sev0) to "4" (Sev4), values map CSM field names (e.g. Priority, Impact, Urgency) to values.`},
		{Name: "fields", Type: "map(string)", Default: "{}", Description: "Extra fields set on every new ticket, by CSM field name (e.g. { Service = \"Cloud\", Category = \"Monitoring\" }); a route's ticket fields override them."},
		str("journal_relationship", defJournalRel, "Relationship (display name) of the business object to its journals; comments are saved through it."),
		str("journal_object", defJournalObject, "Business object of a comment (name or display name), a member of the journal relationship's target."),
		str("ci_relationship", defCIRel, "Relationship (display name) of the business object to configuration items; BindCI links CIs through it."),
		{Name: "ci_object_types", Type: "list(string)", Default: jsonDefault(defCITypes), Description: "Configuration item business objects (name or display name) searched by BindCI, in order."},
		str("ci_create_type", "", "Configuration item business object new CIs are created in (cmdb create_missing); default: the first of ci_object_types."),
		str("ci_resource_id_field", defResourceIDField, "Configuration item field holding the Azure resource id (searched first)."),
		str("ci_name_field", defCINameField, "Configuration item name field (searched when the resource id finds nothing)."),
		str("web_url", "", "Base URL of the CSM browser client for ticket links; default: url with /CherwellAPI replaced by /CherwellClient."),
		str("timeout", defTimeout, "Timeout of one request to CSM (Go duration)."),
	}}
}

// validate runs the offline checks shared by ValidateConfig and Configure.
func (c *config) validate() sdk.Diagnostics {
	var d sdk.Diagnostics
	req := func(name, v string) {
		if strings.TrimSpace(v) == "" {
			d = append(d, sdk.ErrorDiag("Missing required value", name+" must not be empty.", name))
		}
	}
	req("url", c.URL)
	req("client_id", c.ClientID)
	req("username", c.Username)
	req("password", c.Password)
	req("business_object", c.BusinessObject)
	req("correlation_field", c.CorrelationField)
	req("resolved_status", c.ResolvedStatus)
	req("reopened_status", c.ReopenedStatus)
	req("journal_relationship", c.JournalRelationship)
	req("journal_object", c.JournalObject)
	req("ci_relationship", c.CIRelationship)
	req("ci_resource_id_field", c.CIResourceIDField)
	req("ci_name_field", c.CINameField)
	if strings.TrimSpace(c.URL) != "" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d = append(d, sdk.ErrorDiag("Invalid URL", "url must be an absolute http(s) URL such as https://csm.example.com/CherwellAPI.", "url"))
		} else if !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/CherwellAPI") {
			d = append(d, sdk.Diagnostic{Severity: sdk.SeverityWarning, Summary: "URL does not end with /CherwellAPI",
				Detail: "CSM serves its REST API under /CherwellAPI; check that url points at the API base.", AttributePath: []string{"url"}})
		}
	}
	if c.WebURL != "" {
		if u, err := url.Parse(c.WebURL); err != nil || u.Host == "" {
			d = append(d, sdk.ErrorDiag("Invalid URL", "web_url must be an absolute URL.", "web_url"))
		}
	}
	if !slices.ContainsFunc(authModes, func(m string) bool { return strings.EqualFold(m, c.AuthMode) }) {
		d = append(d, sdk.ErrorDiag("Invalid auth_mode", fmt.Sprintf("auth_mode %q is not one of %s.", c.AuthMode, strings.Join(authModes, ", ")), "auth_mode"))
	}
	if strings.EqualFold(c.ResolvedStatus, c.ReopenedStatus) && c.ResolvedStatus != "" {
		d = append(d, sdk.ErrorDiag("Invalid reopened_status", "reopened_status must differ from resolved_status.", "reopened_status"))
	}
	if slices.ContainsFunc(c.ClosedStatuses, func(s string) bool { return strings.EqualFold(s, c.ReopenedStatus) }) {
		d = append(d, sdk.ErrorDiag("Invalid reopened_status", fmt.Sprintf("reopened_status %q is listed in closed_statuses.", c.ReopenedStatus), "reopened_status"))
	}
	if _, err := parseCloseTemplate(c.CloseDescription); err != nil {
		d = append(d, sdk.ErrorDiag("Invalid close_description template", err.Error(), "close_description"))
	}
	for k, fields := range c.SeverityMap {
		if n, err := strconv.Atoi(k); err != nil || n < 0 || n > 4 || strconv.Itoa(n) != k {
			d = append(d, sdk.ErrorDiag("Invalid severity_map key", fmt.Sprintf("severity_map key %q is not a severity 0 to 4.", k), "severity_map"))
		}
		for f := range fields {
			if strings.TrimSpace(f) == "" {
				d = append(d, sdk.ErrorDiag("Invalid severity_map", fmt.Sprintf("severity_map[%q] has an empty field name.", k), "severity_map"))
			}
		}
	}
	for f := range c.Fields {
		if strings.TrimSpace(f) == "" {
			d = append(d, sdk.ErrorDiag("Invalid fields", "fields has an empty field name.", "fields"))
		}
	}
	if len(c.CIObjectTypes) == 0 {
		d = append(d, sdk.ErrorDiag("Missing ci_object_types", "ci_object_types must name at least one configuration item business object.", "ci_object_types"))
	}
	for _, t := range c.CIObjectTypes {
		if strings.TrimSpace(t) == "" {
			d = append(d, sdk.ErrorDiag("Invalid ci_object_types", "ci_object_types has an empty name.", "ci_object_types"))
		}
	}
	if c.CICreateType != "" && !slices.ContainsFunc(c.CIObjectTypes, func(s string) bool { return strings.EqualFold(s, c.CICreateType) }) {
		d = append(d, sdk.ErrorDiag("Invalid ci_create_type", fmt.Sprintf("ci_create_type %q is not one of ci_object_types.", c.CICreateType), "ci_create_type"))
	}
	if dur, err := time.ParseDuration(c.Timeout); err != nil || dur <= 0 {
		d = append(d, sdk.ErrorDiag("Invalid timeout", fmt.Sprintf("timeout %q is not a positive Go duration such as 30s.", c.Timeout), "timeout"))
	}
	return d
}

func parseCloseTemplate(src string) (*template.Template, error) {
	return template.New("close_description").Option("missingkey=zero").Parse(src)
}

// decodeConfig applies defaults and decodes cfg.
func decodeConfig(cfg sdk.Config) (config, sdk.Diagnostics) {
	c := defaultConfig()
	// json.Unmarshal merges into existing maps: start them nil so a
	// configured map replaces the default instead of extending it.
	c.SeverityMap, c.Fields = nil, nil
	if err := cfg.Decode(&c); err != nil {
		return c, sdk.Diagnostics{sdk.ErrorDiag("Invalid configuration", err.Error())}
	}
	if c.SeverityMap == nil {
		c.SeverityMap = defaultConfig().SeverityMap
	}
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	if c.AuthMode == "" {
		c.AuthMode = defAuthMode
	}
	if c.Timeout == "" {
		c.Timeout = defTimeout
	}
	return c, c.validate()
}
