package ratelimit

import "time"

// ExactnessLimits are limits whose rates make floating-point rounding
// visible, for the tests of exact durations: fractional rates, a window of
// a millisecond, huge buckets in which one nanosecond of refill is below
// the resolution of the token count.
var ExactnessLimits = []Limit{
	PerMinute(7),
	PerMinute(7).WithBurst(3),
	PerSecond(3),
	PerDay(1),
	PerHour(1000),
	{Requests: 3, Window: 7 * time.Second},
	{Requests: 1000, Window: time.Millisecond},
	{Requests: 13, Window: 1234567891 * time.Nanosecond, Burst: 29},
	{Requests: 1 << 30, Window: 24 * time.Hour, Burst: 1 << 31},
	{Requests: 1, Window: time.Hour, Burst: 1 << 20},
}
