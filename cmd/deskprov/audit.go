package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

type auditEntryView struct {
	ID     uint            `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Object string          `json:"object"`
	Action string          `json:"action"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

func init() {
	var kind, object, actor, since, until string
	var before uint
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit log: every admin change, newest first",
		Long: `List the audit log: who changed what, when, with the object before and
after (secrets masked). Filter by --kind (admin, user, license, ipphonepolicy,
firmware, phone, signingkey, btoe, site, cacert, phonefile), --object (kind/id
or a prefix), --actor and a time range; page back with --before (the ID of the
last entry shown).`,
		Example: "  deskprov audit --kind admin\n  deskprov audit --actor alice --since 2026-05-01 --until 2026-05-02\n  deskprov audit --object ipphonepolicy/Sales",
		Args:    cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"kind": kind, "object": object, "actor": actor, "since": since, "until": until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if before > 0 {
				q.Set("before", strconv.FormatUint(uint64(before), 10))
			}
			q.Set("limit", strconv.Itoa(limit))
			var es []auditEntryView
			if err := c.do(http.MethodGet, "/api/v1/audit?"+q.Encode(), nil, &es); err != nil {
				return err
			}
			return render(cmd, es, func(w io.Writer) {
				rows := make([][]string, len(es))
				for i, e := range es {
					rows[i] = []string{strconv.FormatUint(uint64(e.ID), 10), e.At.UTC().Format("2006-01-02T15:04:05Z"), e.Actor, e.Object, e.Action, string(e.Before), string(e.After)}
				}
				printTable(w, []string{"ID", "AT", "ACTOR", "OBJECT", "ACTION", "BEFORE", "AFTER"}, rows)
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "only objects of this kind")
	f.StringVar(&object, "object", "", "only this object (kind/id) or everything under a prefix")
	f.StringVar(&actor, "actor", "", "only changes by this admin")
	f.StringVar(&since, "since", "", "only changes at or after this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&until, "until", "", "only changes before this time (RFC 3339 or YYYY-MM-DD)")
	f.UintVar(&before, "before", 0, "only entries older than this entry ID (the next page)")
	f.IntVar(&limit, "limit", 100, "at most this many entries, 1 to 1000")
	rootCmd.AddCommand(cmd)
}
