// Package notify tells the deskprov instances sharing one PostgreSQL store
// about each other's writes, so that a waiter or a cache on one instance
// learns of a change made on another within moments instead of at its next
// look in the store.
//
// On PostgreSQL a Hub holds one dedicated connection that LISTENs on a
// channel named after the store's schema; Publish queues a NOTIFY inside the
// writer's transaction, so the message leaves when, and only if, the change
// commits, and a receiver that reads the store on hearing it sees the
// change. The connection is checked every Heartbeat and reopened when it
// drops; while it is down, Live is false and users fall back to looking in
// the store themselves (as they did before this package), and when it comes
// back every subscriber hears of it, since messages sent meanwhile are lost.
//
// A SQLite store belongs to one process (serve locks its data directory):
// nobody else can write it, so its Hub sends nothing and is always Live;
// what this process writes, its own code already knows.
package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Timings of the listener connection. Variables so that tests (and an
// operator's build) can change them.
var (
	// Heartbeat is how long the listener waits without a message before
	// checking its connection: a connection that died silently (a dropped
	// network path rather than a closed socket) is noticed within
	// Heartbeat+ProbeTimeout.
	Heartbeat = 2 * time.Second
	// ProbeTimeout bounds that check.
	ProbeTimeout = 2 * time.Second
	// ConnectTimeout bounds opening the listener connection.
	ConnectTimeout = 5 * time.Second
	// RetryMin and RetryMax bound the wait between attempts to reopen it.
	RetryMin = 100 * time.Millisecond
	RetryMax = 2 * time.Second
)

// Hub carries messages between the instances on one store. A nil *Hub is
// valid: it sends nothing, hears nothing and is never Live.
type Hub struct {
	shared  bool // PostgreSQL: other instances may write
	dsn     string
	channel string
	id      string // this instance, so that it skips its own messages
	log     *slog.Logger

	live atomic.Bool
	pid  atomic.Uint32 // the listener's backend (tests)

	// stateMu orders state changes against new subscriptions, so that a
	// subscriber's last onState call always says the current state.
	stateMu sync.Mutex
	mu      sync.Mutex
	subs    map[string][]*subscription
}

type subscription struct {
	onMsg   func(data string)
	onState func(live bool)
}

// New returns the hub for db's store. On PostgreSQL it must be started with
// Run; until its listener is connected it is not Live.
func New(ctx context.Context, db *gorm.DB, log *slog.Logger) (*Hub, error) {
	if log == nil {
		log = slog.Default()
	}
	h := &Hub{log: log, subs: map[string][]*subscription{}}
	d, ok := db.Dialector.(*postgres.Dialector)
	if !ok {
		h.live.Store(true)
		return h, nil
	}
	h.shared = true
	h.dsn = d.Config.DSN
	if h.dsn == "" {
		return nil, errors.New("notify: the PostgreSQL store was opened without a DSN, so no listener connection can be opened")
	}
	var schema string
	if err := db.WithContext(ctx).Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		return nil, fmt.Errorf("notify: read the store's schema: %w", err)
	}
	h.channel = channelFor(schema)
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	h.id = hex.EncodeToString(b)
	return h, nil
}

// channelFor names the channel of the deployment whose tables are in
// schema: deployments sharing one database in separate schemas do not hear
// each other. PostgreSQL refuses channel names over 63 bytes.
func channelFor(schema string) string {
	c := "deskprov." + schema
	if len(c) > 63 {
		sum := sha256.Sum256([]byte(schema))
		c = "deskprov." + hex.EncodeToString(sum[:16])
	}
	return c
}

// Live reports whether messages from other instances reach this one now.
// While it is false, a user must look in the store for itself.
func (h *Hub) Live() bool { return h != nil && h.live.Load() }

// BackendPID is the process id of the listener's PostgreSQL backend (the
// pid of its row in pg_stat_activity, application_name
// deskprov-listener), 0 when it has none.
func (h *Hub) BackendPID() uint32 {
	if !h.Live() {
		return 0
	}
	return h.pid.Load()
}

// Shared reports whether other instances may write the store (PostgreSQL).
func (h *Hub) Shared() bool { return h != nil && h.shared }

// Publish tells the other instances about a change to topic (data names
// what changed: a mailbox, a MAC). Give it the transaction that makes the
// change: the message is sent when the transaction commits, and not at all
// if it rolls back. Outside a transaction it is sent at once. On SQLite,
// and on a nil Hub, it does nothing.
func (h *Hub) Publish(tx *gorm.DB, topic, data string) error {
	if h == nil || !h.shared {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, ?)", h.channel, h.id+"|"+topic+"|"+data).Error
}

// Subscribe calls onMsg with the data of each message another instance
// publishes on topic, and onState now and whenever Live changes (a
// subscriber that caches must drop what it holds on either change: while
// the hub was down, messages were lost). Either may be nil. Callbacks run on
// the listener's goroutine and must be quick. cancel stops them.
func (h *Hub) Subscribe(topic string, onMsg func(data string), onState func(live bool)) (cancel func()) {
	if h == nil {
		if onState != nil {
			onState(false)
		}
		return func() {}
	}
	s := &subscription{onMsg: onMsg, onState: onState}
	h.stateMu.Lock()
	h.mu.Lock()
	h.subs[topic] = append(h.subs[topic], s)
	h.mu.Unlock()
	if onState != nil {
		onState(h.live.Load())
	}
	h.stateMu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		list := h.subs[topic]
		for i, x := range list {
			if x == s {
				h.subs[topic] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
	}
}

func (h *Hub) all() []*subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*subscription
	for _, l := range h.subs {
		out = append(out, l...)
	}
	return out
}

func (h *Hub) setLive(live bool) {
	h.stateMu.Lock()
	defer h.stateMu.Unlock()
	if h.live.Swap(live) == live {
		return
	}
	for _, s := range h.all() {
		if s.onState != nil {
			s.onState(live)
		}
	}
}

func (h *Hub) dispatch(payload string) {
	id, rest, ok := strings.Cut(payload, "|")
	if !ok || id == h.id {
		return
	}
	topic, data, ok := strings.Cut(rest, "|")
	if !ok {
		return
	}
	h.mu.Lock()
	list := h.subs[topic]
	h.mu.Unlock()
	for _, s := range list {
		if s.onMsg != nil {
			s.onMsg(data)
		}
	}
}

// Run keeps the listener connection open until ctx ends, reopening it when
// it drops. On SQLite it only waits for ctx.
func (h *Hub) Run(ctx context.Context) {
	if h == nil || !h.shared {
		<-ctx.Done()
		return
	}
	wait, down := RetryMin, time.Time{}
	for ctx.Err() == nil {
		connected, err := h.listen(ctx)
		h.setLive(false)
		if ctx.Err() != nil {
			return
		}
		if connected {
			wait, down = RetryMin, time.Now()
			h.log.Warn("lost the connection that hears other deskprov instances' changes: looking in the store instead until it is back", "err", err)
		} else {
			if down.IsZero() {
				down = time.Now()
				h.log.Warn("cannot open the connection that hears other deskprov instances' changes: looking in the store instead", "err", err)
			}
			h.log.Debug("retrying the listener connection", "in", wait, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !connected {
			wait = min(wait*2, RetryMax)
		}
	}
}

// listen opens the listener connection and delivers what it hears until the
// connection fails or ctx ends; connected tells whether it was Live.
func (h *Hub) listen(ctx context.Context) (connected bool, err error) {
	cfg, err := pgx.ParseConfig(h.dsn)
	if err != nil {
		return false, err
	}
	cfg.RuntimeParams["application_name"] = "deskprov-listener"
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(c)
	}()
	lctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	_, err = conn.Exec(lctx, "LISTEN "+pgx.Identifier{h.channel}.Sanitize())
	cancel()
	if err != nil {
		return false, err
	}
	h.pid.Store(conn.PgConn().PID())
	h.setLive(true)
	h.log.Info("hearing other deskprov instances' changes", "channel", h.channel, "backend_pid", conn.PgConn().PID())
	for {
		wctx, cancel := context.WithTimeout(ctx, Heartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err == nil {
			h.dispatch(n.Payload)
			continue
		}
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		if !pgconn.Timeout(err) {
			return true, err
		}
		// Quiet for a Heartbeat: make sure the connection still answers.
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return true, err
		}
	}
}
