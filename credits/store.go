package credits

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors. Test for them with errors.Is.
var (
	// ErrInvalidAllowance reports an allowance that cannot be metered.
	ErrInvalidAllowance = errors.New("credits: invalid allowance")

	// ErrInvalidCost reports a cost or grant below 0 (or of 0, for a
	// grant) or above MaxCredits.
	ErrInvalidCost = errors.New("credits: invalid cost")

	// ErrUnavailable reports that a store could not decide: its backend
	// failed or timed out, or it is full. It is never used to say "no
	// credits left"; that is a refused Spend.
	ErrUnavailable = errors.New("credits: store unavailable")
)

// A Balance is an account's credits in the current period.
type Balance struct {
	// Remaining is the credits left until ResetAt: after the spend, or
	// before it when the spend was refused.
	Remaining int64

	// Allowance is the allowance the balance refills to.
	Allowance Allowance

	// ResetAt is the end of the period, when the balance becomes
	// Allowance.Credits again.
	ResetAt time.Time
}

// A Store keeps the balances of many accounts and spends from them.
//
// Spend takes cost credits from account's balance in the current period if
// the balance holds them all, and reports whether it did. A balance not
// seen yet in the current period holds a.Credits: at the start of each
// period it is replaced by the allowance, whatever was left or granted.
// The Balance is the one after the spend, or before it when refused; a
// refused spend takes nothing. A cost of 0 takes nothing and reports the
// balance, which is how an endpoint such as /v1/me reads it. The allowance
// is passed on every call, so an account's plan can change between calls:
// a new allowance applies from the next period (a store keeps the
// balance of the current one, and a service that upgrades an account
// mid-period grants the difference). An account's daily and monthly
// balances are apart: an account moved from a daily allowance to a
// monthly one and back within a day finds each balance as it left it.
//
// Grant adds n credits (n >= 1) to account's balance, for the current
// period only.
//
// Errors: ErrInvalidAllowance and ErrInvalidCost (wrapped) for invalid
// arguments, an error wrapping ErrUnavailable when the store cannot decide.
//
// Implementations must be safe for concurrent use and exact under
// contention, across every process that shares them: with no refill,
// concurrent spends of cost together succeed exactly
// Remaining/cost times. Periods never go backwards: a call whose clock is
// behind the period a balance is in spends from that period. Package
// creditstoretest checks an implementation against this contract.
type Store interface {
	Spend(ctx context.Context, account string, a Allowance, cost int64) (Balance, bool, error)
	Grant(ctx context.Context, account string, a Allowance, n int64) (Balance, error)
}

// CheckArgs reports whether a and n are valid arguments of Spend (grant
// false: a cost from 0 to MaxCredits) or of Grant (grant true: from 1 to
// MaxCredits), with the errors every Store returns for them. Stores call
// it first.
func CheckArgs(a Allowance, n int64, grant bool) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if n < 0 || n > MaxCredits || grant && n == 0 {
		return fmt.Errorf("%w: %d: want 0 to %d (1 or more for a grant)", ErrInvalidCost, n, int64(MaxCredits))
	}
	return nil
}
