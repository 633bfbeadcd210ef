// Package sqlparams builds the WHERE clause of the stores' list queries
// from the conditions a filter's fields add, with their arguments in
// placeholder order, in SQLite's "?" or PostgreSQL's "$n" style.
package sqlparams

import (
	"strconv"
	"strings"
)

// Params gathers a query's conditions and their arguments.
type Params struct {
	// Args are the arguments of the conditions added and the
	// placeholders handed out, in order.
	Args   []any
	conds  []string
	dollar bool
}

// Question returns Params whose placeholders are "?" (SQLite).
func Question() *Params { return &Params{} }

// Dollar returns Params whose placeholders are numbered "$1", "$2", …
// (PostgreSQL).
func Dollar() *Params { return &Params{dollar: true} }

// Add appends a condition whose "?"s stand for args, in order.
func (p *Params) Add(cond string, args ...any) {
	for _, arg := range args {
		p.Args = append(p.Args, arg)
		if p.dollar {
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(p.Args)), 1)
		}
	}
	p.conds = append(p.conds, cond)
}

// Where renders the conditions, "" when there are none.
func (p *Params) Where() string {
	if len(p.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(p.conds, " AND ")
}

// Next is the placeholder of arg, appended to the arguments.
func (p *Params) Next(arg any) string {
	p.Args = append(p.Args, arg)
	if p.dollar {
		return "$" + strconv.Itoa(len(p.Args))
	}
	return "?"
}
