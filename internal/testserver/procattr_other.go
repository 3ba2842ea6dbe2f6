//go:build unix && !linux

package testserver

import "syscall"

// dieWithTest has no equivalent outside Linux: a test process that dies
// leaves its server running.
func dieWithTest(*syscall.SysProcAttr) {}
