package apikey_test

import (
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/keystoretest"
)

func TestMemoryStoreConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) apikey.ManagedStore { return new(apikey.MemoryStore) })
}
