package sdjoincmd

import "net/http"

// Placeholders of the /metrics and / handlers other branches write
// (metrics.go, web.go); removed when those are merged.

func (a *agent) metricsHandler() http.Handler { return http.NotFoundHandler() }

func (a *agent) webHandler() http.Handler { return http.NotFoundHandler() }
