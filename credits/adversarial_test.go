package credits_test

// Adversarial tests of package credits, written from the package's
// documentation: they
// try to overspend, to overflow, to confuse periods and accounts, and to
// make the parser panic or echo its input.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/credits"
)

// advMarch31 is the last nanosecond of March 2031 in UTC.
var advMarch31 = time.Date(2031, 3, 31, 23, 59, 59, 999999999, time.UTC)

func advApril1() time.Time { return time.Date(2031, 4, 1, 0, 0, 0, 0, time.UTC) }

func TestAdvParseAllowanceValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want credits.Allowance
	}{
		{"500/month", credits.PerMonth(500)},
		{"100/day", credits.PerDay(100)},
		{"1/d", credits.PerDay(1)},
		{"1/days", credits.PerDay(1)},
		{"1/mo", credits.PerMonth(1)},
		{"1/months", credits.PerMonth(1)},
		{"1/MoNtH", credits.PerMonth(1)},
		{"2/DAY", credits.PerDay(2)},
		{" 500 / month ", credits.PerMonth(500)},
		{"   9/day", credits.PerDay(9)},
		{fmt.Sprint(credits.MaxCredits) + "/month", credits.PerMonth(credits.MaxCredits)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := credits.ParseAllowance(tc.in)
			if err != nil {
				t.Fatalf("ParseAllowance(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseAllowance(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			// String formats it as ParseAllowance reads it.
			back, err := credits.ParseAllowance(got.String())
			if err != nil || back != got {
				t.Errorf("ParseAllowance(%q.String() = %q) = %+v, %v; want %+v", tc.in, got.String(), back, err, got)
			}
		})
	}
}

func TestAdvParseAllowanceInvalid(t *testing.T) {
	huge := strings.Repeat("9", 400)
	for _, in := range []string{
		"",
		" ",
		"/",
		"500",
		"500/",
		"/month",
		"0/month",
		"-1/month",
		"-0/month",
		"+5/month",
		"5.0/month",
		"5e2/month",
		"0x10/month",
		"1_000/month",
		"1,000/month",
		"5 5/month",
		"5/mon th",
		"5/week",
		"5/minute",
		"5/hour",
		"5/year",
		"5/m", // neither a day nor a month in the documented spellings
		"5/month/day",
		"5//month",
		"5/month;",
		"month/5",
		"day",
		fmt.Sprint(credits.MaxCredits+1) + "/month",
		"9223372036854775807/month",  // MaxInt64
		"9223372036854775808/month",  // overflows int64
		"18446744073709551617/month", // overflows uint64
		huge + "/month",
		"５/month", // fullwidth digit five
		"٥/month", // Arabic-Indic digit five
		"5/mönth",
		"5/month\x00",
		"\x005/month",
		"5\u200b/month",   // zero-width space is not a space
		"5/\u0441\u0430y", // Cyrillic letters that look Latin
		"\xff\xfe/month",
	} {
		t.Run(fmt.Sprintf("%.40q", in), func(t *testing.T) {
			a, err := credits.ParseAllowance(in)
			if err == nil {
				t.Fatalf("ParseAllowance(%q) = %+v, nil; want an error", in, a)
			}
			if !errors.Is(err, credits.ErrInvalidAllowance) {
				t.Errorf("ParseAllowance(%q) error %v does not wrap ErrInvalidAllowance", in, err)
			}
			if a != (credits.Allowance{}) {
				t.Errorf("ParseAllowance(%q) returned %+v with its error; want the zero Allowance", in, a)
			}
		})
	}
}

// TestAdvParseAllowanceErrorQuotesLittle: an allowance string may come
// from a flag or a config file a secret was pasted into by mistake; the
// error quotes at most its first 32 bytes.
func TestAdvParseAllowanceErrorQuotesLittle(t *testing.T) {
	secret := "sk_live_" + strings.Repeat("Ab9", 20) // 68 bytes
	for _, in := range []string{
		secret,
		"5/" + secret,
		secret + "/month",
		strings.Repeat("7", 40) + "/month",
	} {
		_, err := credits.ParseAllowance(in)
		if err == nil {
			t.Fatalf("ParseAllowance(%.20q…) = nil error", in)
		}
		msg := err.Error()
		if len(in) > 32 && strings.Contains(msg, in[:33]) {
			t.Errorf("error for %.20q… quotes more than 32 bytes of the input: %s", in, msg)
		}
		if strings.Contains(msg, secret[20:]) {
			t.Errorf("error quotes the tail of a secret-like input: %s", msg)
		}
	}
}

// TestAdvParseAllowanceRandom: random inputs never panic, and whatever
// parses is valid and round-trips.
func TestAdvParseAllowanceRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("0123456789/ -+dayDAYmonthsMONTHS\t\x00é５٥")
	for i := range 20000 {
		n := rng.IntN(24)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		in := b.String()
		if i%7 == 0 { // raw bytes, invalid UTF-8 included
			raw := make([]byte, n)
			for j := range raw {
				raw[j] = byte(rng.UintN(256))
			}
			in = string(raw)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("ParseAllowance(%q) panicked: %v", in, p)
				}
			}()
			a, err := credits.ParseAllowance(in)
			if err != nil {
				if !errors.Is(err, credits.ErrInvalidAllowance) {
					t.Fatalf("ParseAllowance(%q) error %v does not wrap ErrInvalidAllowance", in, err)
				}
				return
			}
			if err := a.Validate(); err != nil {
				t.Fatalf("ParseAllowance(%q) = %+v, which does not Validate: %v", in, a, err)
			}
			if a.Credits < 1 || a.Credits > credits.MaxCredits {
				t.Fatalf("ParseAllowance(%q) = %d credits", in, a.Credits)
			}
			if back, err := credits.ParseAllowance(a.String()); err != nil || back != a {
				t.Fatalf("round trip of %q: %+v, %v", in, back, err)
			}
		}()
	}
}

func TestAdvAllowanceValidate(t *testing.T) {
	for _, tc := range []struct {
		a  credits.Allowance
		ok bool
	}{
		{credits.Allowance{}, false},
		{credits.PerMonth(0), false},
		{credits.PerMonth(-1), false},
		{credits.PerMonth(math.MinInt64), false},
		{credits.PerMonth(credits.MaxCredits + 1), false},
		{credits.PerMonth(math.MaxInt64), false},
		{credits.Allowance{Credits: 5, Period: 0}, false},
		{credits.Allowance{Credits: 5, Period: 3}, false},
		{credits.Allowance{Credits: 5, Period: 255}, false},
		{credits.PerMonth(1), true},
		{credits.PerDay(credits.MaxCredits), true},
	} {
		err := tc.a.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.a, err, tc.ok)
		}
		if err != nil && !errors.Is(err, credits.ErrInvalidAllowance) {
			t.Errorf("%+v.Validate() = %v, not wrapping ErrInvalidAllowance", tc.a, err)
		}
	}
}

// TestAdvPeriodBoundaries: periods are UTC calendar periods whatever the
// time zone of the time given; months start on the 1st.
func TestAdvPeriodBoundaries(t *testing.T) {
	est := time.FixedZone("UTC-5", -5*3600)
	plus14 := time.FixedZone("UTC+14", 14*3600)
	utc := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name       string
		p          credits.Period
		t          time.Time
		start, end time.Time
	}{
		{"month last ns", credits.Month, advMarch31, utc(2031, 3, 1), utc(2031, 4, 1)},
		{"month first ns", credits.Month, advApril1(), utc(2031, 4, 1), utc(2031, 5, 1)},
		{"december", credits.Month, time.Date(2031, 12, 31, 23, 0, 0, 0, time.UTC), utc(2031, 12, 1), utc(2032, 1, 1)},
		{"leap february", credits.Month, time.Date(2032, 2, 29, 12, 0, 0, 0, time.UTC), utc(2032, 2, 1), utc(2032, 3, 1)},
		{"non-leap february", credits.Month, time.Date(2031, 2, 28, 23, 59, 59, 0, time.UTC), utc(2031, 2, 1), utc(2031, 3, 1)},
		// 2031-03-31 22:00 in UTC-5 is 2031-04-01 03:00 UTC: April.
		{"local March, UTC April", credits.Month, time.Date(2031, 3, 31, 22, 0, 0, 0, est), utc(2031, 4, 1), utc(2031, 5, 1)},
		// 2031-04-01 10:00 in UTC+14 is 2031-03-31 20:00 UTC: March.
		{"local April, UTC March", credits.Month, time.Date(2031, 4, 1, 10, 0, 0, 0, plus14), utc(2031, 3, 1), utc(2031, 4, 1)},
		{"day last ns", credits.Day, advMarch31, utc(2031, 3, 31), utc(2031, 4, 1)},
		{"day first ns", credits.Day, advApril1(), utc(2031, 4, 1), utc(2031, 4, 2)},
		{"day local", credits.Day, time.Date(2031, 3, 31, 20, 0, 0, 0, est), utc(2031, 4, 1), utc(2031, 4, 2)},
		{"epoch", credits.Month, time.Unix(0, 0), utc(1970, 1, 1), utc(1970, 2, 1)},
		{"before epoch", credits.Month, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), utc(1969, 12, 1), utc(1970, 1, 1)},
		{"day before epoch", credits.Day, time.Unix(-1, 0), utc(1969, 12, 31), utc(1970, 1, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.p.Start(tc.t), tc.p.End(tc.t)
			if !start.Equal(tc.start) || start.Location() != time.UTC {
				t.Errorf("%v.Start(%v) = %v, want %v in UTC", tc.p, tc.t, start, tc.start)
			}
			if !end.Equal(tc.end) || end.Location() != time.UTC {
				t.Errorf("%v.End(%v) = %v, want %v in UTC", tc.p, tc.t, end, tc.end)
			}
			i := tc.p.Index(tc.t)
			if got := tc.p.StartOf(i); !got.Equal(tc.start) {
				t.Errorf("StartOf(Index) = %v, want %v", got, tc.start)
			}
			if got := tc.p.EndOf(i); !got.Equal(tc.end) {
				t.Errorf("EndOf(Index) = %v, want %v", got, tc.end)
			}
			if got := tc.p.Index(tc.end); got != i+1 {
				t.Errorf("Index(End) = %d, want %d", got, i+1)
			}
		})
	}
	if got := credits.Month.Index(time.Unix(0, 0)); got != 0 {
		t.Errorf("Month.Index(epoch) = %d, want 0", got)
	}
	if got := credits.Day.Index(time.Unix(-1, 0)); got != -1 {
		t.Errorf("Day.Index(epoch - 1s) = %d, want -1", got)
	}
	if got := credits.Month.Index(time.Date(1969, 12, 15, 0, 0, 0, 0, time.UTC)); got != -1 {
		t.Errorf("Month.Index(1969-12-15) = %d, want -1", got)
	}
}

// TestAdvPeriodExtremeTimes: the zero time and far-future times do not
// panic and give a period that holds them.
func TestAdvPeriodExtremeTimes(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Unix(1<<40, 0),
		time.Unix(-(1 << 40), 0),
	} {
		for _, p := range []credits.Period{credits.Day, credits.Month} {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%v at %v panicked: %v", p, tm, r)
					}
				}()
				s, e := p.Start(tm), p.End(tm)
				if tm.Before(s) || !tm.Before(e) {
					t.Errorf("%v at %v: [%v, %v) does not hold it", p, tm, s, e)
				}
			}()
		}
	}
}

// TestAdvStoreRefillAtBoundary: the balance is replaced by the allowance
// exactly at the UTC boundary, not a nanosecond before, and neither the
// leftover nor a grant carries over.
func TestAdvStoreRefillAtBoundary(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a          credits.Allowance
		last, next time.Time
		nextReset  time.Time
	}{
		{"month", credits.PerMonth(3), advMarch31, advApril1(), time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)},
		{"day", credits.PerDay(3), advMarch31, advApril1(), time.Date(2031, 4, 2, 0, 0, 0, 0, time.UTC)},
		{"day mid-month", credits.PerDay(3), time.Date(2031, 3, 14, 23, 59, 59, 999999999, time.UTC), time.Date(2031, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(2031, 3, 16, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := credits.NewMemoryStore(credits.MemoryConfig{})
			// One credit spent, 2 left; a grant of 10 makes 12.
			mustSpend(t, s, tc.last.Add(-time.Hour), "acct", tc.a, 1, true, 2)
			b, err := s.GrantAt(tc.last.Add(-time.Minute), "acct", tc.a, 10)
			if err != nil || b.Remaining != 12 {
				t.Fatalf("GrantAt: %+v, %v; want 12 remaining", b, err)
			}
			if !b.ResetAt.Equal(tc.next) {
				t.Errorf("grant's ResetAt = %v, want %v", b.ResetAt, tc.next)
			}
			// The last nanosecond of the period still spends from it.
			mustSpend(t, s, tc.last, "acct", tc.a, 12, true, 0)
			mustSpend(t, s, tc.last, "acct", tc.a, 1, false, 0)
			// The first nanosecond of the next: the allowance, not more.
			b = mustSpend(t, s, tc.next, "acct", tc.a, 0, true, 3)
			if !b.ResetAt.Equal(tc.nextReset) {
				t.Errorf("ResetAt in the next period = %v, want %v", b.ResetAt, tc.nextReset)
			}
		})
	}
}

// TestAdvStoreLeftoverNotCarried: credits left at the end of a period do
// not add to the next one's.
func TestAdvStoreLeftoverNotCarried(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	a := credits.PerMonth(5)
	mustSpend(t, s, advMarch31, "a", a, 1, true, 4)
	mustSpend(t, s, advApril1(), "a", a, 0, true, 5)
	// Skipping several months: still the allowance.
	mustSpend(t, s, time.Date(2031, 9, 17, 0, 0, 0, 0, time.UTC), "a", a, 5, true, 0)
	mustSpend(t, s, time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), "a", a, 0, true, 5)
}

// TestAdvStoreClockBehind: once a balance is in a period, a call with an
// earlier clock spends from that period and never refills it again.
func TestAdvStoreClockBehind(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	a := credits.PerMonth(3)
	mustSpend(t, s, advMarch31, "a", a, 3, true, 0)
	mustSpend(t, s, advApril1(), "a", a, 3, true, 0) // April's 3
	// A replica whose clock lags a second behind, still in March:
	b := mustSpend(t, s, advMarch31, "a", a, 1, false, 0)
	if !b.ResetAt.Equal(time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a call with a clock behind reports ResetAt %v, want the period the balance is in (May 1st)", b.ResetAt)
	}
	// And back to April: still nothing (no second refill).
	mustSpend(t, s, advApril1().Add(time.Second), "a", a, 1, false, 0)
}

// TestAdvStoreRefusedSpendTakesNothing: a spend larger than the balance
// is refused whole; it never takes a part, never goes negative.
func TestAdvStoreRefusedSpendTakesNothing(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	a := credits.PerMonth(10)
	at := advMarch31.Add(-time.Hour)
	mustSpend(t, s, at, "a", a, 11, false, 10)
	mustSpend(t, s, at, "a", a, credits.MaxCredits, false, 10)
	mustSpend(t, s, at, "a", a, 7, true, 3)
	mustSpend(t, s, at, "a", a, 4, false, 3)
	mustSpend(t, s, at, "a", a, 3, true, 0)
	mustSpend(t, s, at, "a", a, 1, false, 0)
	mustSpend(t, s, at, "a", a, 0, true, 0)
}

// TestAdvStoreInvalidArguments: invalid costs, grants and allowances are
// errors (never panics) and change nothing.
func TestAdvStoreInvalidArguments(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	at := advMarch31.Add(-time.Hour)
	good := credits.PerMonth(10)
	mustSpend(t, s, at, "a", good, 1, true, 9)
	for _, tc := range []struct {
		name  string
		a     credits.Allowance
		n     int64
		grant bool
		want  error
	}{
		{"negative cost", good, -1, false, credits.ErrInvalidCost},
		{"min int cost", good, math.MinInt64, false, credits.ErrInvalidCost},
		{"cost above max", good, credits.MaxCredits + 1, false, credits.ErrInvalidCost},
		{"max int cost", good, math.MaxInt64, false, credits.ErrInvalidCost},
		{"zero grant", good, 0, true, credits.ErrInvalidCost},
		{"negative grant", good, -5, true, credits.ErrInvalidCost},
		{"min int grant", good, math.MinInt64, true, credits.ErrInvalidCost},
		{"grant above max", good, credits.MaxCredits + 1, true, credits.ErrInvalidCost},
		{"zero allowance spend", credits.Allowance{}, 1, false, credits.ErrInvalidAllowance},
		{"negative allowance", credits.PerMonth(-3), 1, false, credits.ErrInvalidAllowance},
		{"bad period", credits.Allowance{Credits: 10, Period: 9}, 1, false, credits.ErrInvalidAllowance},
		{"zero allowance grant", credits.Allowance{}, 1, true, credits.ErrInvalidAllowance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v", r)
					}
				}()
				if tc.grant {
					_, err = s.GrantAt(at, "a", tc.a, tc.n)
				} else {
					var ok bool
					_, ok, err = s.SpendAt(at, "a", tc.a, tc.n)
					if ok {
						t.Errorf("an invalid spend reported ok")
					}
				}
			}()
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want one wrapping %v", err, tc.want)
			}
			if cerr := credits.CheckArgs(tc.a, tc.n, tc.grant); !errors.Is(cerr, tc.want) {
				t.Errorf("CheckArgs: %v, want one wrapping %v", cerr, tc.want)
			}
		})
	}
	mustSpend(t, s, at, "a", good, 0, true, 9)
}

// TestAdvStoreGrantsNeverOverflow: grants of MaxCredits, again and again,
// never wrap the balance around to a negative (or smaller) number: either
// the grant is refused or the balance grows.
func TestAdvStoreGrantsNeverOverflow(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	at := advMarch31.Add(-time.Hour)
	a := credits.PerMonth(credits.MaxCredits)
	prev := int64(credits.MaxCredits)
	refused := 0
	// 1<<63 / 1<<50 = 8192 grants of MaxCredits reach MaxInt64.
	for i := range 8300 {
		b, err := s.GrantAt(at, "rich", a, credits.MaxCredits)
		if err != nil {
			refused++
			continue
		}
		if b.Remaining < prev {
			t.Fatalf("grant %d: balance went from %d to %d (overflow)", i+1, prev, b.Remaining)
		}
		prev = b.Remaining
	}
	b, ok, err := s.SpendAt(at, "rich", a, 0)
	if err != nil || !ok || b.Remaining < 0 {
		t.Fatalf("balance after many grants: %+v, %v, %v", b, ok, err)
	}
	if refused == 0 {
		t.Logf("no grant refused; final balance %d", b.Remaining)
	}
	// A spend must still work and not go negative.
	b, ok, err = s.SpendAt(at, "rich", a, credits.MaxCredits)
	if err != nil || !ok || b.Remaining < 0 {
		t.Fatalf("spend after many grants: %+v, %v, %v", b, ok, err)
	}
}

// TestAdvStoreAccountsApart: names that differ by a byte, by case, by a
// trailing space or NUL are separate accounts; a daily and a monthly
// balance of one name are apart.
func TestAdvStoreAccountsApart(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	at := advMarch31.Add(-time.Hour)
	a := credits.PerMonth(2)
	names := []string{"", "a", "A", "a ", " a", "a\x00", "\x00a", "é", "e\u0301", "acct:1", "acct:1:month", strings.Repeat("x", 4096)}
	for _, n := range names {
		mustSpend(t, s, at, n, a, 2, true, 0)
	}
	for _, n := range names {
		mustSpend(t, s, at, n, a, 0, true, 0)
	}
	mustSpend(t, s, at, "fresh", a, 0, true, 2)
	// Daily balance of "a" is not the monthly one.
	mustSpend(t, s, at, "a", credits.PerDay(2), 0, true, 2)
}

// TestAdvStorePlanChangeMidPeriod: another allowance passed mid-period
// keeps the current balance; it applies from the next period.
func TestAdvStorePlanChangeMidPeriod(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	at := advMarch31.Add(-time.Hour)
	mustSpend(t, s, at, "a", credits.PerMonth(3), 2, true, 1)
	mustSpend(t, s, at, "a", credits.PerMonth(1000), 0, true, 1)
	mustSpend(t, s, at, "a", credits.PerMonth(1000), 2, false, 1)
	mustSpend(t, s, advApril1(), "a", credits.PerMonth(1000), 0, true, 1000)
}

// TestAdvStoreConcurrentExact: under contention exactly allowance/cost
// spends succeed, and the balance never goes negative.
func TestAdvStoreConcurrentExact(t *testing.T) {
	for _, tc := range []struct {
		allowance, cost int64
		goroutines      int
	}{
		{50, 1, 200},
		{50, 3, 200},
		{50, 50, 200},
		{50, 51, 100},
		{1, 1, 300},
	} {
		t.Run(fmt.Sprintf("%d by %d", tc.allowance, tc.cost), func(t *testing.T) {
			s := credits.NewMemoryStore(credits.MemoryConfig{})
			a := credits.PerMonth(tc.allowance)
			at := advMarch31.Add(-time.Hour)
			var ok, neg atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range tc.goroutines {
				wg.Go(func() {
					<-start
					b, spent, err := s.SpendAt(at, "shared", a, tc.cost)
					if err != nil {
						t.Error(err)
						return
					}
					if spent {
						ok.Add(1)
					}
					if b.Remaining < 0 {
						neg.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if want := tc.allowance / tc.cost; ok.Load() != want {
				t.Errorf("%d spends of %d succeeded against %d credits; want exactly %d", ok.Load(), tc.cost, tc.allowance, want)
			}
			if neg.Load() != 0 {
				t.Errorf("%d calls saw a negative balance", neg.Load())
			}
			mustSpend(t, s, at, "shared", a, 0, true, tc.allowance%tc.cost)
		})
	}
}

// TestAdvStoreConcurrentSpendsAndGrants: with grants racing spends, every
// credit granted is spent at most once: successes plus what is left equal
// the allowance plus the grants.
func TestAdvStoreConcurrentSpendsAndGrants(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	a := credits.PerMonth(50)
	at := advMarch31.Add(-time.Hour)
	var spent atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			if _, err := s.GrantAt(at, "acct", a, 2); err != nil {
				t.Error(err)
			}
		})
	}
	for range 400 {
		wg.Go(func() {
			<-start
			_, ok, err := s.SpendAt(at, "acct", a, 1)
			if err != nil {
				t.Error(err)
			}
			if ok {
				spent.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	b, _, err := s.SpendAt(at, "acct", a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Remaining < 0 {
		t.Fatalf("negative balance %d", b.Remaining)
	}
	if got, want := spent.Load()+b.Remaining, int64(50+100*2); got != want {
		t.Errorf("spent %d + remaining %d = %d, want allowance + grants = %d", spent.Load(), b.Remaining, got, want)
	}
}

// TestAdvStoreConcurrentAcrossBoundary: spends racing across a month
// boundary refill once: March's and April's allowances are each spent
// exactly once.
func TestAdvStoreConcurrentAcrossBoundary(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	a := credits.PerMonth(20)
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 300 {
		at := advMarch31
		if i%2 == 1 {
			at = advApril1()
		}
		wg.Go(func() {
			<-start
			_, spent, err := s.SpendAt(at, "acct", a, 1)
			if err != nil {
				t.Error(err)
			}
			if spent {
				ok.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	// At most March's 20 and April's 20; at least April's 20 (April's
	// calls alone outnumber it).
	if n := ok.Load(); n < 20 || n > 40 {
		t.Errorf("%d spends succeeded across the boundary; want between 20 and 40", n)
	}
	b, _, _ := s.SpendAt(advApril1(), "acct", a, 0)
	if b.Remaining != 0 {
		t.Errorf("April's balance after 150 April spends: %d, want 0", b.Remaining)
	}
}

// TestAdvStoreClockFromConfig: Spend and Grant read MemoryConfig.Now.
func TestAdvStoreClockFromConfig(t *testing.T) {
	var mu sync.Mutex
	now := advMarch31
	s := credits.NewMemoryStore(credits.MemoryConfig{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	ctx := context.Background()
	a := credits.PerMonth(2)
	if b, ok, err := s.Spend(ctx, "a", a, 2); err != nil || !ok || b.Remaining != 0 || !b.ResetAt.Equal(advApril1()) {
		t.Fatalf("Spend: %+v, %v, %v", b, ok, err)
	}
	if b, err := s.Grant(ctx, "a", a, 1); err != nil || b.Remaining != 1 {
		t.Fatalf("Grant: %+v, %v", b, err)
	}
	mu.Lock()
	now = advApril1()
	mu.Unlock()
	if b, ok, err := s.Spend(ctx, "a", a, 0); err != nil || !ok || b.Remaining != 2 {
		t.Fatalf("Spend on April 1st: %+v, %v, %v; want the allowance, the grant gone", b, ok, err)
	}
}

// TestAdvMemoryStoreFullRefuses: a full store refuses a new account with
// ErrUnavailable, keeps the balances it holds, and makes room by dropping
// balances of past periods only.
func TestAdvMemoryStoreFullRefuses(t *testing.T) {
	s := credits.NewMemoryStore(credits.MemoryConfig{MaxAccounts: 2})
	a := credits.PerMonth(5)
	march := advMarch31.Add(-time.Hour)
	mustSpend(t, s, march, "a", a, 5, true, 0)
	mustSpend(t, s, march, "b", a, 5, true, 0)
	_, ok, err := s.SpendAt(march, "c", a, 1)
	if !errors.Is(err, credits.ErrUnavailable) || ok {
		t.Fatalf("spend for a third account in a full store: ok=%v, err=%v; want ErrUnavailable", ok, err)
	}
	if _, err := s.GrantAt(march, "c", a, 1); !errors.Is(err, credits.ErrUnavailable) {
		t.Errorf("grant for a third account in a full store: %v; want ErrUnavailable", err)
	}
	// The full store did not forget a or b: they are still spent.
	mustSpend(t, s, march, "a", a, 1, false, 0)
	mustSpend(t, s, march, "b", a, 1, false, 0)
	// In April, March's balances are as good as new: room for c.
	mustSpend(t, s, advApril1(), "c", a, 1, true, 4)
	if n := s.Len(); n > 2 {
		t.Errorf("Len = %d, want at most MaxAccounts 2", n)
	}
}

// TestAdvMemoryStoreMaxAccountsExact: MaxAccounts is the number of
// current-period accounts the store holds, as documented: it takes that
// many distinct accounts (not fewer, refusing early) and refuses the
// next one (not more).
func TestAdvMemoryStoreMaxAccountsExact(t *testing.T) {
	for _, max := range []int{1, 3, 128, 1000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			s := credits.NewMemoryStore(credits.MemoryConfig{MaxAccounts: max})
			a := credits.PerMonth(5)
			at := advMarch31.Add(-time.Hour)
			for i := range max {
				if _, _, err := s.SpendAt(at, fmt.Sprint("acct-", i), a, 1); err != nil {
					t.Fatalf("account %d of MaxAccounts %d refused: %v", i+1, max, err)
				}
			}
			if _, _, err := s.SpendAt(at, "one too many", a, 1); !errors.Is(err, credits.ErrUnavailable) {
				t.Errorf("account %d in a store of MaxAccounts %d: %v; want ErrUnavailable (Len %d)", max+1, max, err, s.Len())
			}
		})
	}
}

func mustSpend(t *testing.T, s *credits.MemoryStore, at time.Time, acct string, a credits.Allowance, cost int64, wantOK bool, wantRemaining int64) credits.Balance {
	t.Helper()
	b, ok, err := s.SpendAt(at, acct, a, cost)
	if err != nil {
		t.Fatalf("SpendAt(%v, %.20q, %v, %d): %v", at, acct, a, cost, err)
	}
	type res struct {
		OK        bool
		Remaining int64
	}
	if d := cmp.Diff(res{wantOK, wantRemaining}, res{ok, b.Remaining}); d != "" {
		t.Errorf("SpendAt(%v, %.20q, %v, %d) (-want +got):\n%s", at, acct, a, cost, d)
	}
	if b.Remaining < 0 {
		t.Errorf("negative balance %d", b.Remaining)
	}
	if b.Allowance != a && wantOK && cost > 0 && b.Allowance.Credits == 0 {
		t.Errorf("Balance.Allowance is empty: %+v", b)
	}
	if !b.ResetAt.After(at) {
		t.Errorf("ResetAt %v is not after the call's time %v", b.ResetAt, at)
	}
	return b
}
