package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/deskprov/deskprov/fault"
)

// Budget is the limit on guessing one kind of credential (a password, a
// sign-in PIN, an admin password). Every place that checks that credential
// reserves an attempt with Limiter.Reserve before the slow hash, so all of
// them spend the same budgets:
//
//   - per account: Free failures, then each further attempt must wait a delay
//     that doubles from Base up to Cap after the account's last attempt. It is
//     a backoff, never a lockout: whoever has the right password gets in after
//     at most Cap, however many addresses an attacker guesses from.
//   - per account and client address: a hard limit, so one address guessing
//     one account is stopped long before the account's owner is slowed much.
//   - per client address, across every account in Scope: a hard limit, high
//     enough for an office of phones behind one NAT address, that stops one
//     address spraying many accounts.
//
// Failures count; a success gives its attempt back and forgets the account's
// failures and those of the account at that address.
type Budget struct {
	// Scope names the address budget: budgets with the same Scope (passwords
	// and PINs of sign-in) share it.
	Scope string
	// Kind names the accounts ("user", "extension", "admin"): accounts of
	// different kinds never share a budget.
	Kind string
	// What the attempts are, for messages: "passwords", "PINs".
	What string

	Free int
	Base time.Duration
	Cap  time.Duration
	// Forget: an account's failures are forgotten once its last attempt is
	// this old.
	Forget time.Duration

	PerAccountAddress Rule
	PerAddress        Rule
}

// Delay is how long an account with failures earlier failures waits after
// its last attempt before the next one.
func (b Budget) Delay(failures int) time.Duration {
	if failures < b.Free {
		return 0
	}
	d := b.Base
	for i := b.Free; i < failures && d < b.Cap; i++ {
		d *= 2
	}
	return min(d, b.Cap)
}

// backoff is an account's failures in a row and the time of its last
// attempt. seq changes with every write, so a write can be made conditional
// on the row being the one just read (compare-and-set).
type backoff struct {
	Key      string `gorm:"primaryKey;size:200"`
	Failures int    `gorm:"not null"`
	// LastAt is in Unix milliseconds: an integer compares and round-trips
	// alike on both engines.
	LastAt int64 `gorm:"not null"`
	Seq    int64 `gorm:"not null"`
}

func (backoff) TableName() string { return "throttle_backoff" }

// Attempt is one reserved credential check. Settle it with Failed,
// Succeeded or Release once the credential was checked.
type Attempt struct {
	l       *Limiter
	b       Budget
	addrKey string
	pairKey string
	acctKey string
	addrWin time.Time
	pairWin time.Time
}

// Key builds a throttle key from its parts. A part that is long, not UTF-8,
// holds control characters (a typed account name is the attacker's to
// choose) or the separator (an IPv6 address, or a name crafted to read as
// another account's key) is replaced by its SHA-256, so every key fits the
// column, every engine accepts it, and two different part lists never
// make one key.
func Key(parts ...string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		if len(p) > 120 || !utf8.ValidString(p) || strings.ContainsAny(p, ":#") || strings.IndexFunc(p, unicode.IsControl) >= 0 {
			sum := sha256.Sum256([]byte(p))
			p = "#" + hex.EncodeToString(sum[:16])
		}
		out[i] = p
	}
	return strings.Join(out, ":")
}

// Reserve takes one attempt at the credential of account (already
// normalised by the caller, who must check that same value) from client
// address addr out of b's three budgets, or refuses with a fault.RateLimited
// carrying RetryAfter and a message saying how long to wait. Each budget is
// taken with one conditional write, so concurrent attempts can never all
// pass: of 30 at once against a budget of 10, 10 are reserved.
func (l *Limiter) Reserve(ctx context.Context, b Budget, account, addr string) (*Attempt, error) {
	if addr == "" {
		addr = "unknown"
	}
	a := &Attempt{l: l, b: b,
		addrKey: Key("guess", b.Scope, "addr", addr),
		pairKey: Key("guess", b.Scope, b.Kind, account, addr),
		acctKey: Key("guess", b.Scope, b.Kind, account),
	}
	ok, wait, win, err := l.take(ctx, a.addrKey, b.PerAddress)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, limited("too_many_attempts", wait, "Too many wrong %s were tried from your network address (at most %d every %s). Wait %s and try again.",
			b.What, b.PerAddress.Max, b.PerAddress.Window, roundUp(wait))
	}
	a.addrWin = win
	ok, wait, win, err = l.take(ctx, a.pairKey, b.PerAccountAddress)
	if err != nil {
		return nil, errors.Join(err, l.giveBack(ctx, a.addrKey, a.addrWin))
	}
	if !ok {
		return nil, errors.Join(limited("too_many_attempts", wait, "Too many wrong %s for this account from your network address. Wait %s and try again, and check that you are typing the right one.",
			b.What, roundUp(wait)), l.giveBack(ctx, a.addrKey, a.addrWin))
	}
	a.pairWin = win
	wait, err = l.backOff(ctx, a.acctKey, b)
	if err == nil && wait > 0 {
		err = limited("account_backoff", wait, "There have been many %s tries for this account lately (wrong ones, or many at once), so each try must wait a little longer. Wait %s and try again.",
			b.What, roundUp(wait))
	}
	if err != nil {
		return nil, errors.Join(err, l.giveBack(ctx, a.pairKey, a.pairWin), l.giveBack(ctx, a.addrKey, a.addrWin))
	}
	return a, nil
}

// Failed settles an attempt whose credential was wrong: it stays counted.
// It writes nothing; callers name it so that every attempt is visibly settled.
func (a *Attempt) Failed() {}

// Succeeded settles an attempt whose credential was right: the address gets
// its attempt back, and the account's failures, everywhere and at this
// address, are forgotten.
func (a *Attempt) Succeeded(ctx context.Context) error {
	return errors.Join(
		a.l.giveBack(ctx, a.addrKey, a.addrWin),
		a.l.Reset(ctx, a.pairKey),
		a.l.db.WithContext(ctx).Where("key = ?", a.acctKey).Delete(&backoff{}).Error)
}

// Release settles an attempt that guessed nothing (the answer did not
// depend on the credential): every budget gets it back.
func (a *Attempt) Release(ctx context.Context) error {
	return errors.Join(
		a.l.giveBack(ctx, a.addrKey, a.addrWin),
		a.l.giveBack(ctx, a.pairKey, a.pairWin),
		a.l.db.WithContext(ctx).Exec("UPDATE throttle_backoff SET failures = failures - 1, seq = seq + 1 WHERE key = ? AND failures > 0", a.acctKey).Error)
}

func limited(code string, wait time.Duration, format string, args ...any) error {
	e := fault.New(fault.RateLimited, format, args...).WithCode(code)
	e.RetryAfter = int((wait + time.Second - 1) / time.Second)
	if e.RetryAfter < 1 {
		e.RetryAfter = 1
	}
	return e
}

// roundUp shows a wait to the second above, so that waiting what it says
// is always enough.
func roundUp(d time.Duration) time.Duration {
	return ((d + time.Second - 1) / time.Second) * time.Second
}

// take counts one attempt against key unless key has used up r in the
// current window. The check and the count are one statement, so concurrent
// takes cannot all see room for one more.
func (l *Limiter) take(ctx context.Context, key string, r Rule) (ok bool, wait time.Duration, window time.Time, err error) {
	now := l.Now().UTC()
	start := now.Truncate(r.Window)
	rows, err := l.db.WithContext(ctx).Raw(`INSERT INTO throttle_strikes (key, window_start, count) VALUES (?, ?, 1)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN throttle_strikes.window_start = excluded.window_start THEN throttle_strikes.count + 1 ELSE 1 END,
  window_start = excluded.window_start
WHERE throttle_strikes.window_start <> excluded.window_start OR throttle_strikes.count < ?
RETURNING count`, key, start, r.Max).Rows()
	if err != nil {
		return false, 0, start, err
	}
	defer rows.Close()
	ok = rows.Next()
	if err := rows.Err(); err != nil {
		return false, 0, start, err
	}
	return ok, start.Add(r.Window).Sub(now), start, nil
}

// giveBack returns one attempt taken in window (nothing when the window
// has moved on since).
func (l *Limiter) giveBack(ctx context.Context, key string, window time.Time) error {
	return l.db.WithContext(ctx).Exec("UPDATE throttle_strikes SET count = count - 1 WHERE key = ? AND window_start = ? AND count > 0", key, window).Error
}

// backOff reserves the account's next attempt, or says how long until it
// may have one. The row is read, the decision made here, and the write made
// conditional on the row being unchanged; a writer that lost the race reads
// again.
func (l *Limiter) backOff(ctx context.Context, key string, b Budget) (time.Duration, error) {
	db := l.db.WithContext(ctx)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		now := l.Now().UTC()
		var row backoff
		if err := db.Where("key = ?", key).Limit(1).Find(&row).Error; err != nil {
			return 0, err
		}
		if row.Key == "" {
			res := db.Exec("INSERT INTO throttle_backoff (key, failures, last_at, seq) VALUES (?, 1, ?, 1) ON CONFLICT (key) DO NOTHING", key, now.UnixMilli())
			if res.Error != nil {
				return 0, res.Error
			}
			if res.RowsAffected == 1 {
				return 0, nil
			}
			continue
		}
		last := time.UnixMilli(row.LastAt).UTC()
		failures := row.Failures
		if now.Sub(last) >= b.Forget {
			failures = 0
		}
		if next := last.Add(b.Delay(failures)); failures > 0 && now.Before(next) {
			return next.Sub(now), nil
		}
		res := db.Exec("UPDATE throttle_backoff SET failures = ?, last_at = ?, seq = seq + 1 WHERE key = ? AND seq = ?",
			failures+1, now.UnixMilli(), key, row.Seq)
		if res.Error != nil {
			return 0, res.Error
		}
		if res.RowsAffected == 1 {
			return 0, nil
		}
	}
}

// AccountFailures is how many failures in a row an account has now (for
// tests and diagnostics).
func (l *Limiter) AccountFailures(ctx context.Context, b Budget, account string) (int, error) {
	var row backoff
	err := l.db.WithContext(ctx).Where("key = ?", Key("guess", b.Scope, b.Kind, account)).Limit(1).Find(&row).Error
	return row.Failures, err
}

type clientKey struct{}

// WithClient returns ctx carrying the client address of the request it
// serves. The web layer sets it on every request, so that a credential
// check reached through an interface that does not pass the address (BToE's
// PC sign-in) still spends the address's budget.
func WithClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// ClientOf returns the client address WithClient put in ctx, "" when none.
func ClientOf(ctx context.Context) string {
	addr, _ := ctx.Value(clientKey{}).(string)
	return addr
}
