package native

// SetCanaryBytes turns guarded buffers on (n > 0) or off (0) for tests.
func SetCanaryBytes(n int) { canaryBytes = n }
