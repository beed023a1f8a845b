package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/internal/bytecache"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
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

// shareCaches bounds the per-phone caches by one budget of total bytes
// (--cache-size). A phone's state keeps ceilings of its own, so that files
// never squeeze it out: enrolments up to 45% and firmware's remembered polls
// up to 35%, enough for a million phones in the default 256MiB (about 118
// and 82 bytes a phone as counted). The inventory's sighting buffer keeps
// 10% of its own (provisioning.Service.ShareCache; up to twice that while a
// flush writes a full buffer, so memory may then be over the total by up
// to a tenth). Provisioning's caches (answers with each phone's 1–2 KB
// file, shared files, User-Agents) share the rest of the total that the
// state and the sightings do not hold now, read on each put: a fleet of
// 100,000 phones, whose state is about 21 MB, keeps about all their files
// in 256MiB (answers get 90% of what is left), while at a million phones,
// state full, they get what the state and the sightings leave. When state
// grows, provisioning's caches shrink to the new rest as they are written,
// so memory is briefly over the total by at most what the state grew since
// their last few dozen puts (bytecache.Budget). Where enrolments are not
// cached (rows false: a shared store, PostgreSQL) their ceiling is 0.
// phones or fw nil (not built) counts nothing.
func shareCaches(total int64, rows bool, phones *phoneid.Service, fw *firmware.Service, prov *provisioning.Service) {
	b := bytecache.NewBudget(total)
	if phones != nil {
		n := total * 45 / 100
		if !rows {
			n = 0
		}
		phones.SetCacheSize(n)
		b.Keep(phones.CacheBytes)
	}
	if fw != nil {
		fw.SetCacheSize(total * 35 / 100)
		b.Keep(fw.PollCacheBytes)
	}
	prov.ShareCache(b)
}

// rowsCached tells whether phoneid keeps enrolments in memory: only where
// this process alone writes the store (store.Owned).
func (a *app) rowsCached() bool { return store.Owned(a.db) }

// memoryLimit is the Go runtime's soft memory limit that serve sets from
// --cache-size when GOMEMLIMIT is not set: twice the caches and 256 MiB for
// the rest of the process (templates, requests in flight, the Digest replay
// memory, the store's driver). Without it the heap grows to twice what is
// live before the collector runs (GOGC=100), which at a million phones put
// RSS past 1 GB with the default 256MiB; with it the collector runs sooner
// as the heap nears the limit. It is soft: a live heap above it is never
// refused memory, the collector just runs more often (and takes at most
// about half the CPU doing so).
func memoryLimit(cacheBytes int64) int64 { return 2*cacheBytes + 256<<20 }

// applyMemoryLimit sets memoryLimit unless the environment's GOMEMLIMIT
// says otherwise, and returns the limit in force and where it came from.
func applyMemoryLimit(cacheBytes int64) (limit int64, from string) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	debug.SetMemoryLimit(memoryLimit(cacheBytes))
	return memoryLimit(cacheBytes), "--cache-size"
}
