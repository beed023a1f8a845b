package main

import (
	"fmt"
	"strconv"
	"strings"
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
// provisioning (answers with each phone's file, shared files, User-Agents,
// the sighting buffer) 75%, phone enrolments 15%, firmware's remembered
// polls 10%: about what each costs per phone.
func cacheShares(total int64) (prov, phones, firmware int64) {
	return total * 75 / 100, total * 15 / 100, total * 10 / 100
}
