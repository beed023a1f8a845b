package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
)

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "pg error " + string(e) }
func (e sqlStateErr) SQLState() string { return string(e) }

func TestWhichStoreErrorsMeanUnavailable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"a refused connection means unavailable", fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"a reset connection means unavailable", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"a server shutting down means unavailable", sqlStateErr("57P01"), true},
		{"a server starting up means unavailable", sqlStateErr("57P03"), true},
		{"too many connections means unavailable", sqlStateErr("53300"), true},
		{"a connection exception means unavailable", sqlStateErr("08006"), true},
		{"a timeout (the pool exhausted) means unavailable", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"a unique violation does not", sqlStateErr("23505"), false},
		{"a syntax error does not", sqlStateErr("42601"), false},
		{"a missing row does not", gorm.ErrRecordNotFound, false},
		{"a client that went away does not", context.Canceled, false},
		{"no error does not", nil, false},
		{"any other error does not", errors.New("template: no such field"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := store.IsUnavailable(c.err); got != c.want {
				t.Errorf("IsUnavailable(%v) = %v", c.err, got)
			}
		})
	}
}
