package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Wire models of the discovery calls (subset of the CSM DTOs).
type summary struct {
	BusObID        string    `json:"busObId"`
	Name           string    `json:"name"`
	DisplayName    string    `json:"displayName"`
	Group          bool      `json:"group"`
	GroupSummaries []summary `json:"groupSummaries"`
	StateFieldID   string    `json:"stateFieldId"`
	States         string    `json:"states"`
}

type fieldDefinition struct {
	FieldID     string `json:"fieldId"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	ReadOnly    bool   `json:"readOnly"`
	MaximumSize string `json:"maximumSize"`
}

type relationship struct {
	RelationshipID string `json:"relationshipId"`
	DisplayName    string `json:"displayName"`
	Target         string `json:"target"`
}

type schemaResponse struct {
	BusObID          string            `json:"busObId"`
	Name             string            `json:"name"`
	FieldDefinitions []fieldDefinition `json:"fieldDefinitions"`
	Relationships    []relationship    `json:"relationships"`
	StateFieldID     string            `json:"stateFieldId"`
	States           string            `json:"states"`
}

// field is a discovered field.
type field struct {
	ID, Name, Display string
	ReadOnly          bool
	MaxSize           int // 0: unknown or unbounded
}

// object is a discovered business object with its fields.
type object struct {
	ID, Name, Display string
	fields            []field
}

// field finds a field by internal name, then display name (case-insensitive).
func (o *object) field(name string) (field, bool) {
	for _, f := range o.fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	for _, f := range o.fields {
		if strings.EqualFold(f.Display, name) {
			return f, true
		}
	}
	return field{}, false
}

// ciType is a configuration item business object searched by BindCI.
type ciType struct {
	object
	resID, name field
}

// meta is everything Configure discovers, immutable afterwards.
type meta struct {
	incident   object
	states     []string
	openStates []string // states that are not closed; Find searches these
	status     field
	short      field
	desc       field
	closeDesc  field
	corr       field
	ciRecID    *field // nil when the object lacks ConfigItemRecID
	ciName     *field
	severity   map[int][]fieldValue
	extra      []fieldValue
	journalRel string
	journal    object
	details    field
	ciRel      string
	ciTypes    []ciType
	ciCreate   *ciType
}

// fieldValue is a value for a discovered field.
type fieldValue struct {
	f     field
	value string
}

// fieldName names a field id of any discovered object (error texts).
func (m *meta) fieldName(id string) string {
	objs := []*object{&m.incident, &m.journal}
	for i := range m.ciTypes {
		objs = append(objs, &m.ciTypes[i].object)
	}
	for _, o := range objs {
		for _, f := range o.fields {
			if strings.EqualFold(f.ID, id) {
				return f.Name
			}
		}
	}
	return ""
}

// configError is a discovery failure tied to a config attribute.
type configError struct {
	attr    string
	summary string
	detail  string
}

func (e *configError) Error() string { return e.attr + ": " + e.summary + ": " + e.detail }

func cfgErr(attr, summary, format string, args ...any) error {
	return &configError{attr: attr, summary: summary, detail: fmt.Sprintf(format, args...)}
}

// discoverer resolves names to ids for one Configure.
type discoverer struct {
	api *api
	all []summary // lazily loaded getbusinessobjectsummaries/type/All
}

// object finds a business object by name or display name: first the
// summary-by-name call, then the full summary list (CSM matches internal
// names only, so "Config - Server" is found in the list). nil when absent.
func (d *discoverer) object(ctx context.Context, name string) (*summary, error) {
	var sums []summary
	if err := d.api.call(ctx, "get business object summary", "GET", "api/V1/getbusinessobjectsummary/busobname/"+url.PathEscape(name), nil, nil, &sums); err != nil {
		return nil, err
	}
	for i := range sums {
		if sums[i].BusObID != "" && strings.EqualFold(sums[i].Name, name) {
			return &sums[i], nil
		}
	}
	if d.all == nil {
		if err := d.api.call(ctx, "get business object summaries", "GET", "api/V1/getbusinessobjectsummaries/type/All", nil, nil, &d.all); err != nil {
			return nil, err
		}
	}
	var walk func([]summary) *summary
	walk = func(ss []summary) *summary {
		for i := range ss {
			if strings.EqualFold(ss[i].Name, name) || strings.EqualFold(ss[i].DisplayName, name) {
				return &ss[i]
			}
			if s := walk(ss[i].GroupSummaries); s != nil {
				return s
			}
		}
		return nil
	}
	return walk(d.all), nil
}

func (d *discoverer) schema(ctx context.Context, busObID string, rels bool) (*schemaResponse, error) {
	var q url.Values
	if rels {
		q = url.Values{"includerelationships": {"true"}}
	}
	var s schemaResponse
	if err := d.api.call(ctx, "get business object schema", "GET", "api/V1/getbusinessobjectschema/busobid/"+url.PathEscape(busObID), q, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func objectOf(s *summary, sch *schemaResponse) object {
	o := object{ID: s.BusObID, Name: s.Name, Display: s.DisplayName}
	for _, f := range sch.FieldDefinitions {
		size, _ := strconv.Atoi(f.MaximumSize)
		o.fields = append(o.fields, field{ID: f.FieldID, Name: f.Name, Display: f.DisplayName, ReadOnly: f.ReadOnly, MaxSize: size})
	}
	return o
}

// splitStates parses the states string of a summary ("A,B" or "A|B").
func splitStates(s string) []string {
	var out []string
	for _, x := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' || r == ';' }) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// discover resolves every configured name. Name problems come back as
// *configError; vendor failures as classified errors.
func discover(ctx context.Context, a *api, c *config) (*meta, error) {
	d := &discoverer{api: a}
	m := &meta{severity: map[int][]fieldValue{}}

	sum, err := d.object(ctx, c.BusinessObject)
	if err != nil {
		return nil, err
	}
	if sum == nil {
		return nil, cfgErr("business_object", "Unknown business object", "CSM has no business object named %q.", c.BusinessObject)
	}
	sch, err := d.schema(ctx, sum.BusObID, true)
	if err != nil {
		return nil, err
	}
	m.incident = objectOf(sum, sch)
	inc := &m.incident
	need := func(attr, name string) (field, error) {
		f, ok := inc.field(name)
		if !ok {
			return field{}, cfgErr(attr, "Unknown field", "business object %s has no field %q.", inc.Name, name)
		}
		return f, nil
	}
	if m.short, err = need("business_object", "ShortDescription"); err != nil {
		return nil, err
	}
	if m.desc, err = need("business_object", "Description"); err != nil {
		return nil, err
	}
	if m.closeDesc, err = need("business_object", "CloseDescription"); err != nil {
		return nil, err
	}
	if m.corr, err = need("correlation_field", c.CorrelationField); err != nil {
		return nil, err
	}
	stateID := sum.StateFieldID
	if stateID == "" {
		stateID = sch.StateFieldID
	}
	found := false
	for _, f := range inc.fields {
		if stateID != "" && strings.EqualFold(f.ID, stateID) {
			m.status, found = f, true
		}
	}
	if !found {
		if m.status, err = need("business_object", "Status"); err != nil {
			return nil, err
		}
	}
	m.states = splitStates(sum.States)
	if len(m.states) == 0 {
		m.states = splitStates(sch.States)
	}
	if len(m.states) == 0 {
		return nil, cfgErr("business_object", "No states", "business object %s reports no states; resolve and find need them.", inc.Name)
	}
	for _, st := range []struct{ attr, v string }{{"resolved_status", c.ResolvedStatus}, {"reopened_status", c.ReopenedStatus}} {
		if !containsFold(m.states, st.v) {
			return nil, cfgErr(st.attr, "Unknown status", "%q is not a state of %s (states: %s).", st.v, inc.Name, strings.Join(m.states, ", "))
		}
	}
	for _, s := range c.ClosedStatuses {
		if !containsFold(m.states, s) {
			return nil, cfgErr("closed_statuses", "Unknown status", "%q is not a state of %s (states: %s).", s, inc.Name, strings.Join(m.states, ", "))
		}
	}
	for _, s := range m.states {
		if !strings.EqualFold(s, c.ResolvedStatus) && !containsFold(c.ClosedStatuses, s) {
			m.openStates = append(m.openStates, s)
		}
	}
	if f, ok := inc.field("ConfigItemRecID"); ok {
		m.ciRecID = &f
	}
	if f, ok := inc.field("ConfigItemDisplayName"); ok {
		m.ciName = &f
	}
	for k, fields := range c.SeverityMap {
		sev, _ := strconv.Atoi(k)
		for name, v := range fields {
			f, ok := inc.field(name)
			if !ok {
				return nil, cfgErr("severity_map", "Unknown field", "severity_map[%q] sets %q, which is not a field of %s.", k, name, inc.Name)
			}
			m.severity[sev] = append(m.severity[sev], fieldValue{f, v})
		}
		slices.SortFunc(m.severity[sev], func(a, b fieldValue) int { return strings.Compare(a.f.Name, b.f.Name) })
	}
	for name, v := range c.Fields {
		f, ok := inc.field(name)
		if !ok {
			return nil, cfgErr("fields", "Unknown field", "fields sets %q, which is not a field of %s.", name, inc.Name)
		}
		m.extra = append(m.extra, fieldValue{f, v})
	}
	slices.SortFunc(m.extra, func(a, b fieldValue) int { return strings.Compare(a.f.Name, b.f.Name) })

	// Journals.
	jrel := relByName(sch, c.JournalRelationship)
	if jrel == nil {
		return nil, cfgErr("journal_relationship", "Unknown relationship", "%s has no relationship %q (relationships: %s).", inc.Name, c.JournalRelationship, relNames(sch))
	}
	m.journalRel = jrel.RelationshipID
	jsum, err := d.object(ctx, c.JournalObject)
	if err != nil {
		return nil, err
	}
	if jsum == nil {
		return nil, cfgErr("journal_object", "Unknown business object", "CSM has no business object named %q.", c.JournalObject)
	}
	jsch, err := d.schema(ctx, jsum.BusObID, false)
	if err != nil {
		return nil, err
	}
	m.journal = objectOf(jsum, jsch)
	if m.details, err = fieldOf(&m.journal, "journal_object", "Details"); err != nil {
		return nil, err
	}

	// Configuration items.
	crel := relByName(sch, c.CIRelationship)
	if crel == nil {
		return nil, cfgErr("ci_relationship", "Unknown relationship", "%s has no relationship %q (relationships: %s).", inc.Name, c.CIRelationship, relNames(sch))
	}
	m.ciRel = crel.RelationshipID
	for _, name := range c.CIObjectTypes {
		s, err := d.object(ctx, name)
		if err != nil {
			return nil, err
		}
		if s == nil {
			return nil, cfgErr("ci_object_types", "Unknown business object", "CSM has no configuration item business object named %q.", name)
		}
		sc, err := d.schema(ctx, s.BusObID, false)
		if err != nil {
			return nil, err
		}
		ct := ciType{object: objectOf(s, sc)}
		if ct.resID, err = fieldOf(&ct.object, "ci_resource_id_field", c.CIResourceIDField); err != nil {
			return nil, err
		}
		if ct.name, err = fieldOf(&ct.object, "ci_name_field", c.CINameField); err != nil {
			return nil, err
		}
		m.ciTypes = append(m.ciTypes, ct)
	}
	m.ciCreate = &m.ciTypes[0]
	if c.CICreateType != "" {
		for i := range m.ciTypes {
			if strings.EqualFold(c.CICreateType, m.ciTypes[i].Name) || strings.EqualFold(c.CICreateType, m.ciTypes[i].Display) ||
				strings.EqualFold(c.CICreateType, c.CIObjectTypes[i]) {
				m.ciCreate = &m.ciTypes[i]
			}
		}
	}
	return m, nil
}

func fieldOf(o *object, attr, name string) (field, error) {
	f, ok := o.field(name)
	if !ok {
		return field{}, cfgErr(attr, "Unknown field", "business object %s has no field %q.", o.Display, name)
	}
	return f, nil
}

func relByName(s *schemaResponse, name string) *relationship {
	for i := range s.Relationships {
		if strings.EqualFold(s.Relationships[i].DisplayName, name) {
			return &s.Relationships[i]
		}
	}
	return nil
}

func relNames(s *schemaResponse) string {
	var n []string
	for _, r := range s.Relationships {
		n = append(n, r.DisplayName)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// configureDiag maps a Configure failure to a diagnostic on the attribute at fault.
func configureDiag(err error) sdk.Diagnostic {
	var ce *configError
	if errors.As(err, &ce) {
		return sdk.ErrorDiag(ce.summary, ce.detail, ce.attr)
	}
	var le *loginError
	if errors.As(err, &le) {
		switch le.code {
		case "invalid_client_id":
			return sdk.ErrorDiag("CSM rejected the client id", le.msg, "client_id")
		default:
			return sdk.ErrorDiag("CSM rejected the login", le.msg+" (check username, password and auth_mode)", "password")
		}
	}
	switch st := statusOf(err); {
	case st == 404 || st == 405:
		return sdk.ErrorDiag("CSM REST API not found at url", err.Error()+" (url must be the /CherwellAPI base)", "url")
	case st == 0 || st >= 500:
		return sdk.ErrorDiag("CSM is unreachable", err.Error(), "url")
	}
	return sdk.ErrorDiag("CSM configuration check failed", err.Error(), "url")
}
