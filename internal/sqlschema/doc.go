// Package sqlschema applies the schemas of gatekey's SQL stores
// (apikey/sqlstore, credits/sqlstore, idempotency/sqlstore), which every
// replica applies when it starts. The stores' ApplySchema tests, against
// real PostgreSQL and SQLite, are its tests.
package sqlschema
