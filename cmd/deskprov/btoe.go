package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
)

// The BToE reference client plays the PC app ("deskprov btoe pair", …) and
// the phone ("deskprov btoe phone …") against the API in docs/btoe.md, so an
// admin can try pairing, sign-in, lock sync and click-to-call from a
// terminal. It keeps its tokens in a state file, not in the admin login.

// btoeState is what the reference client remembers between commands.
type btoeState struct {
	Server string         `json:"server"`
	PC     *btoePCState   `json:"pc,omitempty"`
	Phone  *btoePhoneSide `json:"phone,omitempty"`
}

type btoePCState struct {
	Token     string `json:"token"`
	PairingID string `json:"pairingId"`
	PhoneMAC  string `json:"phoneMac"`
}

type btoePhoneSide struct {
	Token string `json:"token"`
	MAC   string `json:"mac"`
}

var btoeStatePath string

func btoeStateFile() (string, error) {
	if btoeStatePath != "" {
		return btoeStatePath, nil
	}
	if p := os.Getenv("DESKPROV_BTOE_STATE"); p != "" {
		return p, nil
	}
	p, err := configPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "btoe.json"), nil
}

func loadBToEState() (btoeState, error) {
	var st btoeState
	p, err := btoeStateFile()
	if err != nil {
		return st, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s is not valid JSON (%v): remove it and pair again", p, err)
	}
	return st, nil
}

func saveBToEState(st btoeState) error {
	p, err := btoeStateFile()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// btoeServer picks the server: --server, DESKPROV_SERVER, the state file's,
// then the admin login's.
func btoeServer(st btoeState) (string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return "", err
	}
	s := firstNonEmpty(globalOpts.server, os.Getenv("DESKPROV_SERVER"), st.Server, cfg.Server)
	if s == "" {
		return "", errors.New("no server: pass --server URL (the deskprov server the phone is provisioned by)")
	}
	return strings.TrimRight(s, "/"), nil
}

// btoeClient returns an API client carrying token.
func btoeClient(server, token string) *apiClient {
	// Long polls wait up to btoe.MaxWait; leave room for the answer.
	return &apiClient{base: server, token: token, http: &http.Client{Timeout: btoe.MaxWait + 30*time.Second}}
}

// btoeSide is the PC app's or the phone's half of the API.
type btoeSide string

const (
	btoeSidePC    btoeSide = "pc"
	btoeSidePhone btoeSide = "phone"
)

// btoeEventsPage is a long poll's answer.
type btoeEventsPage struct {
	Events []btoe.Event `json:"events"`
}

// btoePoll acknowledges everything up to after and returns what follows,
// waiting up to wait seconds.
func btoePoll(c *apiClient, side btoeSide, after int64, wait int) ([]btoe.Event, error) {
	var page btoeEventsPage
	err := c.do(http.MethodGet, fmt.Sprintf("/btoe/%s/events?after=%d&wait=%d", side, after, wait), nil, &page)
	return page.Events, err
}

// btoeAck acknowledges events up to seq.
func btoeAck(c *apiClient, side btoeSide, seq int64) error {
	return c.do(http.MethodPost, fmt.Sprintf("/btoe/%s/events/ack", side), map[string]int64{"seq": seq}, nil)
}

// btoeReceive prints events as they come: once (waiting up to wait seconds
// for the first), or until the connection fails with follow. Each event is
// acknowledged once printed, so the next run never prints it again.
func btoeReceive(cmd *cobra.Command, c *apiClient, side btoeSide, wait int, follow bool) error {
	var last int64
	for {
		evs, err := btoePoll(c, side, last, wait)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := btoePrintEvent(cmd.OutOrStdout(), e); err != nil {
				return err
			}
			last = e.Seq
		}
		if len(evs) > 0 {
			if err := btoeAck(c, side, last); err != nil {
				return err
			}
		}
		if !follow {
			if len(evs) == 0 && !jsonOutput() {
				fmt.Fprintln(cmd.OutOrStdout(), "no events")
			}
			return nil
		}
	}
}

func btoePrintEvent(w io.Writer, e btoe.Event) error {
	if jsonOutput() {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", e.Seq, tableTime(e.CreatedAt), e.Type, e.Data)
	return err
}

// btoeCommand wraps a RunE with the state file and a client for the server.
func btoeCommand(run func(cmd *cobra.Command, st *btoeState, server string, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(); err != nil {
			return err
		}
		st, err := loadBToEState()
		if err != nil {
			return err
		}
		server, err := btoeServer(st)
		if err != nil {
			return err
		}
		return run(cmd, &st, server, args)
	}
}

// pcClient returns a client with the PC app's token.
func (st *btoeState) pcClient(server string) (*apiClient, error) {
	if st.PC == nil || st.PC.Token == "" {
		return nil, errors.New("the PC app is not paired: run deskprov btoe pair --phone MAC first")
	}
	return btoeClient(server, st.PC.Token), nil
}

func (st *btoeState) phoneClient(server string) (*apiClient, error) {
	if st.Phone == nil || st.Phone.Token == "" {
		return nil, errors.New("no phone registered: run deskprov btoe phone register --mac MAC first")
	}
	return btoeClient(server, st.Phone.Token), nil
}

// btoeReadPassword takes the PC user's password from DESKPROV_BTOE_PASSWORD
// or the first line of standard input.
func btoeReadPassword(cmd *cobra.Command) (string, error) {
	if pw := os.Getenv("DESKPROV_BTOE_PASSWORD"); pw != "" {
		return pw, nil
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password: type it, pipe it on standard input, or set DESKPROV_BTOE_PASSWORD")
	}
	return pw, nil
}

func init() {
	root := &cobra.Command{
		Use:   "btoe",
		Short: "Try Better Together over Ethernet: play the PC app (and the phone) against a server",
		Long: `The BToE reference client. "deskprov btoe pair", "signin", "lock", "unlock", "call" and
"unpair" do what the PC app does; "deskprov btoe phone ..." does what the phone does, so the
whole flow can be tried from two terminals. Tokens are kept in a state file
(--state, DESKPROV_BTOE_STATE, default btoe.json beside the CLI config). The HTTP API is in
docs/btoe.md.`,
	}
	root.PersistentFlags().StringVar(&btoeStatePath, "state", "", "state file for the reference client's tokens")

	var pair struct {
		phone, code, os, clientID string
	}
	pairCmd := &cobra.Command{
		Use:   "pair --phone MAC [--code CODE]",
		Short: "Pair the PC app with the phone on its PC port (Manual mode: with the code the phone shows)",
		Args:  cobra.NoArgs,
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
			if pair.phone == "" {
				return errors.New("--phone is required: the MAC address of the phone on this PC's port")
			}
			clientID := pair.clientID
			if clientID == "" {
				host, _ := os.Hostname()
				clientID = "deskprov-cli@" + firstNonEmpty(host, "localhost")
			}
			var out btoe.Paired
			req := btoe.PairRequest{ClientID: clientID, OS: pair.os, PhoneMAC: pair.phone, PairingCode: pair.code}
			if err := btoeClient(server, "").do(http.MethodPost, "/btoe/pc/pair", req, &out); err != nil {
				return err
			}
			st.Server = server
			st.PC = &btoePCState{Token: out.Token, PairingID: out.Pairing.ID, PhoneMAC: out.Pairing.PhoneMAC}
			if err := saveBToEState(*st); err != nil {
				return err
			}
			return render(cmd, out.Pairing, func(w io.Writer) {
				if out.Pairing.Status == btoe.StatusPending {
					fmt.Fprintf(w, "asked phone %s to pair with %q (Auto mode), pairing %s: confirm on the phone before %s (deskprov btoe phone confirm)\n",
						out.Pairing.PhoneMAC, out.Pairing.ClientID, out.Pairing.ID, cliTime(out.Pairing.ConfirmBy))
					return
				}
				fmt.Fprintf(w, "paired with phone %s (%s mode), pairing %s\n", out.Pairing.PhoneMAC, out.Pairing.Mode, out.Pairing.ID)
			})
		}),
	}
	pairCmd.Flags().StringVar(&pair.phone, "phone", "", "MAC address of the phone on this PC's port")
	pairCmd.Flags().StringVar(&pair.code, "code", "", "pairing code the phone shows (Manual mode)")
	pairCmd.Flags().StringVar(&pair.os, "os", "Windows", "operating system the PC app declares: Windows (Mac and VDI are refused)")
	pairCmd.Flags().StringVar(&pair.clientID, "client-id", "", "PC app instance name (default deskprov-cli@HOSTNAME)")

	var upn string
	signinCmd := &cobra.Command{
		Use:   "signin --upn USER",
		Short: "Sign the paired phone in as the PC's user (password from stdin or DESKPROV_BTOE_PASSWORD)",
		Args:  cobra.NoArgs,
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
			c, err := st.pcClient(server)
			if err != nil {
				return err
			}
			if upn == "" {
				return errors.New("--upn is required: the PC user's sign-in address")
			}
			pw, err := btoeReadPassword(cmd)
			if err != nil {
				return err
			}
			var out btoe.PCSignIn
			if err := c.do(http.MethodPost, "/btoe/pc/signin", map[string]string{"upn": upn, "password": pw}, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "sign-in for %s sent to the phone; its one-time code is good until %s\n", out.UPN, tableTime(out.CodeExpiresAt))
			})
		}),
	}
	signinCmd.Flags().StringVar(&upn, "upn", "", "the PC user's sign-in address")

	simple := func(use, short, path string) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
				c, err := st.pcClient(server)
				if err != nil {
					return err
				}
				var out map[string]any
				if err := c.do(http.MethodPost, path, struct{}{}, &out); err != nil {
					return err
				}
				return render(cmd, out, func(w io.Writer) { fmt.Fprintf(w, "%s sent to phone %s\n", out["event"], st.PC.PhoneMAC) })
			}),
		}
	}
	lockCmd := simple("lock", "Lock the paired phone, as locking the PC does", "/btoe/pc/lock")
	unlockCmd := simple("unlock", "Unlock the paired phone, as unlocking the PC does", "/btoe/pc/unlock")

	callCmd := &cobra.Command{
		Use:   "call NUMBER",
		Short: "Click-to-call: make the paired phone dial NUMBER",
		Args:  cobra.ExactArgs(1),
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, args []string) error {
			c, err := st.pcClient(server)
			if err != nil {
				return err
			}
			var out struct {
				Number string `json:"number"`
			}
			if err := c.do(http.MethodPost, "/btoe/pc/call", map[string]string{"number": args[0]}, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { fmt.Fprintf(w, "phone %s dials %s\n", st.PC.PhoneMAC, out.Number) })
		}),
	}

	unpairCmd := &cobra.Command{
		Use:   "unpair",
		Short: "End the PC app's pairing (the phone is told)",
		Args:  cobra.NoArgs,
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
			c, err := st.pcClient(server)
			if err != nil {
				return err
			}
			if err := c.do(http.MethodPost, "/btoe/pc/unpair", struct{}{}, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unpaired from phone %s\n", st.PC.PhoneMAC)
			return nil
		}),
	}

	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "Show the PC app's pairing",
		Args:  cobra.NoArgs,
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
			c, err := st.pcClient(server)
			if err != nil {
				return err
			}
			var p btoe.Pairing
			if err := c.do(http.MethodGet, "/btoe/pc/pairing", nil, &p); err != nil {
				return err
			}
			return render(cmd, p, func(w io.Writer) {
				state := p.Status
				if p.Status == btoe.StatusEnded {
					state = "ended by " + p.EndedBy
				}
				printTable(w, []string{"PAIRING", "PHONE", "MODE", "STATE", "SIGNED IN"}, [][]string{{p.ID, p.PhoneMAC, p.Mode, state, firstNonEmpty(p.SignedInUPN, "-")}})
			})
		}),
	}

	var ev struct {
		wait   int
		follow bool
	}
	eventsCmd := func(side btoeSide, short string) *cobra.Command {
		c := &cobra.Command{
			Use:   "events",
			Short: short,
			Args:  cobra.NoArgs,
			RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
				get := st.pcClient
				if side == btoeSidePhone {
					get = st.phoneClient
				}
				c, err := get(server)
				if err != nil {
					return err
				}
				if ev.wait < 0 || time.Duration(ev.wait)*time.Second > btoe.MaxWait {
					return fmt.Errorf("--wait %d: give 0 to %d seconds", ev.wait, int(btoe.MaxWait/time.Second))
				}
				wait := ev.wait
				if ev.follow && wait == 0 {
					wait = 30 // following is long polling, never a busy loop
				}
				return btoeReceive(cmd, c, side, wait, ev.follow)
			}),
		}
		c.Flags().IntVar(&ev.wait, "wait", 0, "seconds to wait for an event (long poll, at most 60)")
		c.Flags().BoolVar(&ev.follow, "follow", false, "keep receiving until interrupted")
		return c
	}

	var reg struct {
		mac, accessToken, provUser, provPassword string
	}
	phone := &cobra.Command{Use: "phone", Short: "Play the phone's side: register, answer pairing requests, show the pairing code, receive events"}
	registerCmd := &cobra.Command{
		Use:   "register --mac MAC (--access-token TOKEN | --prov-user USER --prov-password PASSWORD)",
		Short: "Register a phone for BToE, proving it is that phone (prints the pairing code in Manual mode)",
		Long: `Register a phone for BToE. Only the phone itself may: prove it with the access token of
the user signed in on it (--access-token, DESKPROV_BTOE_ACCESS_TOKEN: the access_token the
phone got from /oauth2/token with device_id set to its MAC) or with the phone's provisioning
credentials (--prov-user and --prov-password, DESKPROV_BTOE_PROV_PASSWORD: the user and password
its configuration file gave it), sent with HTTP Basic authentication, so use an https:// server.`,
		Args: cobra.NoArgs,
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
			if reg.mac == "" {
				return errors.New("--mac is required: the phone's MAC address")
			}
			c, err := btoeProvenPhone(server, reg.accessToken, reg.provUser, reg.provPassword)
			if err != nil {
				return err
			}
			body := map[string]string{"mac": reg.mac}
			// The phone's current token, when it has one, keeps its pairing.
			if m, err := btoe.CanonicalMAC(reg.mac); err == nil && st.Phone != nil && st.Phone.MAC == m && st.Phone.Token != "" {
				body["token"] = st.Phone.Token
			}
			var out btoe.Registration
			if err := c.do(http.MethodPost, "/btoe/phone/register", body, &out); err != nil {
				return err
			}
			st.Server = server
			st.Phone = &btoePhoneSide{Token: out.Token, MAC: out.MAC}
			if err := saveBToEState(*st); err != nil {
				return err
			}
			out.Token = ""
			return render(cmd, out, func(w io.Writer) { btoePrintRegistration(w, out) })
		}),
	}
	registerCmd.Flags().StringVar(&reg.mac, "mac", "", "the phone's MAC address")
	registerCmd.Flags().StringVar(&reg.accessToken, "access-token", "", "access token of the user signed in on the phone (or DESKPROV_BTOE_ACCESS_TOKEN)")
	registerCmd.Flags().StringVar(&reg.provUser, "prov-user", "", "the phone's provisioning user")
	registerCmd.Flags().StringVar(&reg.provPassword, "prov-password", "", "the phone's provisioning password (or DESKPROV_BTOE_PROV_PASSWORD)")
	answer := func(verb, short string) *cobra.Command {
		return &cobra.Command{
			Use:   verb + " [PAIRING_ID]",
			Short: short,
			Args:  cobra.MaximumNArgs(1),
			RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, args []string) error {
				c, err := st.phoneClient(server)
				if err != nil {
					return err
				}
				id := ""
				if len(args) == 1 {
					id = args[0]
				} else if id, err = btoeOnlyRequest(c); err != nil {
					return err
				}
				if verb == "decline" {
					if err := c.do(http.MethodPost, "/btoe/phone/pairing/decline", map[string]string{"pairingId": id}, nil); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "declined pairing request %s\n", id)
					return nil
				}
				var p btoe.Pairing
				if err := c.do(http.MethodPost, "/btoe/phone/pairing/confirm", map[string]string{"pairingId": id}, &p); err != nil {
					return err
				}
				return render(cmd, p, func(w io.Writer) {
					fmt.Fprintf(w, "paired with PC app %q (%s mode), pairing %s\n", p.ClientID, p.Mode, p.ID)
				})
			}),
		}
	}
	confirmCmd := answer("confirm", "Confirm a PC app's Auto pairing request, as pressing yes on the phone's screen does")
	declineCmd := answer("decline", "Decline a PC app's Auto pairing request")
	codeCmd := &cobra.Command{
		Use:   "code",
		Short: "Get a fresh pairing code for the phone (Manual mode)",
		Args:  cobra.NoArgs,
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
			c, err := st.phoneClient(server)
			if err != nil {
				return err
			}
			var reg btoe.Registration
			if err := c.do(http.MethodPost, "/btoe/phone/pairing-code", struct{}{}, &reg); err != nil {
				return err
			}
			return render(cmd, reg, func(w io.Writer) { btoePrintRegistration(w, reg) })
		}),
	}
	phoneUnpairCmd := &cobra.Command{
		Use:   "unpair",
		Short: "End the phone's pairing from the phone (the PC app is told)",
		Args:  cobra.NoArgs,
		RunE: btoeCommand(func(cmd *cobra.Command, st *btoeState, server string, _ []string) error {
			c, err := st.phoneClient(server)
			if err != nil {
				return err
			}
			if err := c.do(http.MethodPost, "/btoe/phone/unpair", struct{}{}, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "phone %s unpaired\n", st.Phone.MAC)
			return nil
		}),
	}
	forgetCmd := &cobra.Command{
		Use:   "forget MAC",
		Short: "Admin: forget a phone's BToE registration (it lost its token, or left); ends its pairing",
		Args:  cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/btoe/phones/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "forgot phone %s: it may register again\n", args[0])
			return nil
		}),
	}
	pairingsCmd := &cobra.Command{
		Use:   "pairings",
		Short: "Admin: list the active BToE pairings",
		Args:  cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var ps []btoe.Pairing
			if err := c.do(http.MethodGet, "/api/v1/btoe/pairings", nil, &ps); err != nil {
				return err
			}
			return render(cmd, ps, func(w io.Writer) {
				rows := make([][]string, len(ps))
				for i, p := range ps {
					rows[i] = []string{p.PhoneMAC, p.ClientID, p.OS, p.Mode, firstNonEmpty(p.SignedInUPN, "-"), tableTime(p.CreatedAt)}
				}
				printTable(w, []string{"PHONE", "PC APP", "OS", "MODE", "SIGNED IN", "SINCE"}, rows)
			})
		}),
	}
	phone.AddCommand(registerCmd, confirmCmd, declineCmd, codeCmd, phoneUnpairCmd, eventsCmd(btoeSidePhone, "Receive the phone's events (signin, lock, unlock, dial, paired, unpaired) and acknowledge them"))
	root.AddCommand(pairCmd, signinCmd, lockCmd, unlockCmd, callCmd, unpairCmd, statusCmd, phone,
		eventsCmd(btoeSidePC, "Receive the PC app's events (unpaired) and acknowledge them"), forgetCmd, pairingsCmd)
	rootCmd.AddCommand(root)
}

// btoeProvenPhone returns a client that proves it is the phone: with the
// access token of its session, or its provisioning credentials.
func btoeProvenPhone(server, accessToken, user, password string) (*apiClient, error) {
	accessToken = firstNonEmpty(accessToken, os.Getenv("DESKPROV_BTOE_ACCESS_TOKEN"))
	password = firstNonEmpty(password, os.Getenv("DESKPROV_BTOE_PROV_PASSWORD"))
	switch {
	case user != "" && password != "":
		c := btoeClient(server, "")
		c.http.Transport = btoeBasicAuth{user: user, password: password, next: http.DefaultTransport}
		return c, nil
	case user != "" || password != "":
		return nil, errors.New("give both --prov-user and --prov-password (the phone's provisioning credentials)")
	case accessToken != "":
		return btoeClient(server, accessToken), nil
	}
	return nil, errors.New("prove that you are the phone: pass --access-token (the access token of the user signed in on it) or --prov-user and --prov-password (its provisioning credentials)")
}

// btoeBasicAuth sends the phone's provisioning credentials in place of a
// bearer token.
type btoeBasicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b btoeBasicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

// btoeOnlyRequest returns the id of the phone's one waiting pairing request.
func btoeOnlyRequest(c *apiClient) (string, error) {
	var st struct {
		Requests []btoe.Pairing `json:"requests"`
	}
	if err := c.do(http.MethodGet, "/btoe/phone/pairing", nil, &st); err != nil {
		return "", err
	}
	switch len(st.Requests) {
	case 0:
		return "", errors.New("no pairing request is waiting for this phone: pair from the PC app first (deskprov btoe pair --phone MAC)")
	case 1:
		return st.Requests[0].ID, nil
	}
	var ids []string
	for _, r := range st.Requests {
		ids = append(ids, fmt.Sprintf("%s (from %q)", r.ID, r.ClientID))
	}
	return "", fmt.Errorf("%d pairing requests are waiting: name one of %s", len(ids), strings.Join(ids, ", "))
}

func btoePrintRegistration(w io.Writer, reg btoe.Registration) {
	fmt.Fprintf(w, "phone %s registered, pairing mode %s\n", reg.MAC, reg.Mode)
	if reg.SignedInUPN != "" {
		fmt.Fprintf(w, "signed in: %s\n", reg.SignedInUPN)
	}
	if reg.PairingCode != "" {
		fmt.Fprintf(w, "pairing code: %s (until %s)\n", reg.PairingCode, cliTime(reg.CodeExpiresAt))
	}
}

// addBToE builds the BToE service on the app's policy and sign-in services
// and mounts its module. The PC user's password is checked by sign-in, so
// it spends the same budgets as every other password (and MFA users are
// refused); sign-in also vouches for phones that register with their
// session's access token. serve stops it at shutdown so that long polls and
// event streams do not hold the server up.
func (a *app) addBToE(si *signin.Service) error {
	if err := btoe.Migrate(a.db); err != nil {
		return fmt.Errorf("migrate the store: %w", err)
	}
	a.btoe = btoe.New(a.db, a.policy, si, si.PCPasswords())
	a.btoe.UseHub(a.hub)
	a.modules = append(a.modules, phone.BToE(a.btoe, si), api.BToE(a.btoe), console.BToE(a.btoe))
	return nil
}
