package normalize

import "strings"

// ciColumns are the dimensions or result columns that name the resource a
// log alert is about, most specific first.
var ciColumns = []string{"_ResourceId", "ResourceId", "Resource", "Computer"}

// logCIs finds the configuration items of a log alert that carries none:
// the values of the first of ciColumns present as a dimension (in any of
// dims, each an array of {name, value}) or else as a column of the search
// result tables.
func logCIs(c *check, dims []val, tables val) []string {
	for _, col := range ciColumns {
		var out []string
		for _, list := range dims {
			for e := c.array(list).first(); e.exists(); e = e.next() {
				d := c.object(e)
				if strings.EqualFold(strings.TrimSpace(soft(d.get("name"))), col) {
					if s := strings.TrimSpace(c.str(d.get("value"))); s != "" {
						out = append(out, s)
					}
				}
			}
		}
		if len(out) == 0 {
			out = columnValues(c, tables, col)
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// columnValues returns the values of column col in every table.
func columnValues(c *check, tables val, col string) []string {
	var out []string
	for e := c.array(tables).first(); e.exists(); e = e.next() {
		t := c.object(e)
		idx := -1
		i := 0
		for h := c.array(t.get("columns")).first(); h.exists(); h = h.next() {
			if strings.EqualFold(strings.TrimSpace(soft(c.object(h).get("name"))), col) {
				idx = i
				break
			}
			i++
		}
		if idx < 0 {
			continue
		}
		for row := c.array(t.get("rows")).first(); row.exists(); row = row.next() {
			cell := c.array(row).first()
			for j := 0; j < idx && cell.exists(); j++ {
				cell = cell.next()
			}
			if s, ok := cell.text(); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	return out
}

// searchLink returns the best investigation link of a log alert context:
// the filtered results (only the rows that fired) before the full results.
func searchLink(c *check, ctx val) string {
	for cond := c.array(ctx.path("condition", "allOf")).first(); cond.exists(); cond = cond.next() {
		for _, k := range []string{"linkToFilteredSearchResultsUI", "linkToSearchResultsUI"} {
			if s := soft(cond.get(k)); s != "" {
				return s
			}
		}
	}
	for _, k := range []string{"LinkToFilteredSearchResultsUI", "LinkToSearchResults", "LinkToSearchResultsUI"} {
		if s := soft(ctx.get(k)); s != "" {
			return s
		}
	}
	return ""
}
