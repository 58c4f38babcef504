//go:build unix

package llm

import (
	"syscall"
	"time"
)

// llmProcessCPU is the CPU time this process has used (user + system,
// all threads, native code included), for Bench's CPU-time rates.
func llmProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
