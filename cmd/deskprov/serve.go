package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/fleet"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/notify"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
)

// serveOptions are deskprov serve's flags (each with a DESKPROV_* fallback).
type serveOptions struct {
	Listen    string
	DataDir   string
	DB        string
	PublicURL string
	TLSCert   string
	TLSKey    string
	LogLevel  string
	LogFormat string
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []string
	// PhoneLockLockout says, per phone family, what too many wrong phone-lock
	// PINs do: sign_out or admin_unlock_code.
	PhoneLockLockout map[string]string
	// PollInterval is how often phones are told to poll for their config.
	PollInterval time.Duration
	// FirmwareMaxDownloads caps concurrent image downloads; FirmwareRetryAfter
	// is the Retry-After (seconds) of the 503 beyond it.
	FirmwareMaxDownloads int
	FirmwareRetryAfter   int
	// FirmwareStallTimeout drops an image download whose client has read
	// nothing for this long, freeing its slot.
	FirmwareStallTimeout time.Duration
	// ShutdownGrace is how long a stop waits for requests in flight
	// (firmware downloads above all) before it cuts them.
	ShutdownGrace time.Duration
	// DebugListen, when set, serves Go's profiler (net/http/pprof) there.
	DebugListen string
	// SecretKeyFile holds the key that seals TOTP secrets at rest (32 bytes
	// or 64 hex digits); required with PostgreSQL.
	SecretKeyFile string
	// EnrollNetworks bounds trust on first use: phones are issued their
	// provisioning credentials only from these CIDRs (empty: any address).
	EnrollNetworks string
	// PhoneCredentials lists the phone families given provisioning
	// credentials (provisioning.ParsePhoneCredentials; empty: the default).
	PhoneCredentials string
	// NTPServers, TimeZone and Language are what phones get where no site
	// matches (serverSite; empty: pool.ntp.org, UTC, the phone's own).
	NTPServers []string
	TimeZone   string
	Language   string
	// InventoryFlush is how often buffered phone sightings are written.
	InventoryFlush time.Duration
	// BlobStore is where files live: db, dir, or "" for the engine's
	// default (openBlobs).
	BlobStore string
	// Demo runs a throwaway organisation with simulated phones (demo.go):
	// DemoPhones of them, each polling about every DemoPoll. DataDirGiven
	// says --data-dir (or DESKPROV_DATA_DIR) was given, which --demo refuses.
	Demo         bool
	DemoPhones   int
	DemoPoll     time.Duration
	DataDirGiven bool
	// DemoQuietLog: the demo lowered the log to warnings (demoLogLevel).
	DemoQuietLog bool
	// CacheSize bounds the per-phone caches (cachesize.go); CacheBytes is
	// it read, set by serve.
	CacheSize  string
	CacheBytes int64
	// Explicit names the service-wide settings (settings.Names) whose flag
	// was given, on the command line or in the environment: only those may
	// refuse a start by differing from the recorded values.
	Explicit map[string]bool
}

func init() {
	var o serveOptions
	var phoneLane bool // --phone-lane: accepted, does nothing (the lane is gone)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the deskprov server",
		Long: `Run the deskprov server: phone provisioning under /prov/, firmware, web sign-in,
the admin REST API under /api/v1 and the admin console under /admin.

Every flag falls back to an environment variable: --data-dir to DESKPROV_DATA_DIR, and so on.
On first start with no admin account, "admin" is created with the password in
DESKPROV_ADMIN_PASSWORD, or a random one printed once to the log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.DataDirGiven = cmd.Flags().Changed("data-dir")
			demoLogLevel(&o, cmd.Flags().Changed("log-level"))
			o.Explicit = map[string]bool{}
			for _, name := range settings.Names {
				o.Explicit[name] = cmd.Flags().Changed(name)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", ":8080", "address to listen on")
	f.StringVar(&o.DataDir, "data-dir", "./deskprov-data", "directory for the SQLite store, firmware images and uploads")
	f.StringVar(&o.DB, "db", "", "database DSN: empty for SQLite in the data dir, or postgres://user:pass@host/db")
	f.StringVar(&o.BlobStore, "blob-store", "", "where firmware images, phone uploads and shared phone files live: db (in the database, read by every instance on it; the default with PostgreSQL) or dir (<data-dir>/blobs; the default with SQLite)")
	f.StringVar(&o.PublicURL, "public-url", "", "base URL phones and browsers use (default: derived from --listen and this machine's address)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate file (PEM); serve HTTPS when set with --tls-key")
	f.StringVar(&o.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	f.StringSliceVar(&o.TrustedProxies, "trusted-proxies", nil, "reverse proxies (addresses or CIDRs) whose X-Forwarded-For gives the client address")
	f.StringToStringVar(&o.PhoneLockLockout, "phone-lock-lockout", nil, "per phone family, what too many wrong phone-lock PINs do: sign_out or admin_unlock_code (default polycom=sign_out,yealink=sign_out,audiocodes=admin_unlock_code,lpe=admin_unlock_code)")
	f.IntVar(&o.FirmwareMaxDownloads, "firmware-max-downloads", 256, "concurrent firmware image downloads before phones are told to retry (503)")
	f.IntVar(&o.FirmwareRetryAfter, "firmware-retry-after", 30, "seconds a phone turned away by --firmware-max-downloads waits before retrying")
	f.DurationVar(&o.FirmwareStallTimeout, "firmware-stall-timeout", web.DefaultDownloadStall, "drop a firmware download whose client reads nothing for this long, freeing its slot (a client that keeps reading is never cut); 1s to 1h, 0 keeps the default")
	f.DurationVar(&o.ShutdownGrace, "shutdown-grace", 20*time.Second, "on SIGTERM or Ctrl-C, how long to let requests in flight (firmware downloads) finish before cutting them; up to 1h, 0 means the default 20s")
	f.StringVar(&o.DebugListen, "debug-listen", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; never expose it")
	f.StringVar(&o.SecretKeyFile, "secret-key-file", "", "file with the key that encrypts the secrets kept in the database (authenticator secrets, signing keys, provisioning server passwords): 32 random bytes or 64 hex digits (head -c 32 /dev/urandom > deskprov.key). Required with PostgreSQL, the same file on every server; with SQLite the default is secret.key in the data dir, created on first start. Recommended: a file outside the data directory, backed up apart from the database")
	// The phone lane was removed (issue 19): it answered plain-HTTP polls
	// that arrived with credentials unasked, which phones polling over TLS,
	// or answering a Digest challenge, never send. The flag stays accepted
	// so a deployment's command line keeps working.
	f.BoolVar(&phoneLane, "phone-lane", true, "no effect: the phone lane was removed")
	f.MarkDeprecated("phone-lane", "the phone lane was removed; every request goes through net/http")
	f.StringVar(&o.EnrollNetworks, "enroll-networks", "", "networks (CIDRs or addresses, comma-separated) from which a new phone is issued its provisioning credentials on first contact; empty allows any address")
	f.StringVar(&o.PhoneCredentials, "phone-credentials", strings.Join(provisioning.DefaultPhoneCredentials, ","), "phone families given provisioning credentials, which they must then present: a comma-separated list of polycom, yealink, audiocodes, or none (audiocodes is off by default: its parameter names are unconfirmed, see docs/provisioning.md)")
	f.StringSliceVar(&o.NTPServers, "ntp-server", []string{provisioning.DefaultNTPServer}, "NTP servers phones use where no site sets them: up to 4 host names or addresses (repeat or separate with commas)")
	f.StringVar(&o.TimeZone, "time-zone", provisioning.DefaultTimeZone, "time zone (IANA name such as Europe/Stockholm) phones use where no site sets one")
	f.StringVar(&o.Language, "language", "", "language (BCP 47 tag such as en-US) phones use where no site sets one; empty leaves the phone's own")
	f.DurationVar(&o.InventoryFlush, "inventory-flush", provisioning.FlushEvery, "how often each instance writes the phone sightings it buffered to the device inventory, in one transaction: a phone appears (or its new firmware shows) in every instance's device list within this long plus the write; 1s to 1m")
	f.BoolVar(&o.Demo, "demo", false, "try deskprov without phones: a throwaway data directory (removed at stop) with a made-up organisation and simulated phones of every family that poll, sign in and out and update; prints the admin password; refuses --data-dir and --db")
	f.IntVar(&o.DemoPhones, "demo-phones", 1000, "with --demo, how many simulated phones")
	f.DurationVar(&o.DemoPoll, "demo-poll", 30*time.Second, "with --demo, about how often each simulated phone polls (real phones: --poll-interval)")
	f.StringVar(&o.CacheSize, "cache-size", defaultCacheSize, "memory for what each instance caches per phone (rendered files, answers, enrolments, sightings, firmware polls), evicting the least recently used past it: 16MiB to 64GiB")
	f.DurationVar(&o.PollInterval, "poll-interval", time.Hour, "how often phones poll for their configuration (each phone adds a stable offset of up to a tenth)")
	// The flag's own help names its default per family; pflag would add "(default [])".
	f.Lookup("phone-lock-lockout").DefValue = ""
	// serve runs the server: the admin client's flags (--server, --token,
	// --output) do nothing here, so its help leaves them out.
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		inherited := c.InheritedFlags()
		var hidden []*pflag.Flag
		for _, name := range []string{"server", "token", "output"} {
			if fl := inherited.Lookup(name); fl != nil && !fl.Hidden {
				fl.Hidden = true
				hidden = append(hidden, fl)
			}
		}
		defer func() {
			for _, fl := range hidden {
				fl.Hidden = false
			}
		}()
		rootCmd.HelpFunc()(c, args)
	})
	rootCmd.AddCommand(cmd)
}

// app is everything serve builds. Each area adds its service here and its
// web module to modules.
type app struct {
	db      *gorm.DB
	engine  store.Engine
	log     *slog.Logger
	tenant  *tenant.Service
	policy  *policy.Service
	btoe    *btoe.Service
	hub     *notify.Hub
	phones  *phoneid.Service
	secrets *sealbox.Box
	// firmware is the firmware image downloads (phones' and admins'); serve
	// counts them at shutdown.
	firmware *web.ImageDownloads
	// blobs keeps files: firmware images, uploads, shared phone files.
	blobs *blob.Shared
	// settings are the service-wide settings; opts are serve's options with
	// the values taken from them.
	settings *settings.Service
	opts     serveOptions
	modules  []web.Module
	// fleet is the fleet dashboard, filled as the services it reads are built.
	fleet fleet.Sources
	// fw is the firmware service (the demo imports its images through it).
	fw *firmware.Service
	// closers run at shutdown, last added first.
	closers []func()
	// metrics are the services' own collectors, registered on /metrics.
	metrics []prometheus.Collector
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// buildApp opens the store, migrates it and builds every service. On an
// error, what it built so far is closed.
func buildApp(ctx context.Context, o serveOptions, log *slog.Logger) (_ *app, err error) {
	db, engine, err := store.Open(o.DB, o.DataDir)
	if err != nil {
		return nil, err
	}
	a := &app{db: db, engine: engine, log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.closers = append(a.closers, func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if engine == store.SQLite {
		release, err := store.LockDataDir(o.DataDir)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, release)
		// A store file kept elsewhere is locked too: two servers with
		// different data directories must not share it.
		if file := store.SQLitePath(o.DB, o.DataDir); filepath.Dir(file) != filepath.Clean(o.DataDir) {
			release, err := store.LockSQLiteFile(file)
			if err != nil {
				return nil, err
			}
			a.closers = append(a.closers, release)
		}
	}
	box, keySrc, err := sealbox.Load(o.SecretKeyFile, o.DataDir, engine == store.Postgres)
	if err != nil {
		return nil, err
	}
	if err := secureDataDir(o, engine, log); err != nil {
		return nil, err
	}
	a.secrets = box
	if err := a.startHub(ctx); err != nil {
		return nil, err
	}
	log.Info("sealing secrets at rest (server keys, token-signing keys, authenticator secrets)", "key_file", keySrc)
	if before, err := migrateStore(ctx, db); err != nil {
		return nil, err
	} else if before != store.SchemaVersion {
		log.Info("migrated the database schema", "from", before, "to", store.SchemaVersion)
	}
	if o, err = a.reconcileSettings(ctx, o); err != nil {
		return nil, err
	}
	a.opts = o
	if n, err := store.SealSecrets(ctx, db, box); err != nil {
		return nil, fmt.Errorf("seal server secrets: %w", err)
	} else if n > 0 {
		log.Info("sealed server secrets stored in clear by an earlier version", "count", n)
	}
	a.tenant = tenant.New(db)
	a.tenant.Secrets = box
	if n, err := a.tenant.SealClearSecrets(ctx); err != nil {
		return nil, fmt.Errorf("seal authenticator secrets stored in clear: %w", err)
	} else if n > 0 {
		log.Info("sealed authenticator secrets stored in clear by an earlier version", "count", n)
	}
	a.phones = phoneid.New(db)
	a.phones.Secrets = box
	if a.phones.EnrolNetworks, err = phoneid.ParseNetworks(o.EnrollNetworks); err != nil {
		return nil, fmt.Errorf("--enroll-networks: %w", err)
	}
	// The tenant API first, as the core mounted it before it was a module.
	a.modules = append(a.modules, api.TenantAPI{})
	a.modules = append(a.modules, api.NumbersModule{}, console.Voice{})
	a.policy = policy.New(db)
	a.policy.Users = a.tenant
	a.policy.Secrets = box
	if n, err := a.policy.SealClearSecrets(ctx); err != nil {
		return nil, fmt.Errorf("seal provisioning server passwords stored in clear: %w", err)
	} else if n > 0 {
		log.Info("sealed provisioning server passwords stored in clear by an earlier version", "count", n)
	}
	a.modules = append(a.modules, api.PolicyModule(a.policy), console.Home(a.policy))
	if err := a.openBlobs(ctx, o); err != nil {
		return nil, err
	}
	fw, images, err := a.addFirmware(ctx, o)
	if err != nil {
		return nil, err
	}
	si, err := a.addSignIn(o)
	if err != nil {
		return nil, err
	}
	if err := a.addBToE(si); err != nil {
		return nil, err
	}
	// The page for people (/my) acts through sign-in, policy and BToE.
	a.modules = append(a.modules, pages.My(si, a.policy, a.btoe))
	// Bulk license assignment (API), users and licenses in the console.
	a.modules = append(a.modules, api.BulkLicenses(a.policy), console.Users(a.policy, si))
	if err := a.addProvisioning(ctx, o, si, fw, images); err != nil {
		return nil, err
	}
	// One phoneid service for the phones' checks and the admins' changes, so
	// that its enrolment cache and Digest replay memory are shared.
	a.modules = append(a.modules, api.Enrolment(a.phones), console.Enrolment(a.phones))
	a.fleet.SignIn = si
	a.modules = append(a.modules, api.Fleet(a.fleet), console.Fleet(a.fleet))
	return a, nil
}

func newLogger(o serveOptions, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", o.LogFormat)
}

func serve(ctx context.Context, o serveOptions, out io.Writer) error {
	log, err := newLogger(o, os.Stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	if _, err := provisioning.ParsePhoneCredentials(o.PhoneCredentials); err != nil {
		return fmt.Errorf("--phone-credentials: %w", err)
	}
	phoneSite, err := serverSite(o)
	if err != nil {
		return err
	}
	if err := checkDemo(o); err != nil {
		return err
	}
	if o.Demo {
		dir, err := os.MkdirTemp("", "deskprov-demo-")
		if err != nil {
			return fmt.Errorf("--demo: make its throwaway data directory: %w", err)
		}
		// Registered first, so it runs last: after the store is closed.
		defer func() {
			if err := os.RemoveAll(dir); err != nil {
				log.Warn("could not remove the demo's data directory", "dir", dir, "err", err)
			}
		}()
		o.DataDir = dir
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if o.PollInterval != 0 && (o.PollInterval < 5*time.Minute || o.PollInterval > 720*time.Hour) {
		return fmt.Errorf("--poll-interval %s: give a duration from 5m to 720h (Yealink phones accept at most 30 days)", o.PollInterval)
	}
	if o.FirmwareStallTimeout != 0 && (o.FirmwareStallTimeout < time.Second || o.FirmwareStallTimeout > time.Hour) {
		return fmt.Errorf("--firmware-stall-timeout %s: give a duration from 1s to 1h", o.FirmwareStallTimeout)
	}
	if o.InventoryFlush != 0 && (o.InventoryFlush < time.Second || o.InventoryFlush > time.Minute) {
		return fmt.Errorf("--inventory-flush %s: give a duration from 1s to 1m", o.InventoryFlush)
	}
	if o.CacheBytes, err = parseCacheSize(cmp.Or(o.CacheSize, defaultCacheSize)); err != nil {
		return err
	}
	if o.ShutdownGrace < 0 || o.ShutdownGrace > time.Hour {
		return fmt.Errorf("--shutdown-grace %s: give a duration from 0s to 1h", o.ShutdownGrace)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	defer ln.Close() // for the early returns; serving closes it too
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	if o.PublicURL == "" {
		o.PublicURL = derivePublicURL(scheme, ln.Addr().(*net.TCPAddr))
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")

	a, err := buildApp(ctx, o, log)
	if err != nil {
		return err
	}
	defer a.close()
	o = a.opts
	pw, err := a.tenant.EnsureBootstrapAdmin(ctx, os.Getenv("DESKPROV_ADMIN_PASSWORD"))
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	} else if o.Demo {
		// The demo prints the password in its banner below.
	} else if pw != "" && os.Getenv("DESKPROV_ADMIN_PASSWORD") == "" {
		log.Warn("created the first admin account; this password is shown once", "username", "admin", "password", pw)
	} else if pw != "" {
		log.Info("created the first admin account from DESKPROV_ADMIN_PASSWORD", "username", "admin")
	} else if os.Getenv("DESKPROV_ADMIN_PASSWORD") != "" {
		log.Warn("DESKPROV_ADMIN_PASSWORD is ignored: an admin account exists already; to recover a lost password run `deskprov admin reset-password USER` on this host")
	}

	var demo demoOrg
	if o.Demo {
		if demo, err = demoSeed(ctx, a, o.DemoPhones); err != nil {
			return fmt.Errorf("--demo: set up the demo organisation: %w", err)
		}
	}

	limit, from := applyMemoryLimit(o.CacheBytes)
	log.Info("memory", "cache_size_bytes", o.CacheBytes, "go_memory_limit_bytes", limit, "set_by", from)

	srv, err := web.New(web.Deps{DB: a.db, Tenant: a.tenant, Log: log, PublicURL: o.PublicURL, TrustedProxies: o.TrustedProxies, Phones: a.phones}, a.modules...)
	if err != nil {
		return err
	}
	srv.Registry.MustRegister(hubMetric(a.hub))
	srv.Registry.MustRegister(a.metrics...)
	debugLine := ""
	if o.DebugListen != "" {
		dl, err := net.Listen("tcp", o.DebugListen)
		if err != nil {
			return fmt.Errorf("--debug-listen %s: %w", o.DebugListen, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		ds := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ds.Serve(dl)
		defer ds.Close()
		debugLine = fmt.Sprintf("  profiling           http://%s/debug/pprof/ (keep it on loopback)\n", dl.Addr())
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	var tcfg *tls.Config
	if o.TLSCert != "" {
		if tcfg, err = serverTLS(ctx, a, o.TLSCert, o.TLSKey, log); err != nil {
			return err
		}
	}
	if a.btoe != nil {
		hs.RegisterOnShutdown(a.btoe.Stop) // end BToE long polls and event streams
	}

	storeDesc := "SQLite " + store.SQLitePath(o.DB, o.DataDir)
	if a.engine == store.Postgres {
		storeDesc = "PostgreSQL " + redactDSN(o.DB)
	}
	fmt.Fprintf(out, `deskprov is running
  listening on        %s (%s)
  public URL          %s
  point phones at     %s/prov/   (DHCP option 66 or 160)
  admin console       %s/admin
  web sign-in         %s/devicelogin
  store               %s
  phones enrol from   %s
  phone settings      %s
%sStop with Ctrl-C.
`, ln.Addr(), scheme, o.PublicURL, o.PublicURL, o.PublicURL, o.PublicURL, storeDesc, enrolDesc(o.EnrollNetworks), siteDesc(phoneSite), debugLine)
	if o.Demo {
		printDemoBanner(out, o, pw, demo)
	}
	log.Info("deskprov started", "listen", ln.Addr().String(), "public_url", o.PublicURL, "store", string(a.engine))

	serveOn, shutdown := hs.Serve, hs.Shutdown
	if o.TLSCert != "" {
		// Not ServeTLS: it clones the config, and the clone would never
		// see the session ticket keys rotated after the start.
		serveOn = func(ln net.Listener) error { return hs.Serve(tls.NewListener(ln, tcfg)) }
	}
	errc := make(chan error, 1)
	go func() { errc <- serveOn(ln) }()
	stopDemo := func() {}
	if o.Demo {
		stopDemo = runDemoPhones(ctx, ln.Addr().(*net.TCPAddr), scheme, o, demo)
	}
	select {
	case err := <-errc:
		stopDemo()
		return err
	case <-ctx.Done():
	}
	stopDemo()
	grace := o.ShutdownGrace
	if grace == 0 {
		grace = 20 * time.Second
	}
	log.Info("shutting down: finishing requests in flight", "firmware_downloads", a.firmware.Active(), "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A stop that cuts downloads still stops as asked (exit status 0):
		// phones fetch the image again from the next server. The log says
		// how many were cut.
		cut := a.firmware.Active()
		hs.Close() // ends the connections net/http still holds
		for wait := time.Now().Add(2 * time.Second); a.firmware.Active() > 0 && time.Now().Before(wait); {
			time.Sleep(10 * time.Millisecond) // let their handlers return before the store closes
		}
		log.Warn("the shutdown grace ran out: cut the requests still in flight", "firmware_downloads_cut", cut, "grace", grace)
		err = nil
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func enrolDesc(nets string) string {
	if strings.TrimSpace(nets) == "" {
		return "any address (--enroll-networks)"
	}
	return nets
}

// derivePublicURL picks the URL a phone on the LAN can reach: the listen
// address when it names a host, else this machine's first non-loopback IPv4
// address, else localhost.
func derivePublicURL(scheme string, addr *net.TCPAddr) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
		if ifs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range ifs {
				if ipn, ok := ia.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil && !ipn.IP.IsLinkLocalUnicast() {
					host = ipn.IP.String()
					break
				}
			}
		}
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

func redactDSN(dsn string) string {
	if at := strings.Index(dsn, "@"); at > 0 {
		if colon := strings.Index(dsn[:at], ":"); colon > 0 && strings.Contains(dsn[:colon+3], "://") {
			scheme := strings.Index(dsn, "://") + 3
			if c := strings.Index(dsn[scheme:at], ":"); c >= 0 {
				return dsn[:scheme+c] + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}
