package emulator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Encoded query support (sysparm_query). The grammar is ServiceNow's:
//
//	query   = block { "^NQ" block }
//	block   = cond { "^" cond | "^OR" cond | "^ORDERBY" field | "^ORDERBYDESC" field }
//	cond    = field operator [value]
//
// Field names are lower case (ServiceNow lower-cases every column name), so the
// operator starts at the first character that cannot be part of a field name.
// A literal caret in a value is written "^^". Comparisons are case-insensitive,
// as on a real instance (its database collation is case-insensitive).

// operators, longest first so that "NOT IN" wins over "IN" etc.
var operators = []string{
	"NOT IN", "NOTLIKE", "STARTSWITH", "ENDSWITH", "ISNOTEMPTY", "ISEMPTY", "EMPTYSTRING", "ANYTHING",
	"LIKE", "IN", "!=", ">=", "<=", "=", ">", "<",
}

// valueless operators take no value.
var valueless = map[string]bool{"ISNOTEMPTY": true, "ISEMPTY": true, "EMPTYSTRING": true, "ANYTHING": true}

// Condition is one parsed condition of an encoded query.
type Condition struct {
	Field, Op, Value string
	// Malformed is set when no operator could be recognised; ServiceNow drops
	// such conditions the same way it drops unknown fields.
	Malformed bool
	Raw       string
}

// OrderTerm is one ORDERBY / ORDERBYDESC term.
type OrderTerm struct {
	Field string
	Desc  bool
}

// Query is a parsed encoded query: Blocks are OR'ed (^NQ); within a block the
// groups are AND'ed (^) and the conditions of a group are OR'ed (^OR).
type Query struct {
	Blocks [][][]Condition
	Order  []OrderTerm
}

// ParseQuery parses an encoded query. It never fails on content ServiceNow
// would accept; malformed conditions are marked and later ignored.
func ParseQuery(s string) Query {
	var q Query
	if strings.TrimSpace(s) == "" {
		return q
	}
	var block [][]Condition
	flush := func() {
		if len(block) > 0 {
			q.Blocks = append(q.Blocks, block)
		}
		block = nil
	}
	for _, tok := range splitCarets(s) {
		switch {
		case tok == "" || tok == "EQ":
			continue
		case tok == "NQ":
			flush()
		case strings.HasPrefix(tok, "NQ"):
			flush()
			block = append(block, []Condition{parseCondition(tok[2:])})
		case strings.HasPrefix(tok, "ORDERBYDESC"):
			q.Order = append(q.Order, OrderTerm{Field: tok[len("ORDERBYDESC"):], Desc: true})
		case strings.HasPrefix(tok, "ORDERBY"):
			q.Order = append(q.Order, OrderTerm{Field: tok[len("ORDERBY"):]})
		case strings.HasPrefix(tok, "OR") && len(block) > 0:
			last := len(block) - 1
			block[last] = append(block[last], parseCondition(tok[2:]))
		default:
			block = append(block, []Condition{parseCondition(tok)})
		}
	}
	flush()
	return q
}

// splitCarets splits on "^", treating "^^" as a literal caret.
func splitCarets(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '^' {
			if i+1 < len(s) && s[i+1] == '^' {
				cur.WriteByte('^')
				i++
				continue
			}
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(out, cur.String())
}

func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

func parseCondition(s string) Condition {
	i := 0
	for i < len(s) && isFieldChar(s[i]) {
		i++
	}
	c := Condition{Field: s[:i], Raw: s}
	rest := s[i:]
	for _, op := range operators {
		if strings.HasPrefix(rest, op) {
			c.Op = op
			c.Value = rest[len(op):]
			if valueless[op] {
				c.Value = ""
			}
			break
		}
	}
	if c.Field == "" || c.Op == "" {
		c.Malformed = true
	}
	return c
}

// compiledQuery is a Query checked against a table: conditions on unknown
// fields are removed (ServiceNow's default) and listed in ignored.
type compiledQuery struct {
	q       Query
	ignored []string
	// none is set when the query must match no row (strict mode with an
	// invalid field).
	none bool
}

// fieldResolver validates a (possibly dot-walked) field name for a table.
type fieldResolver func(table, field string) bool

// compile drops conditions whose field the table does not have. With strict
// (glide.invalid_query.returns_no_rows=true) any such condition makes the
// whole query match nothing instead.
func compile(q Query, table string, valid fieldResolver, strict bool) compiledQuery {
	cq := compiledQuery{}
	for _, block := range q.Blocks {
		var nb [][]Condition
		for _, group := range block {
			var ng []Condition
			for _, c := range group {
				if c.Malformed || !valid(table, c.Field) {
					cq.ignored = append(cq.ignored, c.Raw)
					continue
				}
				ng = append(ng, c)
			}
			if len(ng) > 0 {
				nb = append(nb, ng)
			}
		}
		// A block whose every condition was dropped matches everything,
		// exactly like the real instance after it strips invalid terms.
		cq.q.Blocks = append(cq.q.Blocks, nb)
	}
	for _, o := range q.Order {
		if valid(table, o.Field) {
			cq.q.Order = append(cq.q.Order, o)
		} else {
			cq.ignored = append(cq.ignored, "ORDERBY"+o.Field)
		}
	}
	if strict && len(cq.ignored) > 0 {
		cq.none = true
	}
	return cq
}

// match reports whether the row (read through get) satisfies the query.
func (cq compiledQuery) match(get func(field string) string) bool {
	if cq.none {
		return false
	}
	if len(cq.q.Blocks) == 0 {
		return true
	}
	for _, block := range cq.q.Blocks {
		if matchBlock(block, get) {
			return true
		}
	}
	return false
}

func matchBlock(block [][]Condition, get func(string) string) bool {
	for _, group := range block {
		ok := false
		for _, c := range group {
			if c.eval(get(c.Field)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (c Condition) eval(v string) bool {
	lv, lw := strings.ToLower(v), strings.ToLower(c.Value)
	switch c.Op {
	case "=":
		return lv == lw
	case "!=":
		return lv != lw
	case "LIKE":
		return strings.Contains(lv, lw)
	case "NOTLIKE":
		return !strings.Contains(lv, lw)
	case "STARTSWITH":
		return strings.HasPrefix(lv, lw)
	case "ENDSWITH":
		return strings.HasSuffix(lv, lw)
	case "IN":
		return inList(lv, lw)
	case "NOT IN":
		return !inList(lv, lw)
	case "ISEMPTY", "EMPTYSTRING":
		return v == ""
	case "ISNOTEMPTY":
		return v != ""
	case "ANYTHING":
		return true
	case ">", "<", ">=", "<=":
		cmp := compareValues(v, c.Value)
		switch c.Op {
		case ">":
			return cmp > 0
		case "<":
			return cmp < 0
		case ">=":
			return cmp >= 0
		default:
			return cmp <= 0
		}
	}
	return false
}

func inList(v, list string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.TrimSpace(x) == v {
			return true
		}
	}
	return false
}

// compareValues compares numerically when both sides are numbers, else as
// case-insensitive strings (dates in "2006-01-02 15:04:05" sort as strings).
func compareValues(a, b string) int {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

// sortRows orders rows by the query's ORDERBY terms (stable, so rows without
// an order keep insertion order).
func sortRows[T any](rows []T, order []OrderTerm, get func(T, string) string) {
	if len(order) == 0 {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, o := range order {
			c := compareValues(get(rows[i], o.Field), get(rows[j], o.Field))
			if c == 0 {
				continue
			}
			if o.Desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
}

// String renders the query back in encoded form (used in logs and tests).
func (q Query) String() string {
	var parts []string
	for bi, block := range q.Blocks {
		for gi, group := range block {
			for ci, c := range group {
				s := c.Field + c.Op + c.Value
				if c.Malformed {
					s = c.Raw
				}
				switch {
				case ci > 0:
					s = "OR" + s
				case gi == 0 && bi > 0:
					s = "NQ" + s
				}
				parts = append(parts, strings.ReplaceAll(s, "^", "^^"))
			}
		}
	}
	for _, o := range q.Order {
		if o.Desc {
			parts = append(parts, "ORDERBYDESC"+o.Field)
		} else {
			parts = append(parts, "ORDERBY"+o.Field)
		}
	}
	return strings.Join(parts, "^")
}

// errQuery is returned for sysparm values the emulator cannot use.
func errQuery(format string, args ...any) error { return fmt.Errorf(format, args...) }
