package main

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/web/api"
)

func caCertRows(cs []phonefiles.CACertView) [][]string {
	rows := make([][]string, len(cs))
	for i, c := range cs {
		rows[i] = []string{c.Name, c.Fingerprint[:16], tableTime(c.NotAfter), c.FileName, c.Subject}
	}
	return rows
}

var caCertHeaders = []string{"NAME", "FINGERPRINT", "EXPIRES", "FILE", "SUBJECT"}

func phoneFileRows(fs []phonefiles.FileView) [][]string {
	rows := make([][]string, len(fs))
	for i, f := range fs {
		rows[i] = []string{strconv.FormatUint(uint64(f.ID), 10), f.Path, firstNonEmpty(f.Vendor, "all"), firstNonEmpty(f.Site, "all"),
			strconv.FormatInt(f.Size, 10), f.ContentType, tableTime(f.UpdatedAt)}
	}
	return rows
}

var phoneFileHeaders = []string{"ID", "PATH", "FAMILY", "SITE", "SIZE", "TYPE", "UPDATED"}

func init() {
	ca := &cobra.Command{
		Use:   "cacert",
		Short: "Manage the trusted CA certificates phones install",
		Long: `Upload the organisation's CA certificate once; every phone family installs it from its
files (Yealink and AudioCodes fetch it from /prov/<file>, Polycom gets it inline). CA
certificates are public: phones fetch them without credentials. Never upload a private key.`,
	}
	var name string
	add := &cobra.Command{
		Use: "create FILE", Aliases: []string{"add"}, Short: "Add a CA certificate (PEM or DER)", Args: cobra.ExactArgs(1),
		Example: "  deskprov cacert create corp-root.pem --name \"Corp root CA\"",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			data, err := readSmallFile(args[0], phonefiles.MaxPEM)
			if err != nil {
				return err
			}
			if !bytes.Contains(data, []byte("-----BEGIN")) {
				// A DER .cer file: JSON carries text, so it goes as PEM.
				data = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: data})
			}
			var out phonefiles.CACertView
			if err := c.do(http.MethodPost, "/api/v1/cacerts", api.CACertInput{Name: name, PEM: string(data)}, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { printTable(w, caCertHeaders, caCertRows([]phonefiles.CACertView{out})) })
		}),
	}
	add.Flags().StringVar(&name, "name", "", "how admins know it (default: the certificate's common name)")
	list := &cobra.Command{
		Use: "list", Short: "List the CA certificates", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var out []phonefiles.CACertView
			if err := c.do(http.MethodGet, "/api/v1/cacerts", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { printTable(w, caCertHeaders, caCertRows(out)) })
		}),
	}
	remove := &cobra.Command{
		Use: "delete NAME|FINGERPRINT", Aliases: []string{"remove", "rm"}, Short: "Delete a CA certificate (by name, or its fingerprint's first 8 or more hex digits)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/cacerts/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "removed CA certificate", args[0])
			return nil
		}),
	}
	ca.AddCommand(add, list, remove)
	rootCmd.AddCommand(ca)

	pf := &cobra.Command{
		Use:   "phonefile",
		Short: "Manage shared files phones fetch (backgrounds, ringtones, directories, dictionaries)",
		Long: `A shared file is served under /prov/<path> to phones of one family (or all) at one site
(or all); a file for the phone's site wins over the one for every site. Shared files are the
same for every phone they are for and need no credentials: never put a secret in one.`,
	}
	var in phonefiles.FileInput
	pfAdd := &cobra.Command{
		Use: "create FILE", Aliases: []string{"add"}, Short: "Upload a shared file (replaces the one with the same path, family and site)", Args: cobra.ExactArgs(1),
		Example: `  deskprov phonefile create 000000000000-directory.xml --vendor polycom
  deskprov phonefile create dict.xml --path VVXLocalization/Swedish_Sweden/VVX-dictionary.xml --vendor polycom --site Stockholm`,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			data, err := readSmallFile(args[0], phonefiles.DefaultMaxFile)
			if err != nil {
				return err
			}
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			for _, kv := range [][2]string{{"path", firstNonEmpty(in.Path, filepath.Base(args[0]))}, {"vendor", in.Vendor}, {"site", in.Site}} {
				if err := mw.WriteField(kv[0], kv[1]); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("file", filepath.Base(args[0]))
			if err == nil {
				_, err = part.Write(data)
			}
			if err == nil {
				err = mw.Close()
			}
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, c.base+"/api/v1/phonefiles", &body)
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+c.token)
			req.Header.Set("Accept", "application/json")
			resp, err := c.http.Do(req)
			if err != nil {
				return fmt.Errorf("could not reach %s: %w", c.base, err)
			}
			defer resp.Body.Close()
			var out phonefiles.FileView
			if err := decodeAnswer(resp, &out); err != nil {
				return err
			}
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintln(cmd.ErrOrStderr(), "replaced the file with the same path, family and site")
			}
			return render(cmd, out, func(w io.Writer) { printTable(w, phoneFileHeaders, phoneFileRows([]phonefiles.FileView{out})) })
		}),
	}
	pfAdd.Flags().StringVar(&in.Path, "path", "", "path under /prov/ phones ask for (default: the file's name)")
	pfAdd.Flags().StringVar(&in.Vendor, "vendor", "", "only for this family: polycom, yealink or audiocodes (default: every family)")
	pfAdd.Flags().StringVar(&in.Site, "site", "", "only for phones of this site, by name (default: every site)")
	pfList := &cobra.Command{
		Use: "list", Short: "List the shared files", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var out []phonefiles.FileView
			if err := c.do(http.MethodGet, "/api/v1/phonefiles", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { printTable(w, phoneFileHeaders, phoneFileRows(out)) })
		}),
	}
	pfRemove := &cobra.Command{
		Use: "delete ID", Aliases: []string{"remove", "rm"}, Short: "Delete a shared file (ID as phonefile list shows it)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/phonefiles/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "removed shared file", args[0])
			return nil
		}),
	}
	pf.AddCommand(pfAdd, pfList, pfRemove)
	rootCmd.AddCommand(pf)
}

// readSmallFile reads a file the server caps at max bytes, refusing a
// larger one before sending anything.
func readSmallFile(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", name)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, over the server's %d-byte limit", name, fi.Size(), max)
	}
	return io.ReadAll(io.LimitReader(f, max+1))
}
