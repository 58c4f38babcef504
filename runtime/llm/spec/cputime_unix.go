//go:build unix

package spec

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user + system, all
// threads). Benchmarks report it beside wall time: on a machine shared
// with other work it measures the work done, not the waiting.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
