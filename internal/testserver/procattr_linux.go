package testserver

import "syscall"

// dieWithTest makes the kernel kill the server if the test process dies
// (a panic, a timeout) before its cleanup could stop it.
func dieWithTest(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
