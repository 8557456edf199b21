package sdjoincmd

import "net/http"

// Placeholder of the /metrics handler another branch writes
// (metrics.go); removed when it is merged.

func (a *agent) metricsHandler() http.Handler { return http.NotFoundHandler() }
