package tenant

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
)

// MaxBulk caps the users of one bulk assignment: the admin center's bulk
// license pages take a few hundred at a time, and one request must stay well
// inside the API's body cap and a browser's patience.
const MaxBulk = 1000

// The result of one row of a bulk assignment.
const (
	BulkAssigned  = "assigned"  // the license (and the policy) were given
	BulkUnchanged = "unchanged" // the user held them already, or was listed twice
	BulkRefused   = "refused"   // a rule refused the row; Reason says which
)

// BulkRow is what happened to one user of a bulk assignment.
type BulkRow struct {
	Row    int    `json:"row"`
	UPN    string `json:"upn"`
	Result string `json:"result"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// BulkResult is the answer to a bulk assignment: a row per user listed, in
// the order given, and the counts.
type BulkResult struct {
	SKU        SKU       `json:"sku"`
	PolicyName *string   `json:"PolicyName,omitempty"`
	Assigned   int       `json:"assigned"`
	Unchanged  int       `json:"unchanged"`
	Refused    int       `json:"refused"`
	Rows       []BulkRow `json:"rows"`
}

// AlsoFunc is more work for each row of a bulk assignment, done in the
// row's transaction after the license (a policy grant), reporting whether
// it changed anything: if it fails, the row's license is not assigned
// either.
type AlsoFunc func(tx *gorm.DB, u User) (changed bool, err error)

// AssignMany gives each user of upns a license of sku, and runs also (when
// not nil) for each in the same transaction.
//
// Each row is its own transaction. A rule that refuses one row (no license
// left, no Phone System for a Calling Plan, an unknown user) refuses that
// row only: the others are assigned, as the admin center does, and the
// answer says which and why. A row is never half-written: its license,
// its grant and their audit entries commit together or not at all. Running
// the same list again is safe (a held license and policy change nothing),
// which is how a list cut short by a server error is finished: such an
// error stops the run and is returned, the rows before it stand.
func (s *Service) AssignMany(ctx context.Context, skuName string, upns []string, also AlsoFunc) (BulkResult, error) {
	sku, err := ParseSKU(skuName)
	if err != nil {
		return BulkResult{}, err
	}
	if len(upns) == 0 {
		return BulkResult{}, fault.FieldInvalid("upns", "list at least one user (their UPNs, one a line or in a CSV column UserPrincipalName)")
	}
	if len(upns) > MaxBulk {
		return BulkResult{}, fault.FieldInvalid("upns", "%d users are listed: assign at most %d at a time (split the list)", len(upns), MaxBulk)
	}
	out := BulkResult{SKU: sku, Rows: make([]BulkRow, 0, len(upns))}
	seen := map[string]int{}
	for i, upn := range upns {
		row := BulkRow{Row: i + 1, UPN: strings.TrimSpace(upn)}
		key := strings.ToLower(row.UPN)
		if first, dup := seen[key]; dup {
			row.Result, row.Code, row.Reason = BulkUnchanged, "duplicate", "listed already on row "+strconv.Itoa(first)
			out.add(row)
			continue
		}
		seen[key] = row.Row
		changed := false
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if _, _, err := NormalizeUPN(row.UPN); err != nil {
				return err
			}
			u, c, err := s.assignIn(ctx, tx, row.UPN, sku)
			if err != nil {
				return err
			}
			changed = c
			if also != nil {
				more, err := also(tx, u)
				if err != nil {
					return err
				}
				changed = changed || more
			}
			return nil
		})
		switch fe, ok := fault.As(err); {
		case err == nil && changed:
			row.Result = BulkAssigned
		case err == nil:
			row.Result = BulkUnchanged
		case ok && fe.Kind != fault.Internal:
			row.Result, row.Code, row.Reason = BulkRefused, fe.Code, fe.Message
		default:
			return out, err
		}
		out.add(row)
	}
	return out, nil
}

func (r *BulkResult) add(row BulkRow) {
	switch row.Result {
	case BulkAssigned:
		r.Assigned++
	case BulkUnchanged:
		r.Unchanged++
	default:
		r.Refused++
	}
	r.Rows = append(r.Rows, row)
}

// upnHeaders are the names a CSV column of UPNs goes by (compared without
// case, spaces or underscores): the admin center's export calls it "User
// principal name"; PowerShell's, UserPrincipalName.
var upnHeaders = map[string]bool{"userprincipalname": true, "upn": true, "username": true, "signinname": true, "email": true}

// ParseUPNList reads the users of a bulk assignment from what an admin
// pastes or uploads: a CSV whose header names a UPN column (the admin
// center's and PowerShell's exports do), or UPNs one a line (or separated
// by commas, semicolons or spaces). Blank lines are skipped; what is not a
// UPN is kept, so that its row says why it was refused.
func ParseUPNList(r io.Reader, maxBytes int64) ([]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > maxBytes {
		return nil, fault.FieldInvalid("upns", "the list is over %d bytes: split it", maxBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	first, _, _ := bytes.Cut(b, []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(b))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		cr.Comma = ';' // Excel's CSV where the comma is the decimal mark
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	recs, err := cr.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fault.FieldInvalid("upns", "the CSV cannot be read at line %d: %v", pe.Line, pe.Err)
		}
		return nil, err
	}
	col := -1
	if len(recs) > 0 {
		for i, h := range recs[0] {
			if upnHeaders[strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(h)))] {
				col = i
				break
			}
		}
	}
	var out []string
	if col >= 0 {
		for _, rec := range recs[1:] {
			if col < len(rec) && strings.TrimSpace(rec[col]) != "" {
				out = append(out, strings.TrimSpace(rec[col]))
			}
		}
		return out, nil
	}
	for _, rec := range recs {
		for _, f := range rec {
			sc := bufio.NewScanner(strings.NewReader(f))
			sc.Split(bufio.ScanWords)
			for sc.Scan() {
				out = append(out, sc.Text())
			}
		}
	}
	return out, nil
}
