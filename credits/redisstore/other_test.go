//go:build !unix

package redisstore_test

import "testing"

type redisServer struct{}

func (*redisServer) Addr() string  { return "" }
func (*redisServer) kill()         {}
func (*redisServer) start() error  { return nil }
func (*redisServer) pause() error  { return nil }
func (*redisServer) resume() error { return nil }
func removeSharedRedis()           {}
func startRedis(t testing.TB) *redisServer {
	t.Skip("the Redis tests start a server and need a Unix system")
	return nil
}
func sharedRedis(t testing.TB) *redisServer { return startRedis(t) }
