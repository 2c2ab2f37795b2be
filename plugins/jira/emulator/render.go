package emulator

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Renderers turn the model into Jira's JSON shapes. All run with e.mu held.

func (e *Emulator) renderStatus(base string, st *status) map[string]any {
	return map[string]any{
		"self":        base + "/rest/api/3/status/" + st.ID,
		"id":          st.ID,
		"name":        st.Name,
		"description": "",
		"iconUrl":     base + "/images/icons/statuses/generic.png",
		"statusCategory": map[string]any{
			"self":      base + "/rest/api/3/statuscategory/" + strconv.Itoa(st.Category.ID),
			"id":        st.Category.ID,
			"key":       st.Category.Key,
			"colorName": st.Category.ColorName,
			"name":      st.Category.Name,
		},
	}
}

func (e *Emulator) renderIssueType(base string, it *issueType) map[string]any {
	return map[string]any{
		"self":           base + "/rest/api/3/issuetype/" + it.ID,
		"id":             it.ID,
		"name":           it.Name,
		"description":    it.Description,
		"iconUrl":        base + "/images/icons/issuetypes/" + strings.ToLower(strings.ReplaceAll(it.Name, " ", "")) + ".png",
		"subtask":        false,
		"hierarchyLevel": 0,
	}
}

func (e *Emulator) renderProjectRef(base string, p *project) map[string]any {
	return map[string]any{
		"self":           base + "/rest/api/3/project/" + p.ID,
		"id":             p.ID,
		"key":            p.Key,
		"name":           p.Name,
		"projectTypeKey": p.TypeKey,
		"simplified":     false,
	}
}

func (e *Emulator) renderPriority(base string, p priority) map[string]any {
	return map[string]any{
		"self":    base + "/rest/api/3/priority/" + p.ID,
		"id":      p.ID,
		"name":    p.Name,
		"iconUrl": base + "/images/icons/priorities/" + strings.ToLower(p.Name) + ".svg",
	}
}

func (e *Emulator) renderResolution(base string, r resolution) map[string]any {
	return map[string]any{
		"self":        base + "/rest/api/3/resolution/" + r.ID,
		"id":          r.ID,
		"name":        r.Name,
		"description": r.Description,
	}
}

func (e *Emulator) renderUser(base string, u *user) map[string]any {
	if u == nil {
		return nil
	}
	return map[string]any{
		"self":         base + "/rest/api/3/user?accountId=" + u.AccountID,
		"accountId":    u.AccountID,
		"accountType":  "atlassian",
		"emailAddress": u.Email,
		"displayName":  u.DisplayName,
		"active":       true,
		"timeZone":     "Etc/UTC",
	}
}

func (e *Emulator) renderComment(base string, is *issue, c comment) map[string]any {
	author := e.renderUser(base, e.users[c.Author])
	return map[string]any{
		"self":         base + "/rest/api/3/issue/" + strconv.Itoa(is.ID) + "/comment/" + c.ID,
		"id":           c.ID,
		"author":       author,
		"updateAuthor": author,
		"body":         c.Body,
		"created":      jiraTime(c.Created),
		"updated":      jiraTime(c.Created),
		"jsdPublic":    c.Public,
	}
}

func (e *Emulator) priorityByID(id string) (priority, bool) {
	for _, p := range e.priorities {
		if p.ID == id {
			return p, true
		}
	}
	return priority{}, false
}

func (e *Emulator) resolutionByID(id string) (resolution, bool) {
	for _, r := range e.resolutions {
		if r.ID == id {
			return r, true
		}
	}
	return resolution{}, false
}

func (e *Emulator) fieldByID(id string) *field {
	for _, f := range e.fields {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// fieldFilter decides which fields an issue representation includes, from
// Jira's `fields` parameter: "*all", "*navigable", ids, "-id" to exclude.
type fieldFilter struct {
	all     bool
	include map[string]bool
	exclude map[string]bool
}

func parseFieldFilter(params []string, def string) fieldFilter {
	var list []string
	for _, p := range params {
		for _, s := range strings.Split(p, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
	}
	if len(list) == 0 {
		list = []string{def}
	}
	f := fieldFilter{include: map[string]bool{}, exclude: map[string]bool{}}
	for _, s := range list {
		switch {
		case s == "*all" || s == "*navigable":
			f.all = true
		case strings.HasPrefix(s, "-"):
			f.exclude[s[1:]] = true
		default:
			f.include[s] = true
		}
	}
	return f
}

func (f fieldFilter) wants(id string) bool {
	if f.exclude[id] {
		return false
	}
	return f.all || f.include[id]
}

func (f fieldFilter) none() bool {
	if f.all {
		return false
	}
	for k := range f.include {
		if k != "id" && k != "key" {
			return false
		}
	}
	return true
}

// renderIssue renders an IssueBean.
func (e *Emulator) renderIssue(base string, is *issue, ff fieldFilter, props []string) map[string]any {
	out := map[string]any{
		"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id":     strconv.Itoa(is.ID),
		"key":    is.Key,
		"self":   base + "/rest/api/3/issue/" + strconv.Itoa(is.ID),
	}
	if !ff.none() {
		fields := map[string]any{}
		// Empty fields are left out rather than sent as null: the
		// description's `fields` values are the schema {}, which in OpenAPI
		// 3.0 does not admit null.
		put := func(id string, v any) {
			if ff.wants(id) && v != nil {
				if m, ok := v.(map[string]any); ok && m == nil {
					return
				}
				fields[id] = v
			}
		}
		p := e.projects[is.ProjectID]
		put("summary", is.Summary)
		if len(is.Description) > 0 {
			put("description", is.Description)
		} else {
			put("description", nil)
		}
		put("issuetype", e.renderIssueType(base, e.issueTypes[is.IssueTypeID]))
		put("project", e.renderProjectRef(base, p))
		put("status", e.renderStatus(base, e.statuses[is.StatusID]))
		if pr, ok := e.priorityByID(is.PriorityID); ok {
			put("priority", e.renderPriority(base, pr))
		} else {
			put("priority", nil)
		}
		put("labels", append([]string{}, is.Labels...))
		if r, ok := e.resolutionByID(is.ResolutionID); ok {
			put("resolution", e.renderResolution(base, r))
			put("resolutiondate", jiraTime(is.ResolutionDate))
		} else {
			put("resolution", nil)
			put("resolutiondate", nil)
		}
		put("created", jiraTime(is.Created))
		put("updated", jiraTime(is.Updated))
		put("reporter", e.renderUser(base, e.users[is.Reporter]))
		if ff.wants("comment") {
			cs := []map[string]any{}
			for _, c := range is.Comments {
				cs = append(cs, e.renderComment(base, is, c))
			}
			fields["comment"] = map[string]any{"comments": cs, "maxResults": len(cs), "total": len(cs), "startAt": 0}
		}
		for _, f := range e.fields {
			if !f.Custom {
				continue
			}
			if v, ok := is.Custom[f.ID]; ok {
				put(f.ID, v)
			} else {
				put(f.ID, nil)
			}
		}
		out["fields"] = fields
	}
	if len(props) > 0 {
		pm := map[string]any{}
		for _, k := range props {
			if v, ok := is.Properties[k]; ok {
				pm[k] = v
			}
		}
		out["properties"] = pm
	}
	return out
}

// renderTransition renders an IssueTransition.
func (e *Emulator) renderTransition(base string, t *transition, withFields bool) map[string]any {
	out := map[string]any{
		"id":            t.ID,
		"name":          t.Name,
		"to":            e.renderStatus(base, e.statuses[t.To]),
		"hasScreen":     len(t.Screen) > 0,
		"isGlobal":      false,
		"isInitial":     false,
		"isAvailable":   true,
		"isConditional": false,
		"isLooped":      false,
	}
	if withFields {
		fields := map[string]any{}
		if t.onScreen("resolution") {
			var allowed []map[string]any
			for _, r := range e.resolutions {
				allowed = append(allowed, e.renderResolution(base, r))
			}
			fields["resolution"] = map[string]any{
				"required":      t.ResolutionRequired,
				"schema":        map[string]any{"type": "resolution", "system": "resolution"},
				"name":          "Resolution",
				"key":           "resolution",
				"operations":    []string{"set"},
				"allowedValues": allowed,
			}
		}
		if t.onScreen("comment") {
			fields["comment"] = map[string]any{
				"required":   false,
				"schema":     map[string]any{"type": "comments-page", "system": "comment"},
				"name":       "Comment",
				"key":        "comment",
				"operations": []string{"add", "edit", "remove"},
			}
		}
		out["fields"] = fields
	}
	return out
}

// propertyKeys lists an issue's property keys, sorted.
func propertyKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
