package emulator

import (
	"fmt"
	"strings"
	"unicode"
)

// The JQL subset: clauses `field op value` joined with AND / OR / NOT and
// parentheses, then an optional ORDER BY. Operators: =, !=, ~, !~, >, >=, <,
// <=, IN (...), NOT IN (...), IS [NOT] EMPTY|NULL. Fields: project, key
// (issuekey, id), issuetype (type), status, statusCategory (category),
// resolution, priority, labels, summary, description, text, created,
// updated, resolutiondate, cf[N], customfield_N, a custom field's name
// (quoted when it has spaces) and issue.property[key].path. Field support
// for each operator follows Jira: a text field supports only ~, !~ and IS.

// jqlExpr is a node of a parsed JQL where clause.
type jqlExpr interface{ isExpr() }

type jqlAnd struct{ L, R jqlExpr }
type jqlOr struct{ L, R jqlExpr }
type jqlNot struct{ X jqlExpr }

// jqlClause is `field op values`.
type jqlClause struct {
	Field  string   // as written (unquoted)
	Op     string   // "=", "!=", "~", "!~", ">", ">=", "<", "<=", "in", "not in", "is", "is not"; AQL: "==", "like", "not like"
	Values []string // IS / IS NOT: nil (EMPTY)
	Pos    int
}

func (jqlAnd) isExpr()     {}
func (jqlOr) isExpr()      {}
func (jqlNot) isExpr()     {}
func (*jqlClause) isExpr() {}

type jqlOrder struct {
	Field string
	Desc  bool
}

// jqlQuery is a parsed JQL query. Where is nil for an unbounded query.
type jqlQuery struct {
	Where jqlExpr
	Order []jqlOrder
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string
	pos  int // 1-based character position
}

// JQLError is a JQL syntax or validation error, with Jira's wording.
type JQLError struct{ Msg string }

func (e *JQLError) Error() string { return e.Msg }

func jqlErrorf(format string, args ...any) error {
	return &JQLError{Msg: fmt.Sprintf(format, args...)}
}

func lexJQL(src string) ([]token, error) {
	var toks []token
	rs := []rune(src)
	i := 0
	for i < len(rs) {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(':
			toks = append(toks, token{tLParen, "(", i + 1})
			i++
		case r == ')':
			toks = append(toks, token{tRParen, ")", i + 1})
			i++
		case r == ',':
			toks = append(toks, token{tComma, ",", i + 1})
			i++
		case r == '"' || r == '\'':
			start := i
			i++
			var b strings.Builder
			closed := false
			for i < len(rs) {
				if rs[i] == '\\' && i+1 < len(rs) {
					b.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if rs[i] == r {
					closed = true
					i++
					break
				}
				b.WriteRune(rs[i])
				i++
			}
			if !closed {
				return nil, jqlErrorf("Error in the JQL Query: The quoted string '%s' has not been completed. (line 1, character %d)", string(rs[start:]), start+1)
			}
			toks = append(toks, token{tString, b.String(), start + 1})
		case r == '=' || r == '~':
			toks = append(toks, token{tOp, string(r), i + 1})
			i++
		case r == '!' || r == '<' || r == '>':
			if i+1 < len(rs) && (rs[i+1] == '=' || (r == '!' && rs[i+1] == '~')) {
				toks = append(toks, token{tOp, string(rs[i : i+2]), i + 1})
				i += 2
				continue
			}
			if r == '!' {
				return nil, jqlErrorf("Error in the JQL Query: The character '!' is a reserved JQL character. (line 1, character %d)", i+1)
			}
			toks = append(toks, token{tOp, string(r), i + 1})
			i++
		default:
			start := i
			depth := 0
			for i < len(rs) {
				c := rs[i]
				if c == '[' {
					depth++
				} else if c == ']' {
					depth--
				} else if depth == 0 && (unicode.IsSpace(c) || strings.ContainsRune("()=,!~<>\"'", c)) {
					break
				}
				i++
			}
			toks = append(toks, token{tWord, string(rs[start:i]), start + 1})
		}
	}
	return append(toks, token{tEOF, "", len(rs) + 1}), nil
}

type jqlParser struct {
	toks []token
	i    int
	aql  bool // accept AQL's ==, LIKE and NOT LIKE
}

func (p *jqlParser) peek() token { return p.toks[p.i] }
func (p *jqlParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *jqlParser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tWord && strings.EqualFold(t.text, kw)
}

// parseJQL parses src into a query.
func parseJQL(src string) (*jqlQuery, error) { return parseQL(src, false) }

// parseAQL parses an Assets query: the same grammar as JQL plus == (case
// sensitive equality), LIKE and NOT LIKE.
func parseAQL(src string) (*jqlQuery, error) { return parseQL(src, true) }

func parseQL(src string, aql bool) (*jqlQuery, error) {
	toks, err := lexJQL(src)
	if err != nil {
		return nil, err
	}
	p := &jqlParser{toks: toks, aql: aql}
	q := &jqlQuery{}
	if !p.isKeyword("order") && p.peek().kind != tEOF {
		if q.Where, err = p.parseOr(); err != nil {
			return nil, err
		}
	}
	if p.isKeyword("order") {
		p.next()
		if !p.isKeyword("by") {
			return nil, p.unexpected("'by'")
		}
		p.next()
		for {
			t := p.next()
			if t.kind != tWord && t.kind != tString {
				return nil, jqlErrorf("Error in the JQL Query: Expecting a field name but got '%s'. (line 1, character %d)", t.text, t.pos)
			}
			o := jqlOrder{Field: t.text}
			if p.isKeyword("asc") {
				p.next()
			} else if p.isKeyword("desc") {
				p.next()
				o.Desc = true
			}
			q.Order = append(q.Order, o)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, jqlErrorf("Error in the JQL Query: Expecting either 'OR' or 'AND' but got '%s'. (line 1, character %d)", t.text, t.pos)
	}
	return q, nil
}

func (p *jqlParser) unexpected(want string) error {
	t := p.peek()
	got := t.text
	if t.kind == tEOF {
		got = "end of query"
	}
	return jqlErrorf("Error in the JQL Query: Expecting %s but got '%s'. (line 1, character %d)", want, got, t.pos)
}

func (p *jqlParser) parseOr() (jqlExpr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") || (p.peek().kind == tWord && p.peek().text == "||") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = jqlOr{l, r}
	}
	return l, nil
}

func (p *jqlParser) parseAnd() (jqlExpr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") || (p.peek().kind == tWord && p.peek().text == "&&") {
		p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = jqlAnd{l, r}
	}
	return l, nil
}

func (p *jqlParser) parseUnary() (jqlExpr, error) {
	if p.isKeyword("not") {
		p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return jqlNot{x}, nil
	}
	if p.peek().kind == tLParen {
		p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected("')'")
		}
		p.next()
		return x, nil
	}
	return p.parseClause()
}

func (p *jqlParser) parseClause() (jqlExpr, error) {
	ft := p.next()
	if ft.kind != tWord && ft.kind != tString {
		p.i--
		return nil, p.unexpected("a field name")
	}
	c := &jqlClause{Field: ft.text, Pos: ft.pos}
	t := p.peek()
	switch {
	case t.kind == tOp:
		p.next()
		c.Op = t.text
		if p.aql && t.text == "=" && p.peek().kind == tOp && p.peek().text == "=" && p.peek().pos == t.pos+1 {
			p.next()
			c.Op = "=="
		}
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		c.Values = []string{v}
	case p.aql && p.isKeyword("like"):
		p.next()
		c.Op = "like"
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		c.Values = []string{v}
	case p.aql && p.isKeyword("not") && p.toks[p.i+1].kind == tWord && strings.EqualFold(p.toks[p.i+1].text, "like"):
		p.next()
		p.next()
		c.Op = "not like"
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		c.Values = []string{v}
	case p.isKeyword("in"):
		p.next()
		c.Op = "in"
		vs, err := p.parseList()
		if err != nil {
			return nil, err
		}
		c.Values = vs
	case p.isKeyword("not"):
		p.next()
		if !p.isKeyword("in") {
			return nil, p.unexpected("'in'")
		}
		p.next()
		c.Op = "not in"
		vs, err := p.parseList()
		if err != nil {
			return nil, err
		}
		c.Values = vs
	case p.isKeyword("is"):
		p.next()
		c.Op = "is"
		if p.isKeyword("not") {
			p.next()
			c.Op = "is not"
		}
		if !p.isKeyword("empty") && !p.isKeyword("null") {
			return nil, p.unexpected("'EMPTY'")
		}
		p.next()
	default:
		return nil, jqlErrorf("Error in the JQL Query: Expecting operator but got '%s'. The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. (line 1, character %d)", t.text, t.pos)
	}
	return c, nil
}

func (p *jqlParser) parseValue() (string, error) {
	t := p.peek()
	if t.kind == tString || t.kind == tWord {
		if t.kind == tWord && isReserved(t.text) {
			return "", p.unexpected("either a value, 'EMPTY' or a function")
		}
		p.next()
		return t.text, nil
	}
	return "", p.unexpected("either a value, 'EMPTY' or a function")
}

func (p *jqlParser) parseList() ([]string, error) {
	if p.peek().kind != tLParen {
		return nil, p.unexpected("'('")
	}
	p.next()
	var out []string
	for {
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if p.peek().kind == tComma {
			p.next()
			continue
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected("')'")
		}
		p.next()
		return out, nil
	}
}

func isReserved(w string) bool {
	switch strings.ToLower(w) {
	case "and", "or", "not", "in", "is", "order", "by", "empty", "null":
		return true
	}
	return false
}
