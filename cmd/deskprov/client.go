package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/fault"
)

// cliConfig is what "deskprov login" keeps in the user's config directory.
type cliConfig struct {
	Server   string `json:"server"`
	Username string `json:"username"`
	Token    string `json:"token"`
}

var globalOpts struct {
	server string
	token  string
	output string
}

func init() {
	pf := rootCmd.PersistentFlags()
	pf.StringVar(&globalOpts.server, "server", "", "deskprov server URL (default: the one from deskprov login; env DESKPROV_SERVER)")
	pf.StringVar(&globalOpts.token, "token", "", "admin token (default: the one from deskprov login; env DESKPROV_TOKEN)")
	pf.StringVarP(&globalOpts.output, "output", "o", "table", "output format: table or json")
}

func configPath() (string, error) {
	if p := os.Getenv("DESKPROV_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "deskprov", "cli.json"), nil
}

func loadConfig() (cliConfig, error) {
	var c cliConfig
	p, err := configPath()
	if err != nil {
		return c, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is not valid JSON (%v): remove it and run deskprov login again", p, err)
	}
	return c, nil
}

func saveConfig(c cliConfig) (string, error) {
	p, err := configPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// apiClient talks to the admin REST API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// newClient builds a client from --server/--token, their environment
// variables, or the saved login.
func newClient() (*apiClient, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	server := firstNonEmpty(globalOpts.server, os.Getenv("DESKPROV_SERVER"), cfg.Server)
	token := firstNonEmpty(globalOpts.token, os.Getenv("DESKPROV_TOKEN"))
	if token == "" && strings.TrimRight(server, "/") == strings.TrimRight(cfg.Server, "/") {
		token = cfg.Token
	}
	if server == "" {
		return nil, errors.New("no server: run deskprov login --server URL --username admin first, or pass --server")
	}
	if token == "" {
		return nil, fmt.Errorf("not signed in to %s: run deskprov login --server %s --username admin", server, server)
	}
	return &apiClient{base: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiError is an error answer from the server. Message is in the API's
// words; Template, Field and Fix let the CLI say it in its own
// (clierrors.go). A server too old to send them is shown as it speaks.
type apiError struct {
	Status   int
	Kind     string      `json:"error"`
	Message  string      `json:"message"`
	Code     string      `json:"code"`
	Field    string      `json:"field"`
	Fix      []fault.Fix `json:"fix"`
	Template string      `json:"template"`
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	msg := e.Message
	if e.Template != "" {
		msg = fault.Render(e.Template, e.Field, e.Fix, cliWords{})
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
}

// do sends body (JSON-encoded unless it is an io.Reader) and decodes the
// answer into out when out is not nil.
func (c *apiClient) do(method, path string, body, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("could not reach %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	return decodeAnswer(resp, out)
}

func decodeAnswer(resp *http.Response, out any) error {
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		e := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, e)
		if resp.StatusCode == http.StatusUnauthorized && e.Message == "" {
			e.Message = "not signed in: run deskprov login"
		}
		return e
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	return json.Unmarshal(data, out)
}

// pathEscape escapes one path segment (UPNs, identities, MACs).
func pathEscape(s string) string { return url.PathEscape(s) }

// jsonOutput reports whether --output json was asked for.
func jsonOutput() bool { return globalOpts.output == "json" }

// checkOutput refuses an unknown --output before any call is made.
func checkOutput() error {
	if globalOpts.output != "table" && globalOpts.output != "json" {
		return fmt.Errorf("--output %q: use table or json", globalOpts.output)
	}
	return nil
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable writes rows under headers, aligned.
func printTable(w io.Writer, headers []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// render prints v as JSON with --output json, else calls table.
func render(cmd *cobra.Command, v any, table func(w io.Writer)) error {
	if jsonOutput() {
		return printJSON(cmd.OutOrStdout(), v)
	}
	table(cmd.OutOrStdout())
	return nil
}

// apiCommand wraps a RunE that needs a client, checking --output first.
func apiCommand(run func(cmd *cobra.Command, c *apiClient, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(); err != nil {
			return err
		}
		c, err := newClient()
		if err != nil {
			return err
		}
		return run(cmd, c, args)
	}
}
