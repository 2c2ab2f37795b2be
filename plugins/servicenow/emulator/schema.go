package emulator

import "sort"

// fieldKind is the dictionary type of a column; it decides how a value is
// validated on write and rendered on read.
type fieldKind int

const (
	kindString fieldKind = iota
	kindInteger
	kindBoolean
	kindDateTime
	kindReference
	kindChoice
	kindJournal
	kindSysID
)

// fieldDef is one column (a sys_dictionary entry).
type fieldDef struct {
	name    string
	kind    fieldKind
	ref     string            // referenced table for kindReference
	choices map[string]string // value → label for kindChoice
	// maxLen truncates longer values silently, as the instance does.
	maxLen int
}

// tableDef is one table (sys_db_object). Child tables inherit every column of
// their parent, and a query on a parent returns the child rows too (with
// sys_class_name naming the child), exactly like ServiceNow's table hierarchy.
type tableDef struct {
	name         string
	parent       string
	displayField string // column shown as the display value of a reference
	numberPrefix string // "INC" → INC0010001
	fields       map[string]fieldDef
	// identifiers are the IRE identification attributes, tried in order.
	identifiers []string
}

var (
	stateChoices = map[string]string{"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}
	impactChoice = map[string]string{"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}
	prioChoices  = map[string]string{"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low", "5": "5 - Planning"}
	holdChoices  = map[string]string{"1": "Awaiting Caller", "3": "Awaiting Problem", "4": "Awaiting Vendor", "5": "Awaiting Change"}
	opStatus     = map[string]string{"1": "Operational", "2": "Non-Operational", "3": "Repair in Progress", "6": "Retired"}
	installState = map[string]string{"1": "Installed", "3": "In Maintenance", "7": "Retired", "100": "Absent"}
)

func str(name string) fieldDef { return fieldDef{name: name, kind: kindString} }
func ref(name, table string) fieldDef {
	return fieldDef{name: name, kind: kindReference, ref: table}
}
func choice(name string, c map[string]string) fieldDef {
	return fieldDef{name: name, kind: kindChoice, choices: c}
}
func integer(name string) fieldDef  { return fieldDef{name: name, kind: kindInteger} }
func boolean(name string) fieldDef  { return fieldDef{name: name, kind: kindBoolean} }
func datetime(name string) fieldDef { return fieldDef{name: name, kind: kindDateTime} }
func journal(name string) fieldDef  { return fieldDef{name: name, kind: kindJournal} }

// sysFields are on every table.
func sysFields() []fieldDef {
	return []fieldDef{
		{name: "sys_id", kind: kindSysID},
		datetime("sys_created_on"), str("sys_created_by"),
		datetime("sys_updated_on"), str("sys_updated_by"),
		integer("sys_mod_count"), str("sys_tags"),
	}
}

// cloudClasses are the CMDB classes Azure discovery fills, each a child of
// cmdb_ci that defines object_id (the Azure resource id). Base cmdb_ci does
// not have object_id: querying it there is the ignored-field trap.
var cloudClasses = []string{
	"cmdb_ci_vm_instance",
	"cmdb_ci_cloud_database",
	"cmdb_ci_cloud_storage_account",
	"cmdb_ci_kubernetes_cluster",
	"cmdb_ci_cloud_function",
	"cmdb_ci_cloud_load_balancer",
	"cmdb_ci_compute_security_group",
	"cmdb_ci_resource_group",
}

// catalog is the emulator's data dictionary.
type catalog map[string]*tableDef

func newCatalog() catalog {
	c := catalog{}
	add := func(name, parent, display, prefix string, fields ...fieldDef) *tableDef {
		t := &tableDef{name: name, parent: parent, displayField: display, numberPrefix: prefix, fields: map[string]fieldDef{}}
		if parent == "" {
			for _, f := range sysFields() {
				t.fields[f.name] = f
			}
		}
		for _, f := range fields {
			t.fields[f.name] = f
		}
		c[name] = t
		return t
	}
	add("sys_user", "", "name", "",
		str("user_name"), str("name"), str("first_name"), str("last_name"), str("email"), boolean("active"), str("roles"))
	add("sys_user_group", "", "name", "",
		str("name"), str("description"), str("email"), boolean("active"), ref("manager", "sys_user"))
	add("sys_journal_field", "", "value", "",
		str("element"), str("element_id"), str("name"), str("value"))
	add("task", "", "number", "TASK",
		str("number"), str("sys_class_name"), str("short_description"), str("description"),
		choice("state", stateChoices), boolean("active"), choice("impact", impactChoice), choice("urgency", impactChoice),
		choice("priority", prioChoices), ref("assignment_group", "sys_user_group"), ref("assigned_to", "sys_user"),
		ref("cmdb_ci", "cmdb_ci"), ref("business_service", "cmdb_ci_service"), str("correlation_id"), str("correlation_display"),
		journal("comments"), journal("work_notes"), str("contact_type"), datetime("opened_at"), ref("opened_by", "sys_user"),
		datetime("closed_at"), ref("closed_by", "sys_user"), str("close_notes"), str("company"), str("location"),
		datetime("due_date"), boolean("made_sla"), str("upon_approval"), str("watch_list"), str("work_notes_list"))
	c["task"].withMaxLen(100, "correlation_id", "correlation_display")
	c["task"].withMaxLen(160, "short_description")
	c["task"].withMaxLen(40, "number")
	add("incident", "task", "number", "INC",
		ref("caller_id", "sys_user"), str("category"), str("subcategory"), choice("incident_state", stateChoices),
		choice("close_code", nil), datetime("resolved_at"), ref("resolved_by", "sys_user"), integer("reopen_count"),
		datetime("reopened_time"), ref("reopened_by", "sys_user"), choice("severity", impactChoice),
		choice("hold_reason", holdChoices), ref("problem_id", "task"), ref("parent_incident", "incident"),
		integer("business_stc"), integer("calendar_stc"), boolean("knowledge"), str("notify"))
	add("task_ci", "", "ci_item", "",
		ref("task", "task"), ref("ci_item", "cmdb_ci"), boolean("manual_proposed_change"), str("applied_date"))
	add("cmdb_ci", "", "name", "",
		str("name"), str("sys_class_name"), str("correlation_id"), str("discovery_source"),
		choice("operational_status", opStatus), choice("install_status", installState), str("short_description"),
		str("serial_number"), str("asset_tag"), str("ip_address"), str("fqdn"), str("category"), str("subcategory"),
		ref("support_group", "sys_user_group"), ref("managed_by", "sys_user"), ref("owned_by", "sys_user"),
		datetime("first_discovered"), datetime("last_discovered"), str("attributes"), str("company"), str("location"))
	add("cmdb_ci_service", "cmdb_ci", "name", "", str("service_classification"), str("busines_criticality"))
	for _, cls := range cloudClasses {
		t := add(cls, "cmdb_ci", "name", "", str("object_id"), str("state"))
		t.identifiers = []string{"object_id"}
		switch cls {
		case "cmdb_ci_vm_instance":
			t.fields["vm_inst_id"] = str("vm_inst_id")
			t.fields["cpus"] = integer("cpus")
			t.fields["memory"] = integer("memory")
		case "cmdb_ci_cloud_database":
			t.fields["type"] = str("type")
			t.fields["version"] = str("version")
		}
	}
	c["cmdb_ci"].identifiers = []string{"name"}
	c["cmdb_ci_service"].identifiers = []string{"name"}
	return c
}

// field returns the column of table (own or inherited).
func (c catalog) field(table, name string) (fieldDef, bool) {
	for t := c[table]; t != nil; t = c[t.parent] {
		if f, ok := t.fields[name]; ok {
			return f, true
		}
	}
	return fieldDef{}, false
}

// fieldNames lists every column of table (own and inherited), sorted.
func (c catalog) fieldNames(table string) []string {
	seen := map[string]bool{}
	var out []string
	for t := c[table]; t != nil; t = c[t.parent] {
		for n := range t.fields {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// root returns the top of table's hierarchy (where its rows are stored).
func (c catalog) root(table string) string {
	t := c[table]
	for t != nil && t.parent != "" {
		t = c[t.parent]
	}
	if t == nil {
		return ""
	}
	return t.name
}

// isA reports whether class is table or one of its descendants.
func (c catalog) isA(class, table string) bool {
	for t := c[class]; t != nil; t = c[t.parent] {
		if t.name == table {
			return true
		}
	}
	return false
}

// identifiers returns the IRE identification attributes of class.
func (c catalog) identifiers(class string) []string {
	for t := c[class]; t != nil; t = c[t.parent] {
		if len(t.identifiers) > 0 {
			return t.identifiers
		}
	}
	return []string{"name"}
}

// numberPrefix returns the number prefix of class, inherited when unset.
func (c catalog) numberPrefix(class string) string {
	for t := c[class]; t != nil; t = c[t.parent] {
		if t.numberPrefix != "" {
			return t.numberPrefix
		}
	}
	return ""
}

// hasSysClassName reports whether rows of table carry sys_class_name.
func (c catalog) hasSysClassName(table string) bool {
	_, ok := c.field(table, "sys_class_name")
	return ok
}

// isTaskTable reports whether table is task or one of its children.
func (c catalog) isTaskTable(table string) bool { return c.isA(table, "task") }

// label of a choice value, or the value itself when unknown.
func (f fieldDef) choiceLabel(v string) string {
	if l, ok := f.choices[v]; ok {
		return l
	}
	return v
}

// closeCodeField builds the close_code choice column from the configured list.
func closeCodeField(codes []string) fieldDef {
	m := map[string]string{}
	for _, c := range codes {
		m[c] = c
	}
	return fieldDef{name: "close_code", kind: kindChoice, choices: m}
}

// withMaxLen sets the column length of the named fields of t.
func (t *tableDef) withMaxLen(n int, names ...string) {
	for _, name := range names {
		f := t.fields[name]
		f.maxLen = n
		t.fields[name] = f
	}
}
