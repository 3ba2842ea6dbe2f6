// Package testserver runs real database servers for tests: redis-server
// and PostgreSQL, each started on a free loopback port in a temporary
// directory, without persistence, and removed when the test ends.
//
// The servers are the binaries installed on the machine (Debian's
// redis-server and postgresql packages, or ones on PATH). A test that
// needs one that is missing is skipped, saying what to install, unless
// the environment variable CI is set, when it fails: a CI run must not
// pass by skipping.
//
// A package's tests use either a server of their own, from StartRedis or
// StartPostgres (for tests that kill, pause or stop it), or the one the
// test binary shares, from SharedRedis or SharedPostgres, which TestMain
// removes by calling CloseShared once the tests have run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testserver.CloseShared()
//		os.Exit(code)
//	}
//
// A server is ready when it is returned: the package waits for the line
// of the server's log that says it accepts connections, then checks that
// it answers one request, using the wire protocol directly so that it
// depends on no client library.
//
// Starting servers needs a Unix system; elsewhere every test that asks
// for one is skipped. On Linux a server is killed by the kernel if the
// test process dies before it could remove it.
//
// The package is internal: it is for gatekey's own tests, in the root
// module and in the nested ones (which import it through their replace
// directive).
package testserver
