//go:build !unix

package llm

import "time"

// llmProcessCPU is not measured here: Bench reports wall-time rates only.
func llmProcessCPU() time.Duration { return 0 }
