package normalize

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// The payload is decoded exactly once, by jsontext (the encoding/json/v2
// tokenizer), into a flat arena of nodes that point into the input. Schema
// detection and every parser then walk that tree; nothing is copied until a
// value is actually taken into the alert. This is what keeps normalizing a
// payload cheaper than a plain json.Unmarshal of it (see docs/bench).

// node is one JSON value of a doc.
type node struct {
	start, end   int32 // the value's raw bytes
	kstart, kend int32 // the raw (quoted) member name when the parent is an object
	parent       int32
	first, next  int32 // first child, next sibling; -1 when none
	kind         jsontext.Kind
	kesc         bool // the member name has escapes (rare): compare it unquoted
}

// doc is a parsed JSON text.
type doc struct {
	raw   []byte
	nodes []node
	// base is the JSON path of the string this doc was decoded from, when
	// the doc is JSON that Azure sent encoded inside a string.
	base string
}

// val is a value in a doc; i < 0 is a missing value.
type val struct {
	d *doc
	i int32
}

var missing = val{i: -1}

// errTooLarge guards the int32 offsets.
var errTooLarge = errors.New("payload larger than 2 GiB")

// decodeOpts: duplicate names are legal JSON (the last one wins, as with
// encoding/json) and invalid UTF-8 is accepted as encoding/json accepts it:
// neither is a structural problem, and checking names costs time.
var decodeOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// parser is a pooled decoder plus its node arena.
type parser struct {
	dec  jsontext.Decoder
	doc  doc
	none bytes.Buffer // empty input, so a pooled parser does not pin a payload
}

var parsers = sync.Pool{New: func() any {
	return &parser{doc: doc{nodes: make([]node, 0, 512)}} // a large payload's worth
}}

func getParser() *parser { return parsers.Get().(*parser) }

func putParser(p *parser) {
	if cap(p.doc.nodes) > 1<<16 {
		p.doc.nodes = nil // do not keep a huge arena around
	}
	p.doc.raw = nil
	p.dec.Reset(&p.none)
	parsers.Put(p)
}

// parse decodes raw into p.doc and returns its root. raw must stay unchanged
// while the doc is used.
func (p *parser) parse(raw []byte) (val, error) {
	if len(raw) > math.MaxInt32 {
		return missing, errTooLarge
	}
	p.doc.raw = raw
	p.doc.nodes = p.doc.nodes[:0]
	p.doc.base = ""
	p.dec.Reset(bytes.NewBuffer(raw), decodeOpts...)
	root, err := p.doc.build(&p.dec, -1, -1, -1)
	if err != nil {
		return missing, err
	}
	// Exactly one value: anything but whitespace after it is an error.
	if _, err := p.dec.ReadToken(); err == nil {
		return missing, errors.New("unexpected data after the top-level value")
	} else if !errors.Is(err, io.EOF) {
		return missing, err
	}
	return val{d: &p.doc, i: root}, nil
}

// parseEmbedded decodes JSON that was sent inside a JSON string (Azure does
// this for arrays and objects in several schemas). It allocates a new doc;
// this is the rare path.
func parseEmbedded(text []byte, base string) (val, error) {
	d := &doc{raw: text, base: base}
	dec := jsontext.NewDecoder(bytes.NewBuffer(text), decodeOpts...)
	root, err := d.build(dec, -1, -1, -1)
	if err != nil {
		return missing, err
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return missing, errors.New("unexpected data after the embedded value")
	}
	return val{d: d, i: root}, nil
}

// build reads one value and its children, returning its node index.
func (d *doc) build(dec *jsontext.Decoder, parent, ks, ke int32) (int32, error) {
	k := dec.PeekKind()
	idx := int32(len(d.nodes))
	switch k {
	case '{', '[':
		if _, err := dec.ReadToken(); err != nil {
			return 0, err
		}
		d.nodes = append(d.nodes, node{kind: k, start: int32(dec.InputOffset()) - 1, kstart: ks, kend: ke, parent: parent, first: -1, next: -1})
		prev := int32(-1)
		for {
			pk := dec.PeekKind()
			if pk == '}' || pk == ']' {
				break
			}
			if pk == 0 { // syntax error or EOF: ReadToken reports it
				_, err := dec.ReadToken()
				if err == nil || errors.Is(err, io.EOF) {
					err = errors.New("unexpected end of JSON input")
				}
				return 0, err
			}
			var cks, cke int32 = -1, -1
			esc := false
			if k == '{' {
				name, err := dec.ReadValue()
				if err != nil {
					return 0, err
				}
				cke = int32(dec.InputOffset())
				cks = cke - int32(len(name))
				esc = bytes.IndexByte(name, '\\') >= 0
			}
			c, err := d.build(dec, idx, cks, cke)
			if err != nil {
				return 0, err
			}
			d.nodes[c].kesc = esc
			if prev < 0 {
				d.nodes[idx].first = c
			} else {
				d.nodes[prev].next = c
			}
			prev = c
		}
		if _, err := dec.ReadToken(); err != nil {
			return 0, err
		}
		d.nodes[idx].end = int32(dec.InputOffset())
	default:
		v, err := dec.ReadValue()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("unexpected end of JSON input")
			}
			return 0, err
		}
		end := int32(dec.InputOffset())
		d.nodes = append(d.nodes, node{kind: v.Kind(), start: end - int32(len(v)), end: end, kstart: ks, kend: ke, parent: parent, first: -1, next: -1})
	}
	return idx, nil
}

func (v val) exists() bool { return v.i >= 0 }

func (v val) n() *node { return &v.d.nodes[v.i] }

// kind is the JSON kind ('n', 'f', 't', '"', '0', '{', '['), 0 when missing.
func (v val) kind() jsontext.Kind {
	if v.i < 0 {
		return 0
	}
	return v.n().kind
}

// isNull reports a missing value or JSON null.
func (v val) isNull() bool { k := v.kind(); return k == 0 || k == 'n' }

func (v val) raw() []byte {
	if v.i < 0 {
		return nil
	}
	n := v.n()
	return v.d.raw[n.start:n.end]
}

// first and next iterate the elements of an array or the members of an object.
func (v val) first() val {
	if v.i < 0 || v.n().first < 0 {
		return missing
	}
	return val{d: v.d, i: v.n().first}
}

func (v val) next() val {
	if v.i < 0 || v.n().next < 0 {
		return missing
	}
	return val{d: v.d, i: v.n().next}
}

// name returns the member name of v, unquoted.
func (v val) name() string {
	if v.i < 0 || v.n().kstart < 0 {
		return ""
	}
	n := v.n()
	return unquote(v.d.raw[n.kstart:n.kend])
}

// nameMatch compares v's member name with key, exactly and ignoring ASCII
// case, without allocating. Azure's names are ASCII.
func (v val) nameMatch(key string) (exact, folded bool) {
	n := v.n()
	if n.kesc {
		s := unquote(v.d.raw[n.kstart:n.kend])
		return s == key, strings.EqualFold(s, key)
	}
	inner := v.d.raw[n.kstart+1 : n.kend-1]
	if len(inner) != len(key) {
		return false, false
	}
	if string(inner) == key {
		return true, true
	}
	return false, strings.EqualFold(string(inner), key)
}

// get returns member key of an object (missing for anything else). An exact
// name match wins; otherwise names match case-insensitively, as
// encoding/json matches them, because Azure is not consistent about case
// (isSynthetic / IsSynthetic). With duplicate names the last one wins.
func (v val) get(key string) val {
	if v.kind() != '{' {
		return missing
	}
	exact, folded := missing, missing
	for m := v.first(); m.exists(); m = m.next() {
		e, f := m.nameMatch(key)
		switch {
		case e:
			exact = m
		case f:
			folded = m
		}
	}
	if exact.exists() {
		return exact
	}
	return folded
}

// path is get applied key by key.
func (v val) path(keys ...string) val {
	for _, k := range keys {
		v = v.get(k)
	}
	return v
}

// text returns a scalar as a string: strings unquoted, numbers and booleans as
// written, null and missing as "". ok is false for objects and arrays.
func (v val) text() (s string, ok bool) {
	switch v.kind() {
	case 0, 'n':
		return "", true
	case '"':
		return unquote(v.raw()), true
	case '0', 't', 'f':
		return string(v.raw()), true
	}
	return "", false
}

// unquote decodes a raw JSON string. The tokenizer has validated it already.
func unquote(q []byte) string {
	if len(q) < 2 {
		return ""
	}
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	b, _ := jsontext.AppendUnquote(nil, q) // invalid UTF-8 is replaced, not fatal
	return string(b)
}

// jsonPath renders the location of v for error messages, e.g.
// data.essentials.alertTargetIDs[0].
func (v val) jsonPath() string {
	if v.d == nil {
		return ""
	}
	if v.i < 0 {
		return v.d.base
	}
	var parts []string
	for i := v.i; i >= 0; {
		n := &v.d.nodes[i]
		if n.parent < 0 {
			break
		}
		if n.kstart >= 0 {
			parts = append(parts, "."+unquote(v.d.raw[n.kstart:n.kend]))
		} else {
			idx := 0
			for c := v.d.nodes[n.parent].first; c >= 0 && c != i; c = v.d.nodes[c].next {
				idx++
			}
			parts = append(parts, "["+strconv.Itoa(idx)+"]")
		}
		i = n.parent
	}
	var b strings.Builder
	b.WriteString(v.d.base)
	for j := len(parts) - 1; j >= 0; j-- {
		b.WriteString(parts[j])
	}
	return strings.TrimPrefix(b.String(), ".")
}

// kindName names a JSON kind for error messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case 0:
		return "nothing"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "an unknown value"
}
