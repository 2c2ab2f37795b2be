package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// ciHit is a configuration item found or created.
type ciHit struct {
	typ   *ciType
	recID string
	name  string
}

// searchCI looks for a CI whose field f equals value in each CI type, in order.
func (rt *runtime) searchCI(ctx context.Context, value string, pick func(*ciType) field) (*ciHit, error) {
	for i := range rt.meta.ciTypes {
		t := &rt.meta.ciTypes[i]
		f := pick(t)
		var out searchResponse
		err := rt.api.call(ctx, "search "+t.Display, "POST", "api/V1/getsearchresults", nil, searchRequest{
			BusObID: t.ID, Filters: []filterInfo{{FieldID: f.ID, Operator: "eq", Value: value}},
			Fields: []string{t.name.ID, t.resID.ID}, PageNumber: 1, PageSize: 1,
		}, &out)
		if err != nil {
			return nil, err
		}
		for _, bo := range out.BusinessObjects {
			if bo.BusObRecID != "" {
				return &ciHit{typ: t, recID: bo.BusObRecID, name: bo.value(t.name)}, nil
			}
		}
	}
	return nil, nil
}

// ciName is the name a CI gets: the item's name, else the resource id's
// last segment.
func ciName(it sdk.ConfigurationItem) string {
	if n := strings.TrimSpace(it.Name); n != "" {
		return n
	}
	id := strings.TrimSuffix(it.ResourceID, "/")
	return id[strings.LastIndex(id, "/")+1:]
}

func (rt *runtime) typeNames() string {
	var n []string
	for _, t := range rt.meta.ciTypes {
		n = append(n, t.Display)
	}
	return strings.Join(n, ", ")
}

// BindCI implements sdk.CIBinder: find the CI by Azure resource id, then by
// name, in ci_object_types; create it in ci_create_type when CreateMissing;
// link it to the ticket through ci_relationship and, for the primary CI, set
// the ticket's ConfigItemRecID / ConfigItemDisplayName.
func (p *Plugin) BindCI(ctx context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error) {
	rt, err := p.rt()
	if err != nil {
		return nil, err
	}
	it := req.Item
	name := ciName(it)
	if it.ResourceID == "" && name == "" {
		return nil, sdk.Permanentf("cherwell bind CI: the configuration item has neither a resource id nor a name")
	}
	parentID := req.Ref.ID
	if parentID == "" {
		rec, err := rt.get(ctx, req.Ref)
		if err != nil {
			return nil, err
		}
		parentID = rec.BusObRecID
	}

	// Serialise find-or-create per CI so two tickets binding a new CI at
	// once do not create it twice.
	unlock, err := p.ciMu.lock(ctx, strings.ToLower(it.ResourceID+"|"+name))
	if err != nil {
		return nil, err
	}
	hit, created, err := rt.findOrCreateCI(ctx, it, name, req.CreateMissing)
	unlock()
	if err != nil {
		return nil, err
	}

	m := rt.meta
	path := "api/V1/linkrelatedbusinessobject/parentbusobid/" + url.PathEscape(m.incident.ID) +
		"/parentbusobrecid/" + url.PathEscape(parentID) + "/relationshipid/" + url.PathEscape(m.ciRel) +
		"/busobid/" + url.PathEscape(hit.typ.ID) + "/busobrecid/" + url.PathEscape(hit.recID)
	if err := rt.api.call(ctx, "link configuration item", "GET", path, nil, nil, nil); err != nil {
		return nil, err
	}
	if req.Primary && m.ciRecID != nil {
		fields := []fieldItem{item(*m.ciRecID, hit.recID)}
		if m.ciName != nil {
			fields = append(fields, item(*m.ciName, truncate(*m.ciName, hit.name)))
		}
		if err := rt.update(ctx, "set configuration item of "+m.incident.Name, parentID, fields...); err != nil {
			return nil, err
		}
	}
	rt.api.log.Info("configuration item bound", "rec_id", parentID, "ci", hit.recID, "ci_type", hit.typ.Display, "created", created)
	return &sdk.CIRef{ID: hit.recID, Name: hit.name, Class: hit.typ.Display, Created: created}, nil
}

func (rt *runtime) findOrCreateCI(ctx context.Context, it sdk.ConfigurationItem, name string, create bool) (*ciHit, bool, error) {
	if it.ResourceID != "" {
		hit, err := rt.searchCI(ctx, it.ResourceID, func(t *ciType) field { return t.resID })
		if err != nil || hit != nil {
			return hit, false, err
		}
	}
	if name != "" {
		hit, err := rt.searchCI(ctx, name, func(t *ciType) field { return t.name })
		if err != nil || hit != nil {
			return hit, false, err
		}
	}
	if !create {
		return nil, false, sdk.Permanentf("cherwell bind CI: no configuration item with %s %q or %s %q in %s (set cmdb { create_missing = true } to create it)",
			rt.cfg.CIResourceIDField, it.ResourceID, rt.cfg.CINameField, name, rt.typeNames())
	}
	t := rt.meta.ciCreate
	fields := []fieldItem{item(t.name, truncate(t.name, name))}
	if it.ResourceID != "" {
		fields = append(fields, item(t.resID, it.ResourceID))
	}
	if f, ok := t.field("Description"); ok && !f.ReadOnly {
		desc := "Azure resource"
		if it.ResourceType != "" {
			desc += " of type " + it.ResourceType
		}
		if it.Subscription != "" {
			desc += fmt.Sprintf(" in subscription %s", it.Subscription)
		}
		if it.ResourceGroup != "" {
			desc += fmt.Sprintf(", resource group %s", it.ResourceGroup)
		}
		fields = append(fields, item(f, truncate(f, desc+"; created by itsmbridge.")))
	}
	var out saveResponse
	if err := rt.api.call(ctx, "create "+t.Display, "POST", "api/V1/savebusinessobject", nil,
		saveRequest{BusObID: t.ID, Fields: fields, Persist: true}, &out); err != nil {
		return nil, false, err
	}
	if out.BusObRecID == "" {
		return nil, false, sdk.Permanentf("cherwell create %s: response carries no busObRecId", t.Display)
	}
	return &ciHit{typ: t, recID: out.BusObRecID, name: truncate(t.name, name)}, true, nil
}
