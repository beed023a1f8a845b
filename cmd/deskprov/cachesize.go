package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/deskprov/deskprov/store"
)

// defaultCacheSize is --cache-size unless given: enough for the files,
// answers and enrolments of about 100,000 phones, whatever the fleet.
const defaultCacheSize = "256MiB"

// cacheSizeUnits are the suffixes --cache-size takes, longest first.
var cacheSizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}

// parseCacheSize reads --cache-size: a whole number of bytes with an
// optional unit (256MiB, 1GiB, 512M), from 16MiB to 64GiB.
func parseCacheSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range cacheSizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (64<<30)/mult || n*mult < 16<<20 {
		return 0, fmt.Errorf("--cache-size %q: give a size from 16MiB to 64GiB, such as 256MiB or 1GiB", v)
	}
	return n * mult, nil
}

// cacheShares splits --cache-size among the services that cache per phone:
// phone enrolments 45% and firmware's remembered polls 35%, enough for a
// million phones in the default 256MiB (about 120 and 90 bytes a phone as
// counted), and provisioning (answers with each phone's 1–2 KB file, shared
// files, User-Agents, the sighting buffer) the rest: a fleet that large
// cannot keep every phone's file in memory, and a file re-rendered from
// state in memory costs a poll less than a store read would (bench/README.md,
// "Issue 16 item 7, stop 24"). Where enrolments are not cached (rows false:
// a shared store, PostgreSQL) their share goes to provisioning.
func cacheShares(total int64, rows bool) (prov, phones, firmware int64) {
	phones, firmware = total*45/100, total*35/100
	if !rows {
		phones = 0
	}
	return total - phones - firmware, phones, firmware
}

// rowsCached tells whether phoneid keeps enrolments in memory: only where
// this process alone writes the store (store.Owned).
func (a *app) rowsCached() bool { return store.Owned(a.db) }
