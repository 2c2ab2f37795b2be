package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// assetObject is the part of an Assets ObjectScheme the plugin reads.
type assetObject struct {
	ID         string `json:"id"`
	Label      string `json:"label"`
	ObjectKey  string `json:"objectKey"`
	Attributes []struct {
		ObjectTypeAttributeID string `json:"objectTypeAttributeId"`
		ObjectAttributeValues []struct {
			Value string `json:"value"`
		} `json:"objectAttributeValues"`
	} `json:"attributes"`
}

func (o *assetObject) value(attrID string) string {
	for _, a := range o.Attributes {
		if a.ObjectTypeAttributeID == attrID && len(a.ObjectAttributeValues) > 0 {
			return a.ObjectAttributeValues[0].Value
		}
	}
	return ""
}

// aql runs an AQL query and returns the matches.
func (st *state) aql(ctx context.Context, query string) ([]assetObject, error) {
	var resp struct {
		Values []assetObject `json:"values"`
	}
	q := url.Values{"startAt": {"0"}, "maxResults": {"25"}, "includeAttributes": {"true"}}
	err := st.client.doAssets(ctx, "search Assets", http.MethodPost, st.assetsPath(st.assets.workspaceID)+"/object/aql", q, map[string]string{"qlQuery": query}, &resp)
	if err != nil {
		return nil, err
	}
	return resp.Values, nil
}

// aqlString quotes s as an AQL string.
func aqlString(s string) string { return jqlString(s) }

// BindCI implements sdk.CIBinder: find the Azure resource in Assets (by
// resource id, then by name and type), create it when asked, and add it to
// the issue's Assets object field.
func (p *Plugin) BindCI(ctx context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if st.assets == nil {
		return nil, sdk.Permanent(st.assetsErr)
	}
	as := st.assets
	item := req.Item
	name := item.Name
	if name == "" && item.ResourceID != "" {
		name = path.Base(item.ResourceID)
	}
	if item.ResourceID == "" && name == "" {
		return nil, permanentf("bind CI: the item has neither a resource id nor a name")
	}
	issue, err := st.target(ctx, req.Ref, req.TicketKey)
	if err != nil {
		return nil, err
	}
	typeClause := "objectType = " + aqlString(as.objectTypeName)
	var obj *assetObject
	if item.ResourceID != "" {
		hits, err := st.aql(ctx, fmt.Sprintf("%s AND %s = %s", typeClause, aqlString(st.cfg.Assets.ResourceIDAttribute), aqlString(strings.ToLower(item.ResourceID))))
		if err != nil {
			return nil, err
		}
		if len(hits) > 0 {
			obj = &hits[0]
		}
	}
	if obj == nil && name != "" {
		q := fmt.Sprintf("%s AND %s = %s", typeClause, aqlString(st.cfg.Assets.NameAttribute), aqlString(name))
		if as.typeAttr != "" && item.ResourceType != "" {
			q += fmt.Sprintf(" AND %s = %s", aqlString(st.cfg.Assets.TypeAttribute), aqlString(item.ResourceType))
		}
		hits, err := st.aql(ctx, q)
		if err != nil {
			return nil, err
		}
		// A same-named object that records another resource id is another resource.
		for i := range hits {
			rid := hits[i].value(as.ridAttr)
			if rid == "" || item.ResourceID == "" || strings.EqualFold(rid, item.ResourceID) {
				obj = &hits[i]
				break
			}
		}
	}
	created := false
	if obj == nil {
		if !req.CreateMissing {
			return nil, permanentf("bind CI: no %q object in Assets with %s %q or %s %q (set cmdb { create_missing = true } to create it)",
				as.objectTypeName, st.cfg.Assets.ResourceIDAttribute, item.ResourceID, st.cfg.Assets.NameAttribute, name)
		}
		obj, err = st.createObject(ctx, item, name)
		if err != nil {
			return nil, err
		}
		created = true
		st.log.Info("created Assets object", "object", obj.ObjectKey, "resource_id", item.ResourceID)
	}
	ref := map[string]string{"workspaceId": as.workspaceID, "id": as.workspaceID + ":" + obj.ID, "objectId": obj.ID}
	body := map[string]any{"update": map[string]any{as.fieldID: []any{map[string]any{"add": ref}}}}
	if err := st.client.do(ctx, "link Assets object to "+issue, http.MethodPut, "/rest/api/3/issue/"+url.PathEscape(issue), nil, body, nil); err != nil {
		return nil, err
	}
	label := obj.Label
	if label == "" {
		label = name
	}
	return &sdk.CIRef{ID: obj.ID, Name: label, Class: as.objectTypeName, Created: created}, nil
}

func (st *state) createObject(ctx context.Context, item sdk.ConfigurationItem, name string) (*assetObject, error) {
	as := st.assets
	type value struct {
		Value string `json:"value"`
	}
	type attr struct {
		ObjectTypeAttributeID string  `json:"objectTypeAttributeId"`
		ObjectAttributeValues []value `json:"objectAttributeValues"`
	}
	attrs := []attr{{as.nameAttr, []value{{name}}}}
	add := func(id, v string) {
		if id != "" && v != "" {
			attrs = append(attrs, attr{id, []value{{v}}})
		}
	}
	add(as.ridAttr, strings.ToLower(item.ResourceID))
	add(as.typeAttr, item.ResourceType)
	add(as.extraAttrs["Subscription"], item.Subscription)
	add(as.extraAttrs["Resource Group"], item.ResourceGroup)
	var obj assetObject
	body := map[string]any{"objectTypeId": as.objectTypeID, "attributes": attrs, "hasAvatar": false}
	if err := st.client.doAssets(ctx, "create Assets object", http.MethodPost, st.assetsPath(as.workspaceID)+"/object/create", nil, body, &obj); err != nil {
		return nil, err
	}
	return &obj, nil
}
