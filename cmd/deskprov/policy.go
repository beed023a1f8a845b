package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deskprov/deskprov/policy"
)

// policyView is a policy as the API answers it: Identity, Version and the
// settings side by side.
type policyView struct {
	Identity string `json:"Identity"`
	Version  int64  `json:"Version"`
	policy.Settings
}

var policyListHeaders = []string{"IDENTITY", "VERSION", "DEVICE UPDATE", "PHONE LOCK", "LOCK TIMEOUT", "SIGN-IN MODE", "BTOE"}

func policyListRows(ps []policyView) [][]string {
	rows := make([][]string, len(ps))
	for i, p := range ps {
		rows[i] = []string{p.Identity, strconv.FormatInt(p.Version, 10), yesNo(p.EnableDeviceUpdate), yesNo(p.EnablePhoneLock), p.PhoneLockTimeout, p.SignInMode, yesNo(p.EnableBetterTogetherOverEthernet)}
	}
	return rows
}

// printPolicy lists every setting of one policy, one per line, as
// Get-CsIPPhonePolicy does.
func printPolicy(w io.Writer, p policyView) {
	rows := [][]string{{"Identity", p.Identity}, {"Version", strconv.FormatInt(p.Version, 10)}}
	for _, f := range policy.Fields() {
		rows = append(rows, []string{f.Name, f.Text(p.Settings)})
	}
	printTable(w, []string{"SETTING", "VALUE"}, rows)
}

// addSettingFlags gives cmd one flag per setting, named exactly as the
// Set-CsIPPhonePolicy parameter. Each flag reads its value with
// policy.ParseText, the parser the console uses, so a bad value gets the
// same message naming the setting and what it allows.
//
// defaults are what an omitted flag means, shown in help: the policy
// defaults for "policy create"; nil for "policy set", where an omitted flag
// leaves the setting as it is (so help shows no default at all rather than
// a made-up 0).
func addSettingFlags(fs *pflag.FlagSet, defaults *policy.Settings) {
	for _, f := range policy.Fields() {
		v := &settingFlag{field: f}
		def := ""
		if defaults != nil {
			def = f.Text(*defaults)
		}
		fl := fs.VarPF(v, f.Name, "", f.Help+" ("+f.AllowedText()+")")
		fl.DefValue = def
		if f.Kind == policy.Secret {
			fl.DefValue = "" // never print a secret's value
		}
		if f.Kind == policy.Bool {
			fl.NoOptDefVal = "true" // --EnableDeviceUpdate alone means true
		}
	}
}

// settingFlag is one setting's flag: its text as given, checked on Set.
type settingFlag struct {
	field policy.Field
	text  string
}

func (v *settingFlag) String() string { return v.text }

func (v *settingFlag) Set(s string) error {
	if _, err := policy.ParseText(v.field.Name, s); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), v.field.Name+": "))
	}
	v.text = s
	return nil
}

func (v *settingFlag) Type() string {
	switch v.field.Kind {
	case policy.Bool:
		return "bool"
	case policy.Int:
		return "int"
	}
	return "string"
}

func (v *settingFlag) IsBoolFlag() bool { return v.field.Kind == policy.Bool }

// settingPatch collects the setting flags given on the command line.
func settingPatch(fs *pflag.FlagSet) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, f := range policy.Fields() {
		fl := fs.Lookup(f.Name)
		if fl == nil || !fl.Changed {
			continue
		}
		raw, err := policy.ParseText(f.Name, fl.Value.String())
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", f.Name, err)
		}
		out[f.Name] = raw
	}
	return out, nil
}

func init() {
	pol := &cobra.Command{
		Use:   "policy",
		Short: "Manage IP phone policies (Global and named policies, grants)",
		Long: `Manage IP phone policies, as Get-, Set-, New-, Remove- and Grant-CsIPPhonePolicy do.
Global applies to everyone without a named policy; it cannot be removed, only reset.
Setting flags are named as the cmdlet parameters, for example --EnableDeviceUpdate=false.

A policy's Version is the number of its last edit in one count over all policies: every edit
of any policy takes the next number, so a phone whose user moves to another policy sees a
new version too. A new policy therefore starts at whatever the count has reached, not at 1.`,
	}

	get := &cobra.Command{
		Use:     "get [identity]",
		Short:   "List the policies, or show every setting of one",
		Example: "  deskprov policy get\n  deskprov policy get Global",
		Args:    cobra.MaximumNArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if len(args) == 0 {
				var ps []policyView
				if err := c.do(http.MethodGet, "/api/v1/ipphonepolicies", nil, &ps); err != nil {
					return err
				}
				return render(cmd, ps, func(w io.Writer) { printTable(w, policyListHeaders, policyListRows(ps)) })
			}
			var p policyView
			if err := c.do(http.MethodGet, "/api/v1/ipphonepolicies/"+pathEscape(args[0]), nil, &p); err != nil {
				return err
			}
			return render(cmd, p, func(w io.Writer) { printPolicy(w, p) })
		}),
	}

	set := &cobra.Command{
		Use:     "set <identity> --Setting=value ...",
		Short:   "Change the settings given as flags, and no others",
		Example: "  deskprov policy set Global --EnableDeviceUpdate=false --PhoneLockTimeout 00:05:00",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			patch, err := settingPatch(cmd.Flags())
			if err != nil {
				return err
			}
			if len(patch) == 0 {
				return errors.New("give at least one setting to change, for example --EnableDeviceUpdate=false (see deskprov policy set --help)")
			}
			var p policyView
			if err := c.do(http.MethodPatch, "/api/v1/ipphonepolicies/"+pathEscape(args[0]), patch, &p); err != nil {
				return err
			}
			return render(cmd, p, func(w io.Writer) { printPolicy(w, p) })
		}),
	}
	addSettingFlags(set.Flags(), nil)

	create := &cobra.Command{
		Use:     "create <identity> [--Setting=value ...]",
		Aliases: []string{"new"},
		Short:   "Create a named policy from the defaults and the settings given",
		Example: "  deskprov policy create Sales --EnableBetterTogetherOverEthernet=false",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			patch, err := settingPatch(cmd.Flags())
			if err != nil {
				return err
			}
			id, _ := json.Marshal(args[0])
			patch["Identity"] = id
			var p policyView
			if err := c.do(http.MethodPost, "/api/v1/ipphonepolicies", patch, &p); err != nil {
				return err
			}
			return render(cmd, p, func(w io.Writer) {
				printPolicy(w, p)
				fmt.Fprintf(w, "\nVersion %d counts edits over all policies (deskprov policy --help), so a new policy does not start at 1.\n", p.Version)
			})
		}),
	}
	defaults := policy.Defaults()
	addSettingFlags(create.Flags(), &defaults)

	var force bool
	remove := &cobra.Command{
		Use:     "delete <identity>",
		Aliases: []string{"remove", "rm"},
		Short:   "Delete a named policy (--force moves the users who hold it to Global)",
		Example: "  deskprov policy delete Sales --force",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			path := "/api/v1/ipphonepolicies/" + pathEscape(args[0])
			if force {
				path += "?force=true"
			}
			var out struct {
				Removed       string `json:"removed"`
				MovedToGlobal int64  `json:"movedToGlobal"`
			}
			if err := c.do(http.MethodDelete, path, nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "removed %s; %d user(s) moved to Global\n", out.Removed, out.MovedToGlobal)
			})
		}),
	}
	remove.Flags().BoolVar(&force, "force", false, "remove even when users hold the policy, moving them to Global")

	reset := &cobra.Command{
		Use:     "reset <identity>",
		Short:   "Put every setting of a policy (Global included) back to the default",
		Example: "  deskprov policy reset Global",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var p policyView
			if err := c.do(http.MethodPost, "/api/v1/ipphonepolicies/"+pathEscape(args[0])+"/reset", nil, &p); err != nil {
				return err
			}
			return render(cmd, p, func(w io.Writer) { printPolicy(w, p) })
		}),
	}

	var global bool
	grant := &cobra.Command{
		Use:     "grant <upn> <policy>|--global",
		Short:   "Grant a named policy to a user, or --global to fall back to Global",
		Example: "  deskprov policy grant amosm@contoso.com Sales\n  deskprov policy grant amosm@contoso.com --global",
		Args:    cobra.RangeArgs(1, 2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			body := map[string]*string{"PolicyName": nil}
			switch {
			case global && len(args) == 2:
				return errors.New("give a policy name or --global, not both")
			case !global && len(args) == 1:
				return errors.New("give the policy name to grant, or --global to fall back to Global")
			case len(args) == 2:
				body["PolicyName"] = &args[1]
			}
			var a policy.Assignment
			if err := c.do(http.MethodPut, "/api/v1/users/"+pathEscape(args[0])+"/ipphonepolicy", body, &a); err != nil {
				return err
			}
			return render(cmd, a, func(w io.Writer) {
				name := policy.GlobalIdentity + " (no named policy)"
				if a.PolicyName != nil {
					name = *a.PolicyName
				}
				fmt.Fprintf(w, "%s now has the IP phone policy %s\n", a.UPN, name)
			})
		}),
	}
	grant.Flags().BoolVar(&global, "global", false, "take the user's named policy away so that Global applies")

	effective := &cobra.Command{
		Use:     "effective <upn>",
		Short:   "Show the policy that applies to a user",
		Example: "  deskprov policy effective amosm@contoso.com",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var e policy.Effective
			if err := c.do(http.MethodGet, "/api/v1/users/"+pathEscape(args[0])+"/ipphonepolicy/effective", nil, &e); err != nil {
				return err
			}
			return render(cmd, e, func(w io.Writer) {
				printPolicy(w, policyView{Identity: e.Identity, Version: e.Version, Settings: e.Settings})
			})
		}),
	}

	var object string
	var limit int
	audit := &cobra.Command{
		Use:     "audit",
		Short:   "Show who changed which policy or grant, when, and how",
		Example: "  deskprov policy audit --object ipphonepolicy/Global\n  deskprov policy audit --object user/amosm@contoso.com",
		Args:    cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			q := url.Values{}
			if object != "" {
				q.Set("object", object)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var es []policy.AuditEntry
			if err := c.do(http.MethodGet, "/api/v1/audit?"+q.Encode(), nil, &es); err != nil {
				return err
			}
			return render(cmd, es, func(w io.Writer) {
				rows := make([][]string, len(es))
				for i, e := range es {
					rows[i] = []string{tableTime(e.At), e.Actor, e.Action, e.Object, auditDiff(e)}
				}
				printTable(w, []string{"AT", "ACTOR", "ACTION", "OBJECT", "CHANGE"}, rows)
			})
		}),
	}
	audit.Flags().StringVar(&object, "object", "", "only this object (ipphonepolicy/Sales) or everything under a prefix (ipphonepolicy, user/amosm@contoso.com)")
	audit.Flags().IntVar(&limit, "limit", 100, "at most this many entries, newest first")

	pol.AddCommand(get, set, create, remove, reset, grant, effective, audit)
	rootCmd.AddCommand(pol)
}

// auditDiff summarises an audit entry as the settings that changed.
func auditDiff(e policy.AuditEntry) string {
	var before, after map[string]any
	_ = json.Unmarshal(e.Before, &before)
	_ = json.Unmarshal(e.After, &after)
	switch {
	case before == nil && after == nil:
		return "-"
	case before == nil:
		return "created"
	case after == nil:
		return "removed"
	}
	out := ""
	for _, k := range append([]string{"PolicyName"}, fieldNames()...) {
		b, a := before[k], after[k]
		if fmt.Sprint(b) != fmt.Sprint(a) {
			if out != "" {
				out += "; "
			}
			out += fmt.Sprintf("%s: %v → %v", k, policyShow(b), policyShow(a))
		}
	}
	if out == "" {
		return "-"
	}
	return out
}

func policyShow(v any) string {
	if v == nil {
		return "Global"
	}
	return fmt.Sprint(v)
}

func fieldNames() []string {
	var out []string
	for _, f := range policy.Fields() {
		out = append(out, f.Name)
	}
	return out
}
