package main

import (
	"context"

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
