package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Field types as CSM reports them in fieldDefinitions.
const (
	typeText     = "Text"
	typeNumber   = "Number"
	typeDateTime = "DateTime"
	typeLogical  = "Logical"
)

// Names of the seeded business objects and relationships.
const (
	IncidentObject      = "Incident"
	JournalObject       = "Journal"
	JournalNoteObject   = "JournalNote"
	ConfigItemObject    = "ConfigItem"
	JournalRelationship = "Incident Owns Journals"
	CIRelationship      = "Incident Links Configuration Items"
	// ResourceIDField is the ConfigItem attribute holding the Azure resource id.
	ResourceIDField = "AzureResourceID"
	// CINameField is the ConfigItem name attribute.
	CINameField = "FriendlyName"
)

// Incident states, in the order CSM lists them.
var incidentStates = []string{"New", "Assigned", "In Progress", "Pending", "Resolved", "Closed", "Reopened"}

// fieldDef is one field of a business object.
type fieldDef struct {
	id          string
	name        string
	displayName string
	typ         string
	required    bool
	readOnly    bool
	def         string   // template default
	maxSize     int      // 0: unbounded
	allowed     []string // validated values; nil: any
}

// relDef is a relationship of a business object.
type relDef struct {
	id          string
	displayName string
	target      *boDef
	cardinality string
	description string
}

// boDef is a business object type (or a group of types).
type boDef struct {
	id          string
	name        string // internal name, e.g. "ConfigServer"
	displayName string // e.g. "Config - Server"
	major       bool
	supporting  bool
	lookup      bool
	group       bool
	parent      *boDef
	members     []*boDef
	fields      []*fieldDef
	byID        map[string]*fieldDef
	byName      map[string]*fieldDef // lower-cased name
	stateField  *fieldDef
	states      []string
	publicID    *fieldDef // field holding the public id; nil: the rec id is the public id
	rels        []*relDef
}

func (b *boDef) recIDField() *fieldDef { return b.byName["recid"] }

// field finds a field by bare id, by the long form "BO:<busObId>,FI:<fieldId>"
// or (when byName) by name.
func (b *boDef) field(idOrName string, byName bool) *fieldDef {
	id := idOrName
	if strings.HasPrefix(id, "BO:") {
		if _, fi, ok := strings.Cut(id, ",FI:"); ok {
			id = fi
		}
	}
	if f := b.byID[strings.ToLower(id)]; f != nil {
		return f
	}
	if byName {
		return b.byName[strings.ToLower(idOrName)]
	}
	return nil
}

// isA reports whether b is t or a member of the group t.
func (b *boDef) isA(t *boDef) bool {
	for x := b; x != nil; x = x.parent {
		if x == t {
			return true
		}
	}
	return false
}

// hexID derives a stable 42-character hex id from a kind and a name, so ids
// survive resets and restarts (real CSM ids are opaque 42-hex strings too).
func hexID(kind, name string) string {
	sum := sha256.Sum256([]byte(kind + ":" + strings.ToLower(name)))
	return hex.EncodeToString(sum[:])[:42]
}

// catalog holds every business object definition.
type catalog struct {
	objects []*boDef // groups and stand-alone objects, in listing order
	byID    map[string]*boDef
	byName  map[string]*boDef // lower-cased internal name
	rels    map[string]*relDef
}

func (c *catalog) add(b *boDef) {
	c.byID[b.id] = b
	c.byName[strings.ToLower(b.name)] = b
}

// all returns every object type, groups followed by their members.
func (c *catalog) all() []*boDef {
	var out []*boDef
	for _, b := range c.objects {
		out = append(out, b)
		out = append(out, b.members...)
	}
	return out
}

type fieldSpec struct {
	name, display, typ string
	required, readOnly bool
	def                string
	maxSize            int
	allowed            []string
}

func mkFields(owner string, specs []fieldSpec) []*fieldDef {
	out := make([]*fieldDef, 0, len(specs))
	for _, s := range specs {
		out = append(out, &fieldDef{
			id: hexID("FI", owner+"."+s.name), name: s.name, displayName: s.display, typ: s.typ,
			required: s.required, readOnly: s.readOnly, def: s.def, maxSize: s.maxSize, allowed: s.allowed,
		})
	}
	return out
}

func newBO(name, display string, fields []*fieldDef) *boDef {
	b := &boDef{id: hexID("BO", name), name: name, displayName: display, fields: fields}
	b.index()
	return b
}

func (b *boDef) index() {
	b.byID = map[string]*fieldDef{}
	b.byName = map[string]*fieldDef{}
	for _, f := range b.fields {
		b.byID[f.id] = f
		b.byName[strings.ToLower(f.name)] = f
	}
}

// newCatalog builds the seeded CSM object model. correlationField names the
// site-added Incident field that holds the bridge's ticket key.
func newCatalog(correlationField string) *catalog {
	c := &catalog{byID: map[string]*boDef{}, byName: map[string]*boDef{}, rels: map[string]*relDef{}}
	priorities := []string{"1", "2", "3", "4", "5"}

	common := []fieldSpec{
		{name: "RecID", display: "RecID", typ: typeText, readOnly: true},
		{name: "CreatedDateTime", display: "Created Date Time", typ: typeDateTime, readOnly: true},
		{name: "LastModifiedDateTime", display: "Last Modified Date Time", typ: typeDateTime, readOnly: true},
	}

	incident := newBO(IncidentObject, "Incident", mkFields(IncidentObject, append(append([]fieldSpec{}, common...), []fieldSpec{
		{name: "IncidentID", display: "Incident ID", typ: typeNumber, readOnly: true},
		{name: "ShortDescription", display: "Short Description", typ: typeText, required: true, maxSize: 250},
		{name: "Description", display: "Description", typ: typeText, required: true},
		{name: "Priority", display: "Priority", typ: typeNumber, required: true, def: "3", allowed: priorities},
		{name: "Impact", display: "Impact", typ: typeText},
		{name: "Urgency", display: "Urgency", typ: typeText},
		{name: "Status", display: "Status", typ: typeText, required: true, def: "New", allowed: incidentStates},
		{name: "CloseDescription", display: "Close Description", typ: typeText},
		{name: "ClosedDateTime", display: "Closed Date Time", typ: typeDateTime, readOnly: true},
		{name: "ConfigItemRecID", display: "Config Item Rec ID", typ: typeText},
		{name: "ConfigItemDisplayName", display: "Config Item Display Name", typ: typeText},
		{name: "Service", display: "Service", typ: typeText},
		{name: "Category", display: "Category", typ: typeText},
		{name: "Subcategory", display: "Subcategory", typ: typeText},
		{name: "Source", display: "Call Source", typ: typeText, def: "Event"},
		{name: "IncidentType", display: "Incident Type", typ: typeText, def: "Incident", allowed: []string{"Incident", "Service Request"}},
		{name: "OwnedByTeam", display: "Owned By Team", typ: typeText},
		{name: "OwnedBy", display: "Owned By", typ: typeText},
		{name: "CustomerDisplayName", display: "Requestor", typ: typeText},
		{name: correlationField, display: "Correlation ID", typ: typeText, maxSize: 255},
	}...)))
	incident.major = true
	incident.stateField = incident.byName["status"]
	incident.states = incidentStates
	incident.publicID = incident.byName["incidentid"]

	// Journal group: members share the group's fields (same ids), as in CSM.
	journalFields := []fieldSpec{
		{name: "RecID", display: "RecID", typ: typeText, readOnly: true},
		{name: "CreatedDateTime", display: "Created Date Time", typ: typeDateTime, readOnly: true},
		{name: "LastModifiedDateTime", display: "Last Modified Date Time", typ: typeDateTime, readOnly: true},
		{name: "Details", display: "Details", typ: typeText, required: true},
		{name: "JournalTypeID", display: "Journal TypeID", typ: typeText},
		{name: "JournalTypeName", display: "Journal Type Name", typ: typeText, readOnly: true},
		{name: "ParentRecID", display: "Parent RecID", typ: typeText, readOnly: true},
		{name: "ParentTypeName", display: "Parent Type Name", typ: typeText, readOnly: true},
	}
	journal := newBO(JournalObject, "Journal", mkFields(JournalObject, journalFields))
	journal.group, journal.supporting = true, true
	for _, m := range []struct{ name, display string }{{JournalNoteObject, "Journal - Note"}, {"JournalMailHistory", "Journal - Mail History"}} {
		mem := newBO(m.name, m.display, append([]*fieldDef{}, journal.fields...))
		mem.supporting, mem.parent = true, journal
		journal.members = append(journal.members, mem)
	}

	ciFields := []fieldSpec{
		{name: "RecID", display: "RecID", typ: typeText, readOnly: true},
		{name: "CreatedDateTime", display: "Created Date Time", typ: typeDateTime, readOnly: true},
		{name: "LastModifiedDateTime", display: "Last Modified Date Time", typ: typeDateTime, readOnly: true},
		{name: CINameField, display: "Friendly Name", typ: typeText, required: true, maxSize: 250},
		{name: "ConfigItemTypeName", display: "Configuration Item Type", typ: typeText, readOnly: true},
		{name: ResourceIDField, display: "Azure Resource ID", typ: typeText, maxSize: 1024},
		{name: "Description", display: "Description", typ: typeText},
		{name: "Status", display: "Status", typ: typeText, def: "Active", allowed: []string{"Active", "Inactive", "Retired"}},
		{name: "Location", display: "Location", typ: typeText},
		{name: "OwnedByTeam", display: "Owned By Team", typ: typeText},
	}
	ci := newBO(ConfigItemObject, "Configuration Item", mkFields(ConfigItemObject, ciFields))
	ci.group, ci.major = true, true
	for _, m := range []struct {
		name, display string
		extra         []fieldSpec
	}{
		{"ConfigServer", "Config - Server", []fieldSpec{{name: "HostName", display: "Host Name", typ: typeText}, {name: "OperatingSystem", display: "Operating System", typ: typeText}, {name: "IPAddress", display: "IP Address", typ: typeText}}},
		{"ConfigComputer", "Config - Computer", []fieldSpec{{name: "HostName", display: "Host Name", typ: typeText}, {name: "OperatingSystem", display: "Operating System", typ: typeText}}},
		{"ConfigNetworkDevice", "Config - Network Device", []fieldSpec{{name: "IPAddress", display: "IP Address", typ: typeText}}},
		{"ConfigCloudResource", "Config - Cloud Resource", []fieldSpec{{name: "ResourceType", display: "Resource Type", typ: typeText}, {name: "Subscription", display: "Subscription", typ: typeText}, {name: "ResourceGroup", display: "Resource Group", typ: typeText}}},
	} {
		fs := append(append([]*fieldDef{}, ci.fields...), mkFields(m.name, m.extra)...)
		mem := newBO(m.name, m.display, fs)
		mem.major, mem.parent = true, ci
		ci.members = append(ci.members, mem)
	}

	c.objects = []*boDef{incident, journal, ci}
	for _, b := range c.all() {
		c.add(b)
	}

	addRel := func(owner *boDef, display string, target *boDef, card string) {
		r := &relDef{id: hexID("RE", display), displayName: display, target: target, cardinality: card,
			description: display}
		owner.rels = append(owner.rels, r)
		c.rels[r.id] = r
	}
	addRel(incident, JournalRelationship, journal, "OneToMany")
	addRel(incident, CIRelationship, ci, "ManyToMany")
	return c
}
