package credits

import "time"

// A Period is a UTC calendar period, over which an allowance is spent
// before it refills.
type Period uint8

// The periods an Allowance can have.
const (
	Day   Period = iota + 1 // from midnight UTC to the next
	Month                   // from midnight UTC on the 1st to the next 1st
)

// Valid reports whether p is Day or Month.
func (p Period) Valid() bool { return p == Day || p == Month }

// String returns "day" or "month".
func (p Period) String() string {
	switch p {
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return "invalid"
}

// Start returns the start of the period that holds t, in UTC.
func (p Period) Start(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	if p == Month {
		d = 1
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// End returns the end of the period that holds t, which is the start of
// the next one, in UTC.
func (p Period) End(t time.Time) time.Time {
	s := p.Start(t)
	if p == Month {
		return s.AddDate(0, 1, 0)
	}
	return s.AddDate(0, 0, 1)
}

// Index returns the number of the period that holds t, counted from the
// one that holds the Unix epoch (1970-01-01 UTC): days since the epoch for
// Day, months since January 1970 for Month. Stores keep it to tell one
// period from the next.
func (p Period) Index(t time.Time) int64 {
	t = t.UTC()
	if p == Month {
		y, m, _ := t.Date()
		return int64(y-1970)*12 + int64(m-1)
	}
	return floorDiv(t.Unix(), 86400)
}

// StartOf returns the start of the period with the given Index.
func (p Period) StartOf(index int64) time.Time {
	if p == Month {
		y, m := floorDiv(index, 12), index-floorDiv(index, 12)*12
		return time.Date(1970+int(y), time.Month(m+1), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Unix(index*86400, 0).UTC()
}

// EndOf returns the end of the period with the given Index.
func (p Period) EndOf(index int64) time.Time { return p.StartOf(index + 1) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
