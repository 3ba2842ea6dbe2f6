package service

import (
	"net/http"
	"strconv"

	apierrors "github.com/gatekey/gatekey/errors"
)

// Caps on what one account may hold, so that one key cannot fill the
// service's memory or make its lists unbounded.
const (
	maxActiveKeys = 100  // keys neither revoked nor expired, its first included
	maxMonitors   = 1000 // in all environments
)

// Page sizes of the lists.
const (
	defaultPageSize = 10
	maxPageSize     = 100
)

// A page is where a list starts and how long it is, from the query:
// ?limit= (1 to 100, default 10) and ?starting_after=ID.
type page struct {
	limit int
	after string // the id of the last item of the previous page; "" for the first
}

func parsePage(r *http.Request) (page, error) {
	q := r.URL.Query()
	p := page{limit: defaultPageSize}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < 1 || n > maxPageSize {
			return page{}, apierrors.NewInvalidParameter("limit", "limit must be one integer from 1 to 100")
		}
		p.limit = n
	}
	if v, ok := q["starting_after"]; ok {
		if len(v) != 1 || v[0] == "" {
			return page{}, apierrors.NewInvalidParameter("starting_after", "starting_after must be one id")
		}
		p.after = v[0]
	}
	return p, nil
}

// listJSON is the answer of a list: a page of data, newest first, and
// whether more follow.
type listJSON[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// paginate returns the page p of items, which are newest first, where id
// names an item. An after that names no item is a client error: it never
// echoes the id, which a client may have mistyped into a key.
func paginate[T any](items []T, id func(T) string, p page) (listJSON[T], error) {
	start := 0
	if p.after != "" {
		start = -1
		for i, it := range items {
			if id(it) == p.after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return listJSON[T]{}, apierrors.NewInvalidParameter("starting_after", "starting_after must be the id of an item of this list")
		}
	}
	end := min(start+p.limit, len(items))
	data := items[start:end]
	if data == nil {
		data = []T{}
	}
	return listJSON[T]{Data: data, HasMore: end < len(items)}, nil
}
