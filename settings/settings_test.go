package settings_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/store/storetest"
)

var canon = map[string]settings.Canon{
	settings.PublicURL: func(v string) (string, error) {
		if !strings.HasPrefix(v, "http") {
			return "", errors.New("give a URL")
		}
		return strings.TrimRight(v, "/"), nil
	},
	settings.PollInterval: func(v string) (string, error) { return v, nil },
}

func values(url, poll string) map[string]string {
	return map[string]string{settings.PublicURL: url, settings.PollInterval: poll}
}

func TestServiceWideSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		if err := settings.Migrate(db); err != nil {
			t.Fatal(err)
		}
		first := settings.New(db, canon)
		got, err := first.Reconcile(ctx, values("https://a.example", "1h0m0s"), map[string]bool{settings.PublicURL: true}, true, "serve on a")
		if err != nil || got[settings.PublicURL] != "https://a.example" {
			t.Fatalf("the first instance: %v %v", got, err)
		}
		t.Run("a later instance takes the recorded values for flags it was not given", func(t *testing.T) {
			got, err := settings.New(db, canon).Reconcile(ctx, values("http://10.0.0.2:8080", "1h0m0s"), nil, true, "serve on b")
			if err != nil || got[settings.PublicURL] != "https://a.example" {
				t.Fatalf("got %v %v", got, err)
			}
		})
		t.Run("a later instance given another value is refused, naming both", func(t *testing.T) {
			_, err := settings.New(db, canon).Reconcile(ctx, values("https://b.example", "30m0s"),
				map[string]bool{settings.PublicURL: true, settings.PollInterval: true}, true, "serve on b")
			if err == nil {
				t.Fatal("started with a public URL that differs from the recorded one")
			}
			for _, want := range []string{"--public-url https://b.example", "https://a.example", "--poll-interval 30m0s", "1h0m0s", "serve on a", "deskprov settings set"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal %q does not say %q", err, want)
				}
			}
		})
		t.Run("an instance that owns its store records its own values", func(t *testing.T) {
			got, err := settings.New(db, canon).Reconcile(ctx, values("https://c.example", "1h0m0s"), nil, false, "serve on c")
			if err != nil || got[settings.PublicURL] != "https://c.example" {
				t.Fatalf("got %v %v", got, err)
			}
			if _, err := settings.New(db, canon).Set(ctx, settings.PublicURL, "https://a.example/", "admin"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("set records a new value that later instances take, and shows what this one runs with", func(t *testing.T) {
			if _, err := first.Set(ctx, settings.PublicURL, "https://lb.example/", "admin alice"); err != nil {
				t.Fatal(err)
			}
			ss, err := first.List(ctx)
			if err != nil || ss[0].Name != settings.PublicURL || ss[0].Value != "https://lb.example" || ss[0].InEffect != "https://a.example" || ss[0].SetBy != "admin alice" {
				t.Fatalf("list: %+v %v", ss, err)
			}
			got, err := settings.New(db, canon).Reconcile(ctx, values("https://lb.example", "1h0m0s"), map[string]bool{settings.PublicURL: true}, true, "serve on d")
			if err != nil || got[settings.PublicURL] != "https://lb.example" {
				t.Fatalf("an instance started with the new value: %v %v", got, err)
			}
		})
		t.Run("set refuses a bad value and an unknown name", func(t *testing.T) {
			if _, err := first.Set(ctx, settings.PublicURL, "ftp:x", "admin"); !fault.Is(err, fault.Invalid) {
				t.Errorf("bad value: %v", err)
			}
			if _, err := first.Set(ctx, "listen", ":80", "admin"); !fault.Is(err, fault.NotFound) {
				t.Errorf("unknown name: %v", err)
			}
		})
	})
}
