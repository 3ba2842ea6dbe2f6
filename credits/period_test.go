package credits

import (
	"testing"
	"time"
)

func TestPeriod(t *testing.T) {
	for _, tc := range []struct {
		p          Period
		at         string
		start, end string
	}{
		{Day, "2026-12-01T13:14:15Z", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"},
		{Day, "2026-12-31T23:59:59.999999999Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Day, "2026-12-01T01:00:00+02:00", "2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z"}, // UTC, not local
		{Month, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Month, "2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		{Month, "2027-01-31T23:59:59Z", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"},
		{Month, "1969-12-15T00:00:00Z", "1969-12-01T00:00:00Z", "1970-01-01T00:00:00Z"},
		{Day, "1969-12-31T12:00:00Z", "1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339Nano, tc.at)
		start, _ := time.Parse(time.RFC3339, tc.start)
		end, _ := time.Parse(time.RFC3339, tc.end)
		if got := tc.p.Start(at); !got.Equal(start) || got.Location() != time.UTC {
			t.Errorf("%v.Start(%s) = %v, want %v", tc.p, tc.at, got, start)
		}
		if got := tc.p.End(at); !got.Equal(end) {
			t.Errorf("%v.End(%s) = %v, want %v", tc.p, tc.at, got, end)
		}
		i := tc.p.Index(at)
		if got := tc.p.StartOf(i); !got.Equal(start) {
			t.Errorf("%v.StartOf(Index(%s) = %d) = %v, want %v", tc.p, tc.at, i, got, start)
		}
		if got := tc.p.EndOf(i); !got.Equal(end) {
			t.Errorf("%v.EndOf(%d) = %v, want %v", tc.p, i, got, end)
		}
		if tc.p.Index(end) != i+1 || tc.p.Index(end.Add(-1)) != i {
			t.Errorf("%v: the index does not step by one at %v", tc.p, end)
		}
	}
	if Day.Index(time.Unix(0, 0)) != 0 || Month.Index(time.Unix(0, 0)) != 0 {
		t.Error("the epoch's period is not 0")
	}
}

// FuzzPeriodIndex: every instant lies in the period its Index names, for
// both periods.
func FuzzPeriodIndex(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(1764547200)) // 2025-12-01
	f.Add(int64(-1))
	f.Fuzz(func(t *testing.T, sec int64) {
		at := time.Unix(sec%(1<<40), 0) // years -33000 to 37000
		for _, p := range []Period{Day, Month} {
			i := p.Index(at)
			if s, e := p.StartOf(i), p.EndOf(i); at.Before(s) || !at.Before(e) {
				t.Fatalf("%v: %v not in period %d [%v, %v)", p, at, i, s, e)
			}
		}
	})
}
