// Package stats holds the summaries the benchmarks print.
package stats

import (
	"slices"
)

// Median returns the median of ds (the mean of the middle two when their
// number is even), or 0 for none. ds is left as it is.
func Median[T ~int64 | ~float64](ds []T) T {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
