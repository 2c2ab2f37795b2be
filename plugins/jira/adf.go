package main

import "strings"

// adfNode is a node of an Atlassian Document Format document.
type adfNode struct {
	Type    string    `json:"type"`
	Version int       `json:"version,omitempty"`
	Text    string    `json:"text,omitempty"`
	Content []adfNode `json:"content,omitempty"`
	Marks   []adfMark `json:"marks,omitempty"`
}

type adfMark struct {
	Type  string            `json:"type"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// textToADF renders plain text as an ADF document: blank lines separate
// paragraphs, single newlines become hard breaks and http(s) URLs become
// links, so a ticket always leads a human back to the alert.
func textToADF(s string) adfNode {
	doc := adfNode{Type: "doc", Version: 1, Content: []adfNode{}}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, para := range strings.Split(s, "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		p := adfNode{Type: "paragraph"}
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				p.Content = append(p.Content, adfNode{Type: "hardBreak"})
			}
			p.Content = append(p.Content, textWithLinks(line)...)
		}
		doc.Content = append(doc.Content, p)
	}
	return doc
}

// textWithLinks splits a line into text nodes, marking URLs as links.
func textWithLinks(line string) []adfNode {
	var out []adfNode
	for line != "" {
		i := strings.Index(line, "https://")
		if j := strings.Index(line, "http://"); j >= 0 && (i < 0 || j < i) {
			i = j
		}
		if i < 0 {
			out = append(out, adfNode{Type: "text", Text: line})
			break
		}
		if i > 0 {
			out = append(out, adfNode{Type: "text", Text: line[:i]})
		}
		end := strings.IndexAny(line[i:], " \t")
		if end < 0 {
			end = len(line) - i
		}
		u := line[i : i+end]
		out = append(out, adfNode{Type: "text", Text: u, Marks: []adfMark{{Type: "link", Attrs: map[string]string{"href": u}}}})
		line = line[i+end:]
	}
	return out
}
