//go:build !unix

package spec

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }
