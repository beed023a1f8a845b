package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deskprov/deskprov/store/notify"
)

// startHub opens the store hub that carries changes between the instances on
// one PostgreSQL store (BToE events, phones' firmware state) and keeps its
// listener connection open until the app closes. On SQLite it is a no-op.
func (a *app) startHub(ctx context.Context) error {
	h, err := notify.New(ctx, a.db, a.log)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(runCtx)
	}()
	a.closers = append(a.closers, func() { cancel(); <-done })
	a.hub = h
	return nil
}

// hubMetric says on /metrics whether the instance hears the others: 0 means
// it is looking in the store instead (docs/deploy.md).
func hubMetric(h *notify.Hub) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "deskprov_store_hub_live",
		Help: "1 while this instance hears other instances' changes (always on SQLite), 0 while it falls back to looking in the store.",
	}, func() float64 {
		if h.Live() {
			return 1
		}
		return 0
	})
}
