package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/deskprov/deskprov/tlsticket"
)

// ticketRefresh is how often each instance looks for the next ticket key: an
// instance moves to a new period's key at most this long after its start
// (and opens tickets under the next key before that; package tlsticket).
const ticketRefresh = time.Minute

// serverTLS is the TLS configuration of serve --tls-cert: the certificate and
// key given, TLS 1.2 at least (every supported phone speaks it), HTTP/2 for
// browsers, and session ticket keys shared by every instance on the store so
// that a phone resumes its session on whichever instance a balancer picks.
// The keys are refreshed until ctx ends.
func serverTLS(ctx context.Context, a *app, certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	keys := tlsticket.New(a.db, a.secrets)
	if err := keys.Apply(ctx, cfg); err != nil {
		return nil, fmt.Errorf("TLS session ticket keys: %w", err)
	}
	go keys.Run(ctx, ticketRefresh, log)
	return cfg, nil
}
