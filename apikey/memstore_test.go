package apikey_test

import (
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.TestStore(t, func(t *testing.T) apikey.ManagedStore { return new(apikey.MemoryStore) })
}
