package ort

import (
	"errors"
	"slices"
	"time"
)

// MedianLatency calls fn warmup times untimed, then iters times timed, and
// returns the median duration of the timed calls. It stops at the first
// error.
func MedianLatency(warmup, iters int, fn func() error) (time.Duration, error) {
	if iters < 1 {
		return 0, errors.New("ort: MedianLatency needs at least one iteration")
	}
	for range warmup {
		if err := fn(); err != nil {
			return 0, err
		}
	}
	ds := make([]time.Duration, iters)
	for i := range ds {
		start := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	if iters%2 == 1 {
		return ds[iters/2], nil
	}
	return (ds[iters/2-1] + ds[iters/2]) / 2, nil
}
