package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/web/api"
)

// serverSite reads serve's --ntp-server, --time-zone and --language: the
// settings phones get where no site matches. Empty values are the built-in
// defaults (pool.ntp.org, UTC, the phone's own language).
func serverSite(o serveOptions) (provisioning.Site, error) {
	var ntp []string
	for _, v := range o.NTPServers {
		ntp = append(ntp, splitFlagList(v)...)
	}
	ntp, err := site.CheckNTPServers("ntp-server", ntp)
	if err != nil {
		return provisioning.Site{}, fmt.Errorf("--ntp-server: %w", err)
	}
	tz, err := site.CheckTimeZone("time-zone", o.TimeZone)
	if err != nil {
		return provisioning.Site{}, fmt.Errorf("--time-zone: %w", err)
	}
	lang, err := site.CheckLanguage("language", o.Language)
	if err != nil {
		return provisioning.Site{}, fmt.Errorf("--language: %w", err)
	}
	return provisioning.Server{Site: provisioning.Site{NTPServers: ntp, TimeZone: tz, Language: lang}}.DefaultSite(), nil
}

// siteDesc is the banner's line for the server-wide phone settings.
func siteDesc(s provisioning.Site) string {
	lang := s.Language
	if lang == "" {
		lang = "the phone's own"
	}
	return fmt.Sprintf("NTP %s, time zone %s, language %s (sites override: deskprov site list)", strings.Join(s.NTPServers, ", "), s.TimeZone, lang)
}

// splitFlagList splits a list given as one value: commas or spaces.
func splitFlagList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

var siteHeaders = []string{"NAME", "SUBNETS", "NTP SERVERS", "TIME ZONE", "LANGUAGE", "ADMIN PASSWORD"}

func orServerWide(v string) string { return firstNonEmpty(v, "(server-wide)") }

func siteRows(ss []site.Site) [][]string {
	rows := make([][]string, len(ss))
	for i, s := range ss {
		rows[i] = []string{s.Name, strings.Join(s.Subnets, ","), orServerWide(strings.Join(s.NTPServers, ",")), orServerWide(s.TimeZone),
			orServerWide(s.Language), setOrNot(s.AdminPassword.Set)}
	}
	return rows
}

func setOrNot(b bool) string {
	if b {
		return "set"
	}
	return "not set"
}

func printSite(w io.Writer, s site.Site) {
	printTable(w, []string{"FIELD", "VALUE"}, [][]string{
		{"Name", s.Name}, {"Subnets", strings.Join(s.Subnets, ", ")}, {"NTP servers", orServerWide(strings.Join(s.NTPServers, ", "))},
		{"Time zone", orServerWide(s.TimeZone)}, {"Language", orServerWide(s.Language)}, {"Admin password", setOrNot(s.AdminPassword.Set)},
		{"Created", s.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")}, {"Updated", s.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")},
	})
}

// readAdminPassword reads the phones' admin password as the first line of
// standard input, so it stays out of shell history and process lists.
func readAdminPassword(cmd *cobra.Command) (string, error) {
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return "", errors.New("--admin-password-stdin: standard input holds no password (give it as the first line)")
	}
	return line, nil
}

// siteFlags are the flags add and set share.
type siteFlags struct {
	name, timeZone, language string
	subnets, ntp             []string
	passwordStdin, removePw  bool
}

// input builds the API body from the flags given on the command line, so
// set changes only those.
func (sf *siteFlags) input(cmd *cobra.Command) (site.Input, error) {
	f := cmd.Flags()
	var in site.Input
	if f.Changed("name") {
		in.Name = &sf.name
	}
	if f.Changed("subnet") {
		var l []string
		for _, v := range sf.subnets {
			l = append(l, splitFlagList(v)...)
		}
		in.Subnets = &l
	}
	if f.Changed("ntp-server") {
		l := []string{}
		for _, v := range sf.ntp {
			l = append(l, splitFlagList(v)...)
		}
		in.NTPServers = &l
	}
	if f.Changed("time-zone") {
		in.TimeZone = &sf.timeZone
	}
	if f.Changed("language") {
		in.Language = &sf.language
	}
	if sf.passwordStdin {
		pw, err := readAdminPassword(cmd)
		if err != nil {
			return in, err
		}
		in.AdminPassword = &pw
	}
	in.RemoveAdminPassword = sf.removePw
	return in, nil
}

func (sf *siteFlags) add(cmd *cobra.Command, withName bool) {
	f := cmd.Flags()
	if withName {
		f.StringVar(&sf.name, "name", "", "new name of the site")
	}
	f.StringSliceVar(&sf.subnets, "subnet", nil, "the site's networks: CIDRs or addresses, IPv4 or IPv6 (repeat the flag or separate with commas); the most specific site wins")
	f.StringSliceVar(&sf.ntp, "ntp-server", nil, "up to 4 NTP servers, host names or addresses (repeat or separate with commas; empty for the server-wide ones)")
	f.StringVar(&sf.timeZone, "time-zone", "", "IANA time zone such as Europe/Stockholm (empty for the server-wide one)")
	f.StringVar(&sf.language, "language", "", "BCP 47 language tag such as sv-SE (empty for the server-wide one)")
	f.BoolVar(&sf.passwordStdin, "admin-password-stdin", false, "read the phones' local admin password from the first line of standard input")
}

func init() {
	cmd := &cobra.Command{
		Use:   "site",
		Short: "Sites: NTP servers, time zone, language and admin password per building, chosen by the phone's subnet",
		Long: `A site is a named set of phone settings chosen by the phone's address: the NTP servers, time
zone, language and local admin password of one building. A phone in several sites' subnets gets
the most specific one; a phone outside every site, and a setting a site leaves empty, get the
server-wide settings (serve --ntp-server, --time-zone, --language).`,
	}
	list := &cobra.Command{
		Use: "list", Short: "List the sites", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var ss []site.Site
			if err := c.do(http.MethodGet, "/api/v1/sites", nil, &ss); err != nil {
				return err
			}
			return render(cmd, ss, func(w io.Writer) { printTable(w, siteHeaders, siteRows(ss)) })
		}),
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show one site", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var s site.Site
			if err := c.do(http.MethodGet, "/api/v1/sites/"+pathEscape(args[0]), nil, &s); err != nil {
				return err
			}
			return render(cmd, s, func(w io.Writer) { printSite(w, s) })
		}),
	}
	var addFlags siteFlags
	add := &cobra.Command{
		Use:     "create NAME --subnet CIDR [--ntp-server HOST] [--time-zone ZONE] [--language TAG] [--admin-password-stdin]",
		Aliases: []string{"add"},
		Short:   "Create a site",
		Example: `  deskprov site create HQ --subnet 10.1.0.0/16,2001:db8:1::/48 --ntp-server ntp1.example.com --time-zone Europe/Stockholm --language sv-SE
  echo 'Phone-Admin-1' | deskprov site create Plant --subnet 10.2.0.0/16 --time-zone America/Chicago --admin-password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			in, err := addFlags.input(cmd)
			if err != nil {
				return err
			}
			in.Name = &args[0]
			if in.Subnets == nil {
				return errors.New("give the site's networks with --subnet, such as --subnet 10.1.0.0/16")
			}
			var s site.Site
			if err := c.do(http.MethodPost, "/api/v1/sites", in, &s); err != nil {
				return err
			}
			return render(cmd, s, func(w io.Writer) { printSite(w, s) })
		}),
	}
	addFlags.add(add, false)
	var setFlags siteFlags
	set := &cobra.Command{
		Use:     "set NAME [--name NEW] [--subnet CIDR] [--ntp-server HOST] [--time-zone ZONE] [--language TAG] [--admin-password-stdin | --remove-admin-password]",
		Short:   "Change a site (only the flags given; --subnet replaces the list)",
		Example: "  deskprov site set HQ --time-zone Europe/Helsinki\n  deskprov site set HQ --ntp-server ''          # back to the server-wide NTP servers\n  deskprov site set HQ --remove-admin-password",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			in, err := setFlags.input(cmd)
			if err != nil {
				return err
			}
			if in == (site.Input{}) {
				return errors.New("nothing to change: give at least one flag (see --help)")
			}
			var s site.Site
			if err := c.do(http.MethodPatch, "/api/v1/sites/"+pathEscape(args[0]), in, &s); err != nil {
				return err
			}
			return render(cmd, s, func(w io.Writer) { printSite(w, s) })
		}),
	}
	setFlags.add(set, true)
	set.Flags().BoolVar(&setFlags.removePw, "remove-admin-password", false, "remove the site's admin password: the phones keep the one they have")
	remove := &cobra.Command{
		Use: "delete NAME", Aliases: []string{"remove", "rm"}, Short: "Delete a site: its phones get the server-wide settings", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var r api.SiteRemoved
			if err := c.do(http.MethodDelete, "/api/v1/sites/"+pathEscape(args[0]), nil, &r); err != nil {
				return err
			}
			return render(cmd, r, func(w io.Writer) {
				fmt.Fprintf(w, "Removed site %s: its phones get the server-wide settings at their next poll\n", r.Removed)
			})
		}),
	}
	cmd.AddCommand(list, show, add, set, remove)
	rootCmd.AddCommand(cmd)
}
