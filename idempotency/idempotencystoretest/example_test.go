package idempotencystoretest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/idempotencystoretest"
)

// A program can check a store without go test, here the MemoryStore.
func ExampleTestStore() {
	err := idempotencystoretest.TestStore(context.Background(), func(now func() time.Time) (idempotency.Store, error) {
		return idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: now}), nil
	})
	fmt.Println(err)
	// Output: <nil>
}
