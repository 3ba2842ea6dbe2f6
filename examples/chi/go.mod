module github.com/gatekey/gatekey/examples/chi

go 1.25.0

replace github.com/gatekey/gatekey => ../..

require (
	github.com/gatekey/gatekey v0.0.0-00010101000000-000000000000
	github.com/go-chi/chi/v5 v5.5.0
)

require (
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
