package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
)

// settingsCanon checks each service-wide setting as serve checks its flag,
// and gives the one form that is recorded and compared.
var settingsCanon = map[string]settings.Canon{
	settings.PublicURL: func(v string) (string, error) {
		v = strings.TrimRight(strings.TrimSpace(v), "/")
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", errors.New("give the base URL phones and browsers use, such as https://deskprov.example.com")
		}
		return v, nil
	},
	settings.PollInterval: func(v string) (string, error) {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 5*time.Minute || d > 720*time.Hour {
			return "", errors.New("give a duration from 5m to 720h (Yealink phones accept at most 30 days)")
		}
		return d.String(), nil
	},
	settings.PhoneLockLockout: func(v string) (string, error) {
		m, err := parseLockouts(v)
		if err != nil {
			return "", err
		}
		return lockoutString(m), nil
	},
	settings.PhoneCredentials: func(v string) (string, error) {
		fams, err := provisioning.ParsePhoneCredentials(v)
		if err != nil {
			return "", err
		}
		if len(fams) == 0 {
			return "none", nil
		}
		fams = slices.Clone(fams)
		sort.Strings(fams)
		return strings.Join(fams, ","), nil
	},
	settings.EnrollNetworks: func(v string) (string, error) {
		nets, err := phoneid.ParseNetworks(v)
		if err != nil {
			return "", err
		}
		s := make([]string, len(nets))
		for i, n := range nets {
			s[i] = n.String()
		}
		return strings.Join(s, ","), nil
	},
}

// parseLockouts reads family=action pairs (--phone-lock-lockout).
func parseLockouts(v string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		family, action, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q: give family=action pairs, such as polycom=sign_out", kv)
		}
		m[strings.TrimSpace(family)] = strings.TrimSpace(action)
	}
	for family, action := range m {
		if _, ok := signin.Clients[family]; !ok {
			return nil, fmt.Errorf("unknown phone family %q: use polycom, yealink, audiocodes or lpe", family)
		}
		if l := signin.Lockout(action); l != signin.LockoutSignOut && l != signin.LockoutAdminCode {
			return nil, fmt.Errorf("%s=%q: use sign_out or admin_unlock_code", family, action)
		}
	}
	return m, nil
}

func lockoutString(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// settingValues are o's service-wide settings in their canonical form.
func (o serveOptions) settingValues() (map[string]string, error) {
	raw := map[string]string{
		settings.PublicURL:        o.PublicURL,
		settings.PollInterval:     o.PollInterval.String(),
		settings.PhoneLockLockout: lockoutString(o.PhoneLockLockout),
		settings.PhoneCredentials: o.PhoneCredentials,
		settings.EnrollNetworks:   o.EnrollNetworks,
	}
	if o.PollInterval == 0 {
		raw[settings.PollInterval] = time.Hour.String()
	}
	out := map[string]string{}
	for name, v := range raw {
		c, err := settingsCanon[name](v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
		out[name] = c
	}
	return out, nil
}

// reconcileSettings records o's service-wide settings or takes the recorded
// ones (settings.Reconcile), and returns o with the values to run with.
func (a *app) reconcileSettings(ctx context.Context, o serveOptions) (serveOptions, error) {
	mine, err := o.settingValues()
	if err != nil {
		return o, err
	}
	host, _ := os.Hostname()
	svc := settings.New(a.db, settingsCanon)
	got, err := svc.Reconcile(ctx, mine, o.Explicit, a.engine == store.Postgres, "serve on "+host)
	if err != nil {
		return o, err
	}
	a.settings = svc
	for name, v := range got {
		if v == mine[name] {
			continue
		}
		a.log.Info("took a service-wide setting from the database", "setting", name, "value", v, "flag_value", mine[name])
		switch name {
		case settings.PublicURL:
			o.PublicURL = v
		case settings.PollInterval:
			if o.PollInterval, err = time.ParseDuration(v); err != nil {
				return o, fmt.Errorf("the recorded %s %q: %w", name, v, err)
			}
		case settings.PhoneLockLockout:
			if o.PhoneLockLockout, err = parseLockouts(v); err != nil {
				return o, fmt.Errorf("the recorded %s %q: %w", name, v, err)
			}
		case settings.PhoneCredentials:
			o.PhoneCredentials = v
		case settings.EnrollNetworks:
			o.EnrollNetworks = v
		}
	}
	a.modules = append(a.modules, api.ServiceSettings(svc), console.Settings(svc))
	return o, nil
}

func settingsTable(w io.Writer, ss []settings.Setting) {
	rows := make([][]string, len(ss))
	for i, s := range ss {
		here := "same"
		if s.InEffect != s.Value {
			here = firstNonEmpty(s.InEffect, "-") + " (until restarted)"
		}
		at := "-"
		if !s.UpdatedAt.IsZero() {
			at = s.UpdatedAt.UTC().Format(time.RFC3339)
		}
		rows[i] = []string{s.Name, firstNonEmpty(s.Value, `""`), here, firstNonEmpty(s.SetBy, "-"), at}
	}
	printTable(w, []string{"SETTING", "RECORDED", "THIS SERVER USES", "SET BY", "AT"}, rows)
}

func init() {
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show or change the service-wide settings every server on one database shares",
		Long: `Service-wide settings (public-url, poll-interval, phone-lock-lockout, phone-credentials,
enroll-networks) shape tokens, phone files and sign-in, so every server on one database must
run with the same values. They are kept in the database: the first server records its flags,
later ones take the recorded values, and a server given a different value explicitly is
refused at start. "settings set" records a new value; restart each server to apply it.`,
	}
	show := &cobra.Command{
		Use: "show", Short: "Show the recorded settings and the values the server you talk to runs with", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var ss []settings.Setting
			if err := c.do(http.MethodGet, "/api/v1/settings/service", nil, &ss); err != nil {
				return err
			}
			return render(cmd, ss, func(w io.Writer) { settingsTable(w, ss) })
		}),
	}
	set := &cobra.Command{
		Use: "set NAME VALUE", Short: "Record a new value for a service-wide setting (restart each server to apply it)", Args: cobra.ExactArgs(2),
		Example: "  deskprov settings set public-url https://deskprov.example.com\n  deskprov settings set poll-interval 30m",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var s settings.Setting
			if err := c.do(http.MethodPut, "/api/v1/settings/service/"+pathEscape(args[0]), map[string]string{"value": args[1]}, &s); err != nil {
				return err
			}
			if err := render(cmd, s, func(w io.Writer) { settingsTable(w, []settings.Setting{s}) }); err != nil {
				return err
			}
			if !jsonOutput() && s.InEffect != s.Value {
				fmt.Fprintf(cmd.OutOrStdout(), "recorded; restart each server to apply it (a server started with --%s of another value is refused)\n", s.Name)
			}
			return nil
		}),
	}
	cmd.AddCommand(show, set)
	rootCmd.AddCommand(cmd)
}
