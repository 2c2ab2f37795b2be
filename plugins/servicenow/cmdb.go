package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

// BindCI implements sdk.CIBinder: find the CI by Azure resource id (the
// id_field of each configured class), then by name; create it through
// identifyreconcile when CreateMissing; then link it to the incident, as
// cmdb_ci when Primary, else as an affected CI (task_ci).
func (p *Plugin) BindCI(ctx context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error) {
	st, err := p.current()
	if err != nil {
		return nil, err
	}
	item := req.Item
	item.ResourceID = strings.TrimSpace(item.ResourceID)
	if item.Name == "" && item.ResourceID != "" {
		item.Name = lastSegment(item.ResourceID)
	}
	if item.ResourceID == "" && item.Name == "" {
		return nil, sdk.Permanentf("servicenow: bind CI: the item has neither a resource id nor a name")
	}
	if req.Ref.ID == "" {
		return nil, sdk.Permanentf("servicenow: bind CI: empty ticket id")
	}
	ci, err := st.findCI(ctx, item)
	if err != nil {
		return nil, err
	}
	if ci == nil {
		if !req.CreateMissing {
			return nil, sdk.Permanent(fmt.Errorf("servicenow: bind CI: %s is not in the CMDB (searched %s in %s%s); set cmdb { create_missing = true } to create it",
				describe(item), st.lookup().IDField, strings.Join(st.searchClasses(item), ", "), nameNote(st, item)))
		}
		if ci, err = st.createCI(ctx, item); err != nil {
			return nil, err
		}
	}
	if err := st.link(ctx, req.Ref.ID, ci.ID, req.Primary); err != nil {
		return nil, err
	}
	st.log.Info("CI bound", "ticket", req.Ref.Number, "ci", ci.ID, "class", ci.Class, "created", ci.Created, "primary", req.Primary)
	return ci, nil
}

func describe(item sdk.ConfigurationItem) string {
	if item.ResourceID != "" {
		return fmt.Sprintf("resource %q", item.ResourceID)
	}
	return fmt.Sprintf("CI named %q", item.Name)
}

func nameNote(st *state, item sdk.ConfigurationItem) string {
	if st.lookup().NameFallback && item.Name != "" {
		return fmt.Sprintf(", then name %q", item.Name)
	}
	return ""
}

func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}

func (st *state) lookup() ciLookupConfig {
	if st.cfg.CILookup != nil {
		return *st.cfg.CILookup
	}
	return defaultCILookup()
}

// classFor is the CI class of an ARM resource type ("" when unmapped).
func (st *state) classFor(resourceType string) string {
	l := st.lookup()
	rt := strings.ToLower(resourceType)
	if c, ok := l.ClassMap[rt]; ok {
		return c
	}
	if c, ok := defaultClassMap[rt]; ok {
		return c
	}
	return l.DefaultClass
}

// searchClasses orders the configured classes with the resource type's own
// class first, so the common case costs one query.
func (st *state) searchClasses(item sdk.ConfigurationItem) []string {
	classes := slices.Clone(st.lookup().Classes)
	if c := st.classFor(item.ResourceType); c != "" {
		if i := slices.Index(classes, c); i > 0 {
			classes = append([]string{c}, slices.Delete(classes, i, i+1)...)
		}
	}
	return classes
}

// findCI looks the item up; (nil, nil) when it is not in the CMDB.
func (st *state) findCI(ctx context.Context, item sdk.ConfigurationItem) (*sdk.CIRef, error) {
	l := st.lookup()
	classes := st.searchClasses(item)
	if item.ResourceID != "" {
		for _, class := range classes {
			rows, err := st.queryCI(ctx, class, l.IDField+"="+queryValue(item.ResourceID), l.IDField)
			if err != nil {
				if isInvalidTable(err) {
					st.log.Warn("CI class does not exist on the instance; skipped", "class", class)
					continue
				}
				return nil, err
			}
			for _, row := range rows {
				v, ok := row[l.IDField]
				if !ok {
					// The class lacks the field: ServiceNow ignored the condition.
					st.log.Warn("CI class has no id field; skipped", "class", class, "field", l.IDField)
					break
				}
				if s, _ := v.(string); strings.EqualFold(s, item.ResourceID) {
					return ciRef(row, class), nil
				}
			}
		}
	}
	if !l.NameFallback || item.Name == "" {
		return nil, nil
	}
	in := classes
	if c := st.classFor(item.ResourceType); c != "" {
		in = []string{c}
	}
	rows, err := st.queryCI(ctx, "cmdb_ci", "name="+queryValue(item.Name)+"^sys_class_nameIN"+strings.Join(in, ",")+"^ORDERBYDESCsys_updated_on", "name")
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if strings.EqualFold(row.str("name"), item.Name) {
			return ciRef(row, ""), nil
		}
	}
	return nil, nil
}

func (st *state) queryCI(ctx context.Context, table, query, field string) ([]ticketRow, error) {
	q := url.Values{
		"sysparm_query":                  {query},
		"sysparm_fields":                 {"sys_id,name,sys_class_name," + field},
		"sysparm_limit":                  {"10"},
		"sysparm_exclude_reference_link": {"true"},
		"sysparm_no_count":               {"true"},
	}
	var res struct {
		Result []ticketRow `json:"result"`
	}
	if err := st.client.call(ctx, http.MethodGet, tablePath(table, ""), q, nil, &res); err != nil {
		return nil, err
	}
	return res.Result, nil
}

func isInvalidTable(err error) bool {
	var se *vendorhttp.StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusBadRequest && strings.Contains(se.Body, "Invalid table")
}

func ciRef(row ticketRow, class string) *sdk.CIRef {
	if c := row.str("sys_class_name"); c != "" {
		class = c
	}
	return &sdk.CIRef{ID: row.str("sys_id"), Name: row.str("name"), Class: class}
}

// ireResponse is the part of identifyreconcile's answer the plugin reads.
type ireResponse struct {
	Result struct {
		Items []struct {
			ClassName string `json:"className"`
			Operation string `json:"operation"`
			SysID     string `json:"sysId"`
			Errors    []struct {
				Error   string `json:"error"`
				Message string `json:"message"`
			} `json:"errors"`
		} `json:"items"`
	} `json:"result"`
}

// createCI inserts the item through the Identification and Reconciliation
// API, which also de-duplicates against CIs the lookup could not see.
func (st *state) createCI(ctx context.Context, item sdk.ConfigurationItem) (*sdk.CIRef, error) {
	l := st.lookup()
	class := st.classFor(item.ResourceType)
	if class == "" {
		return nil, sdk.Permanentf("servicenow: bind CI: no CI class for resource type %q; set ci_lookup.class_map or ci_lookup.default_class", item.ResourceType)
	}
	values := map[string]string{"name": item.Name}
	if item.ResourceID != "" {
		values[l.IDField] = item.ResourceID
	}
	body := map[string]any{
		"items":     []any{map[string]any{"className": class, "values": values}},
		"relations": []any{},
	}
	q := url.Values{"sysparm_data_source": {l.DataSource}}
	var res ireResponse
	if err := st.client.call(ctx, http.MethodPost, "/api/now/identifyreconcile", q, body, &res); err != nil {
		return nil, err
	}
	if len(res.Result.Items) == 0 {
		return nil, sdk.Permanentf("servicenow: identifyreconcile returned no item for %s", describe(item))
	}
	it := res.Result.Items[0]
	if len(it.Errors) > 0 {
		return nil, sdk.Permanentf("servicenow: identifyreconcile could not create %s: %s: %s", describe(item), it.Errors[0].Error, it.Errors[0].Message)
	}
	if !sysIDRe.MatchString(it.SysID) {
		return nil, sdk.Permanentf("servicenow: identifyreconcile returned no sys_id for %s (operation %s)", describe(item), it.Operation)
	}
	return &sdk.CIRef{ID: it.SysID, Name: item.Name, Class: class, Created: it.Operation == "INSERT"}, nil
}

// link sets the incident's cmdb_ci (primary) or adds an affected CI row,
// once.
func (st *state) link(ctx context.Context, incident, ci string, primary bool) error {
	if primary {
		return st.patch(ctx, incident, map[string]string{"cmdb_ci": ci})
	}
	q := url.Values{
		"sysparm_query":    {"task=" + incident + "^ci_item=" + ci},
		"sysparm_fields":   {"sys_id"},
		"sysparm_limit":    {"1"},
		"sysparm_no_count": {"true"},
	}
	var res struct {
		Result []ticketRow `json:"result"`
	}
	if err := st.client.call(ctx, http.MethodGet, tablePath("task_ci", ""), q, nil, &res); err != nil {
		return err
	}
	if len(res.Result) > 0 {
		return nil
	}
	fields := url.Values{"sysparm_fields": {"sys_id"}}
	return st.client.call(ctx, http.MethodPost, tablePath("task_ci", ""), fields, map[string]string{"task": incident, "ci_item": ci}, nil)
}
