package emulator

import (
	"encoding/json"
	"time"
)

// Seeded identifiers, exported so tests and the sandbox can refer to them.
const (
	// SeedProjectKey is the JSM service project.
	SeedProjectKey = "OPS"
	// SeedSoftwareProjectKey is a software project with a simpler workflow.
	SeedSoftwareProjectKey = "DEV"
	// SeedServiceDeskID is the service desk of OPS.
	SeedServiceDeskID = "1"
	// SeedRequestTypeID is "Report an incident" in service desk 1.
	SeedRequestTypeID = "11"
	// SeedWorkspaceID is the Assets workspace.
	SeedWorkspaceID = "5c1b7c4e-3f0a-4d5e-9b7a-2f6d1e0a9c31"
	// SeedCorrelationField is a single-line text custom field "Alert correlation".
	SeedCorrelationField = "customfield_10050"
	// SeedAssetsField is the Assets object custom field "Affected CIs".
	SeedAssetsField = "customfield_10060"
	// SeedImpactField is the select custom field "Impact".
	SeedImpactField = "customfield_10004"
	// SeedObjectTypeID is the Assets object type "Azure Resource".
	SeedObjectTypeID = "10"
)

// statusCategory is one of Jira's three status categories (id, key, name).
type statusCategory struct {
	ID        int
	Key       string
	Name      string
	ColorName string
}

var (
	catNew           = statusCategory{2, "new", "To Do", "blue-gray"}
	catIndeterminate = statusCategory{4, "indeterminate", "In Progress", "yellow"}
	catDone          = statusCategory{3, "done", "Done", "green"}
)

type status struct {
	ID       string
	Name     string
	Category statusCategory
}

type transition struct {
	ID   string
	Name string
	From []string // status ids the transition is available from
	To   string   // status id
	// Screen lists the fields on the transition screen ("resolution", "comment").
	Screen []string
	// ResolutionRequired makes the resolution mandatory on the screen.
	ResolutionRequired bool
	// PostResolution is set by a post-function when there is no resolution on
	// the screen (empty: leave the resolution alone).
	PostResolution string
	// ClearsResolution empties the resolution (reopen transitions).
	ClearsResolution bool
	// AgentOnly hides the transition from JSM customer transitions.
	AgentOnly bool
}

func (t *transition) onScreen(field string) bool {
	for _, f := range t.Screen {
		if f == field {
			return true
		}
	}
	return false
}

type workflow struct {
	Name        string
	Initial     string
	Transitions []*transition
}

type issueType struct {
	ID          string
	Name        string
	Description string
}

type project struct {
	ID            string
	Key           string
	Name          string
	TypeKey       string // service_desk | software
	IssueTypes    []string
	Workflows     map[string]*workflow // by issue type id
	ServiceDeskID string
	nextNum       int
}

type fieldSchema struct {
	Type     string
	Items    string
	System   string
	Custom   string
	CustomID int
}

type field struct {
	ID      string
	Name    string
	Custom  bool
	Schema  fieldSchema
	Options []option // select fields
	Clauses []string
	// Editable fields can be set on create and edit screens.
	Editable bool
}

type option struct {
	ID    string
	Value string
}

type priority struct {
	ID   string
	Name string
}

type resolution struct {
	ID          string
	Name        string
	Description string
}

type requestTypeField struct {
	FieldID  string
	Name     string
	Required bool
}

type requestType struct {
	ID            string
	Name          string
	Description   string
	ServiceDeskID string
	IssueTypeID   string
	Fields        []requestTypeField
}

func (rt *requestType) field(id string) *requestTypeField {
	for i := range rt.Fields {
		if rt.Fields[i].FieldID == id {
			return &rt.Fields[i]
		}
	}
	return nil
}

type comment struct {
	ID      string
	Body    json.RawMessage // ADF document
	Public  bool
	Author  string // account id
	Created time.Time
}

// issue is one Jira issue. Snapshots of it (copies) feed the search index.
type issue struct {
	ID             int
	Key            string
	ProjectID      string
	IssueTypeID    string
	StatusID       string
	Summary        string
	Description    json.RawMessage // ADF or nil
	PriorityID     string
	Labels         []string
	ResolutionID   string
	ResolutionDate time.Time
	Created        time.Time
	Updated        time.Time
	Reporter       string
	RequestTypeID  string
	Custom         map[string]json.RawMessage
	Properties     map[string]json.RawMessage
	Comments       []comment
}

// clone copies the issue deeply enough for a search snapshot: maps and
// slices are copied, RawMessage values are never mutated in place.
func (is *issue) clone() *issue {
	c := *is
	c.Labels = append([]string(nil), is.Labels...)
	c.Custom = make(map[string]json.RawMessage, len(is.Custom))
	for k, v := range is.Custom {
		c.Custom[k] = v
	}
	c.Properties = make(map[string]json.RawMessage, len(is.Properties))
	for k, v := range is.Properties {
		c.Properties[k] = v
	}
	c.Comments = append([]comment(nil), is.Comments...)
	return &c
}

// snapshot is what the search index knows of an issue from At on.
type snapshot struct {
	At    time.Time
	Issue *issue
}

type user struct {
	AccountID   string
	Name        string
	Email       string
	DisplayName string
	APIToken    string
	Properties  map[string]json.RawMessage
}

// Assets model.

type objectSchema struct {
	ID   string
	Name string
	Key  string
}

type objectTypeAttr struct {
	ID     string
	Name   string
	Label  bool
	System bool
}

type objectType struct {
	ID       string
	Name     string
	SchemaID string
	Attrs    []objectTypeAttr
}

func (ot *objectType) attrByName(name string) *objectTypeAttr {
	for i := range ot.Attrs {
		if equalFold(ot.Attrs[i].Name, name) {
			return &ot.Attrs[i]
		}
	}
	return nil
}

func (ot *objectType) attrByID(id string) *objectTypeAttr {
	for i := range ot.Attrs {
		if ot.Attrs[i].ID == id {
			return &ot.Attrs[i]
		}
	}
	return nil
}

type assetObject struct {
	ID      string
	Key     string
	TypeID  string
	Values  map[string]string // attribute id → value (single-valued)
	Created time.Time
	Updated time.Time
}

// seed builds the initial site. It is called by New and Reset with the lock held.
func (e *Emulator) seed() {
	e.statuses = map[string]*status{
		"1":     {"1", "Open", catNew},
		"10001": {"10001", "Work in progress", catIndeterminate},
		"10002": {"10002", "Pending", catIndeterminate},
		"5":     {"5", "Resolved", catDone},
		"6":     {"6", "Closed", catDone},
		"10000": {"10000", "To Do", catNew},
		"3":     {"3", "In Progress", catIndeterminate},
		"10003": {"10003", "Done", catDone},
	}
	// The JSM incident workflow: ids are three-digit numbers unrelated to the
	// names, and "Resolve" has a different id depending on where it starts.
	incident := &workflow{Name: "ITSM incident workflow", Initial: "1", Transitions: []*transition{
		{ID: "911", Name: "Start work", From: []string{"1", "10002"}, To: "10001", AgentOnly: true},
		{ID: "921", Name: "Pending", From: []string{"1", "10001"}, To: "10002", AgentOnly: true},
		{ID: "761", Name: "Resolve", From: []string{"1"}, To: "5", Screen: []string{"resolution", "comment"}, ResolutionRequired: true},
		{ID: "781", Name: "Resolve", From: []string{"10001", "10002"}, To: "5", Screen: []string{"resolution", "comment"}, ResolutionRequired: true},
		{ID: "831", Name: "Cancel", From: []string{"1", "10001", "10002"}, To: "6", PostResolution: "10001", AgentOnly: true},
		{ID: "801", Name: "Reopen", From: []string{"5"}, To: "1", ClearsResolution: true},
		{ID: "821", Name: "Close", From: []string{"5"}, To: "6", AgentOnly: true},
	}}
	// A simple workflow (software projects and service requests): no screens,
	// the resolution is set by a post-function.
	simple := func() *workflow {
		return &workflow{Name: "Simplified workflow", Initial: "10000", Transitions: []*transition{
			{ID: "11", Name: "Start", From: []string{"10000"}, To: "3"},
			{ID: "31", Name: "Done", From: []string{"10000"}, To: "10003", PostResolution: "10000"},
			{ID: "41", Name: "Done", From: []string{"3"}, To: "10003", PostResolution: "10000"},
			{ID: "51", Name: "Reopen", From: []string{"10003"}, To: "10000", ClearsResolution: true},
		}}
	}
	e.issueTypes = map[string]*issueType{
		"10002": {"10002", "Incident", "For system outages or incidents. Created by Jira Service Management."},
		"10003": {"10003", "Service request", "Requests for help."},
		"10004": {"10004", "Task", "A small, distinct piece of work."},
		"10005": {"10005", "Bug", "A problem or error."},
	}
	e.projects = map[string]*project{
		"10000": {ID: "10000", Key: "OPS", Name: "IT Operations", TypeKey: "service_desk", IssueTypes: []string{"10002", "10003"},
			Workflows: map[string]*workflow{"10002": incident, "10003": simple()}, ServiceDeskID: SeedServiceDeskID},
		"10001": {ID: "10001", Key: "DEV", Name: "Platform Development", TypeKey: "software", IssueTypes: []string{"10004", "10005"},
			Workflows: map[string]*workflow{"10004": simple(), "10005": simple()}},
	}
	e.priorities = []priority{{"1", "Highest"}, {"2", "High"}, {"3", "Medium"}, {"4", "Low"}, {"5", "Lowest"}}
	e.resolutions = []resolution{
		{"10000", "Done", "Work has been completed on this issue."},
		{"10001", "Won't Do", "This issue won't be actioned."},
		{"10002", "Duplicate", "The problem is a duplicate of an existing issue."},
		{"10003", "Cannot Reproduce", "This issue could not be reproduced."},
	}
	e.fields = []*field{
		{ID: "summary", Name: "Summary", Schema: fieldSchema{Type: "string", System: "summary"}, Clauses: []string{"summary"}, Editable: true},
		{ID: "description", Name: "Description", Schema: fieldSchema{Type: "string", System: "description"}, Clauses: []string{"description"}, Editable: true},
		{ID: "issuetype", Name: "Issue Type", Schema: fieldSchema{Type: "issuetype", System: "issuetype"}, Clauses: []string{"issuetype", "type"}},
		{ID: "project", Name: "Project", Schema: fieldSchema{Type: "project", System: "project"}, Clauses: []string{"project"}},
		{ID: "status", Name: "Status", Schema: fieldSchema{Type: "status", System: "status"}, Clauses: []string{"status"}},
		{ID: "priority", Name: "Priority", Schema: fieldSchema{Type: "priority", System: "priority"}, Clauses: []string{"priority"}, Editable: true},
		{ID: "labels", Name: "Labels", Schema: fieldSchema{Type: "array", Items: "string", System: "labels"}, Clauses: []string{"labels"}, Editable: true},
		{ID: "resolution", Name: "Resolution", Schema: fieldSchema{Type: "resolution", System: "resolution"}, Clauses: []string{"resolution"}},
		{ID: "resolutiondate", Name: "Resolved", Schema: fieldSchema{Type: "datetime", System: "resolutiondate"}, Clauses: []string{"resolutiondate", "resolved"}},
		{ID: "created", Name: "Created", Schema: fieldSchema{Type: "datetime", System: "created"}, Clauses: []string{"created", "createdDate"}},
		{ID: "updated", Name: "Updated", Schema: fieldSchema{Type: "datetime", System: "updated"}, Clauses: []string{"updated", "updatedDate"}},
		{ID: "reporter", Name: "Reporter", Schema: fieldSchema{Type: "user", System: "reporter"}, Clauses: []string{"reporter"}},
		{ID: "comment", Name: "Comment", Schema: fieldSchema{Type: "comments-page", System: "comment"}, Clauses: []string{"comment"}},
		{ID: SeedImpactField, Name: "Impact", Custom: true, Editable: true,
			Schema:  fieldSchema{Type: "option", Custom: "com.atlassian.jira.plugin.system.customfieldtypes:select", CustomID: 10004},
			Options: []option{{"10010", "Extensive / Widespread"}, {"10011", "Significant / Large"}, {"10012", "Moderate / Limited"}, {"10013", "Minor / Localized"}},
			Clauses: []string{"cf[10004]", "Impact"}},
		{ID: SeedCorrelationField, Name: "Alert correlation", Custom: true, Editable: true,
			Schema:  fieldSchema{Type: "string", Custom: "com.atlassian.jira.plugin.system.customfieldtypes:textfield", CustomID: 10050},
			Clauses: []string{"cf[10050]", "Alert correlation"}},
		{ID: SeedAssetsField, Name: "Affected CIs", Custom: true, Editable: true,
			Schema:  fieldSchema{Type: "array", Items: "cmdb-object", Custom: "com.atlassian.jira.plugins.cmdb:cmdb-object-cftype", CustomID: 10060},
			Clauses: []string{"cf[10060]", "Affected CIs"}},
	}
	e.requestTypes = []*requestType{
		{ID: SeedRequestTypeID, Name: "Report an incident", Description: "Let us know about an outage or a problem.", ServiceDeskID: SeedServiceDeskID, IssueTypeID: "10002",
			Fields: []requestTypeField{
				{"summary", "Summary", true}, {"description", "Description", false}, {"priority", "Priority", false},
				{"labels", "Labels", false}, {SeedImpactField, "Impact", false},
				{SeedCorrelationField, "Alert correlation", false}, {SeedAssetsField, "Affected CIs", false},
			}},
		{ID: "12", Name: "Get IT help", Description: "Get assistance for general IT problems and questions.", ServiceDeskID: SeedServiceDeskID, IssueTypeID: "10003",
			Fields: []requestTypeField{{"summary", "What do you need?", true}, {"description", "Why do you need this?", false}}},
	}
	e.issues = map[string]*issue{}
	e.issuesByID = map[int]*issue{}
	e.index = map[int][]snapshot{}
	e.nextIssueID = 10000
	e.nextCommentID = 10000
	e.users = map[string]*user{}
	e.agent()
	// Assets.
	e.schemas = []objectSchema{{ID: "1", Name: "Azure", Key: "AZ"}}
	e.objectTypes = map[string]*objectType{
		SeedObjectTypeID: {ID: SeedObjectTypeID, Name: "Azure Resource", SchemaID: "1", Attrs: []objectTypeAttr{
			{ID: "100", Name: "Key", System: true}, {ID: "101", Name: "Name", Label: true},
			{ID: "102", Name: "Created", System: true}, {ID: "103", Name: "Updated", System: true},
			{ID: "104", Name: "Resource ID"}, {ID: "105", Name: "Resource Type"},
			{ID: "106", Name: "Subscription"}, {ID: "107", Name: "Resource Group"},
		}},
		"11": {ID: "11", Name: "Business Service", SchemaID: "1", Attrs: []objectTypeAttr{
			{ID: "110", Name: "Key", System: true}, {ID: "111", Name: "Name", Label: true},
			{ID: "112", Name: "Created", System: true}, {ID: "113", Name: "Updated", System: true},
			{ID: "114", Name: "Owner"},
		}},
	}
	e.objects = map[string]*assetObject{}
	e.nextObjectID = 1
}
