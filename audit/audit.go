// Package audit is the one log of every admin change in the service: who
// (actor), when, to which object (kind and id), what (action), and the
// object before and after, secrets masked. Domain packages write to it in
// the transaction of the change (Record), so a change and its entry commit
// or roll back together; List reads it filtered and paged in the store.
package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
)

// Entry is one change.
type Entry struct {
	ID       uint      `gorm:"primaryKey" json:"id"`
	At       time.Time `gorm:"not null;index" json:"at"`
	Actor    string    `gorm:"size:200;not null;index" json:"actor"`
	Kind     string    `gorm:"size:40;not null;index" json:"kind"`
	ObjectID string    `gorm:"column:object_id;size:400;not null" json:"objectId"`
	Action   string    `gorm:"size:64;not null" json:"action"`
	// Object is kind/id, the name the policy audit used before this log
	// took it in; it is kept in answers so that readers of it still work.
	Object     string          `gorm:"-" json:"object"`
	BeforeJSON string          `gorm:"column:before_json;type:text" json:"-"`
	AfterJSON  string          `gorm:"column:after_json;type:text" json:"-"`
	Before     json.RawMessage `gorm:"-" json:"before"`
	After      json.RawMessage `gorm:"-" json:"after"`
}

// TableName: "audit_log", not the policy audit's old "audit_entries", so
// that Migrate can tell an old store (whose rows it moves) from a new one.
func (Entry) TableName() string { return "audit_log" }

// The object kinds the service records. Kinds are free text to the log;
// these are the ones the packages that write it use, listed here so that a
// reader (and the API's filter) has one place to look.
const (
	KindAdmin        = "admin"
	KindPolicy       = "ipphonepolicy"
	KindUser         = "user"
	KindLicense      = "license"
	KindFirmware     = "firmware"
	KindPhone        = "phone" // a phone's sessions: sign-outs, PIN resets, unlock codes
	KindSigningKey   = "signingkey"
	KindBToE         = "btoe"
	KindSite         = "site"
	KindCACert       = "cacert"
	KindPhoneFile    = "phonefile"
	KindMFASettings  = "mfasettings"
	KindEnrolment    = "enrolment" // a phone's enrolment (by MAC), and "settings" of enrolment
	KindOrganization = "organization"
	// Voice: numbers and what they hang on. These were the voice audit's
	// object kinds, kept so that its old filters still select the same.
	KindNumber           = "number"
	KindVoiceService     = "voiceservice"
	KindEmergencyAddress = "emergencyaddress" // its locations are id/location/id
	KindReservation      = "reservation"
	KindPortOrder        = "portorder"
	KindNumberRequest    = "numberrequest"
)

// Record writes e in tx, the transaction of the change it records (a plain
// *gorm.DB when the change has none). At defaults to now; Before and After
// are marshalled from any value (nil is null) and their secrets masked.
func Record(ctx context.Context, tx *gorm.DB, e Change) error {
	if e.Actor == "" {
		e.Actor = ActorFrom(ctx)
	}
	row, err := e.row()
	if err != nil {
		return err
	}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return err
	}
	// The operator's log says each change too (never its before and after,
	// which may hold masked secrets only the audit keeps). It is written as
	// the change is recorded, in the change's transaction: a transaction
	// that fails after this line leaves a log line for a change that did
	// not happen, and the store's error beside it.
	if !e.Logged {
		slog.Default().Info("change", "event", "change", "actor", row.Actor, "kind", row.Kind,
			"object", row.ObjectID, "action", row.Action)
	}
	return nil
}

type actorKey struct{}

// WithActor returns ctx carrying the admin who acts. The HTTP face sets it
// once where it checks the admin, so that the domain packages record who
// made a change without each method taking an actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor put in ctx, or "system".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

// Change is what a caller records: the object before and after as Go
// values, which Record marshals and masks.
type Change struct {
	At            time.Time
	Actor         string
	Kind          string
	ObjectID      string
	Action        string
	Before, After any
	// Logged: the caller writes the operator's log line itself, in words
	// more telling than "change" (a phone's enrolment steps).
	Logged bool
}

func (c Change) row() (Entry, error) {
	if c.Kind == "" || c.Action == "" {
		return Entry{}, fault.New(fault.Internal, "an audit entry needs a kind and an action")
	}
	if c.Actor == "" {
		c.Actor = "system"
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	b, err := maskedJSON(c.Before)
	if err != nil {
		return Entry{}, err
	}
	a, err := maskedJSON(c.After)
	if err != nil {
		return Entry{}, err
	}
	return Entry{At: c.At.UTC(), Actor: clip(c.Actor, 200), Kind: clip(c.Kind, 40), ObjectID: clip(c.ObjectID, 400),
		Action: clip(c.Action, 64), BeforeJSON: b, AfterJSON: a}, nil
}

// Mask is what a secret reads as in the log.
const Mask = "********"

// secretKey reports whether a JSON key names a secret. Domain types mask
// their own secrets when marshalled (a policy's provisioning password); this
// is the net under them for any value handed to Record.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "secret", "token", "passphrase", "privatekey", "hash"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	for _, s := range []string{"pin", "unlockcode", "enrollmentcode", "usercode"} {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

func maskedJSON(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return "", err
	}
	if !mask(tree) {
		// Nothing to hide: keep the value as its type wrote it, fields
		// in their order.
		return string(raw), nil
	}
	out, err := json.Marshal(tree)
	return string(out), err
}

// mask replaces the secrets in v in place and reports whether it found any.
func mask(v any) bool {
	found := false
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			// Only text is a secret: a flag such as hasPassword says
			// whether there is one, which the log should show.
			if str, ok := x.(string); ok && secretKey(k) && str != "" && str != Mask {
				t[k] = Mask
				found = true
				continue
			}
			found = mask(x) || found
		}
	case []any:
		for i := range t {
			found = mask(t[i]) || found
		}
	}
	return found
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Filter selects entries. Object is kind/id or a prefix of it
// ("ipphonepolicy", "user/amosm@contoso.com"), as the policy audit took it.
type Filter struct {
	Kind   string
	Object string
	Actor  string
	Since  time.Time // at or after; zero for no bound
	Until  time.Time // before; zero for no bound
	// Before pages: only entries with an ID below it (the NextBefore of
	// the page before); 0 starts at the newest.
	Before uint
	Limit  int
}

// MaxPage caps one page; DefaultPage is a page when Limit is 0.
const (
	MaxPage     = 1000
	DefaultPage = 100
)

// Page is one page of entries, newest first. NextBefore is the Before of
// the next page, 0 on the last.
type Page struct {
	Entries    []Entry `json:"entries"`
	NextBefore uint    `json:"nextBefore,omitempty"`
}

// List returns the entries f selects, newest first, one page at a time:
// paged by ID in the store (keyset), so a deep page costs what the first
// does however long the log grows.
func List(ctx context.Context, db *gorm.DB, f Filter) (Page, error) {
	if f.Limit < 0 || f.Limit > MaxPage {
		return Page{}, fault.FieldInvalid("limit", "limit must be from 1 to %d", MaxPage)
	}
	if f.Limit == 0 {
		f.Limit = DefaultPage
	}
	for _, p := range []struct{ name, v string }{{"kind", f.Kind}, {"object", f.Object}, {"actor", f.Actor}} {
		if err := textfield.Line(p.name, p.v, 400); err != nil {
			return Page{}, err
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return Page{}, fault.FieldInvalid("until", "until must be after since")
	}
	q := db.WithContext(ctx).Model(&Entry{}).Order("id DESC").Limit(f.Limit + 1)
	if f.Kind != "" {
		q = q.Where("kind = ?", strings.TrimSpace(f.Kind))
	}
	if o := strings.TrimRight(strings.TrimSpace(f.Object), "/"); o != "" {
		kind, id, hasID := strings.Cut(o, "/")
		q = q.Where("kind = ?", kind)
		if hasID {
			if kind == KindUser {
				id = strings.ToLower(id)
			}
			prefix := id + "/"
			q = q.Where("(object_id = ? OR substr(object_id, 1, ?) = ?)", id, len(prefix), prefix)
		}
	}
	if f.Actor != "" {
		q = q.Where("actor = ?", strings.TrimSpace(f.Actor))
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	out := []Entry{}
	if err := q.Find(&out).Error; err != nil {
		return Page{}, err
	}
	var p Page
	if len(out) > f.Limit {
		out = out[:f.Limit]
		p.NextBefore = out[len(out)-1].ID
	}
	for i := range out {
		out[i].fill()
	}
	p.Entries = out
	return p, nil
}

func (e *Entry) fill() {
	e.Object = e.Kind
	if e.ObjectID != "" {
		e.Object += "/" + e.ObjectID
	}
	e.Before = json.RawMessage(orNull(e.BeforeJSON))
	e.After = json.RawMessage(orNull(e.AfterJSON))
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}
