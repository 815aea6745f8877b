package app

import (
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/loadgen"
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchReport is everything the bench measured; --json writes it.
type benchReport struct {
	Date      time.Time            `json:"date"`
	Engine    string               `json:"engine"`
	Schema    string               `json:"schema,omitempty"`
	Target    string               `json:"target,omitempty"`
	Nodes     int                  `json:"nodes"`
	Hashing   string               `json:"hashing"`
	Argon2    account.Argon2Params `json:"argon2"`
	HashSlots int                  `json:"hash_concurrency"`
	GoVersion string               `json:"go_version"`
	OS        string               `json:"os"`
	CPUs      int                  `json:"cpus"`
	Duration  string               `json:"duration,omitempty"`
	Count     int                  `json:"count,omitempty"`
	OIDCRatio float64              `json:"oidc_ratio"`
	// Flow is "full" or "signin"; NewBrowsers, that no earlier sign-in
	// was seeded.
	Flow        string `json:"flow"`
	NewBrowsers bool   `json:"new_browsers"`
	// Rate is the offered load in iterations a second (--rate), 0 when
	// the customers go as fast as they can.
	Rate float64 `json:"rate,omitempty"`
	// SQLiteSynchronous is the servers' sqlite_synchronous.
	SQLiteSynchronous string   `json:"sqlite_synchronous,omitempty"`
	Pprof             []string `json:"pprof,omitempty"`

	Accounts        int     `json:"accounts"`
	Customers       int     `json:"customers"`
	SeedSeconds     float64 `json:"seed_seconds"`
	HashesPerSecond float64 `json:"hashes_per_second"`
	// CeilingRates are the rates before the load with each number of
	// hashes at once tried; HashesPerSecond is the best.
	CeilingRates []ceilingRate `json:"hash_ceiling_by_hashes_at_once,omitempty"`
	// HashCPUPerSignInMS estimates the CPU of a sign-in's one argon2id
	// verify: HashCores / HashesPerSecond, HashCores the cores the best
	// rate of the ceiling kept busy (busyCores).
	HashCores          int       `json:"hash_cores"`
	HashCPUPerSignInMS float64   `json:"hash_cpu_per_sign_in_ms"`
	StartupMS          []float64 `json:"startup_ms,omitempty"`
	// RestartMS is the first server's start again on the database it made.
	RestartMS    float64 `json:"restart_ms,omitempty"`
	IdleRSSBytes int64   `json:"idle_rss_bytes,omitempty"`

	Levels []benchLevel `json:"levels"`
}

// benchLevel is one concurrency level's numbers.
type benchLevel struct {
	Concurrency      int     `json:"concurrency"`
	Seconds          float64 `json:"seconds"`
	SignIns          int64   `json:"sign_ins"`
	Iterations       int64   `json:"iterations"`
	OIDCFlows        int64   `json:"oidc_flows"`
	SignInsPerSecond float64 `json:"sign_ins_per_second"`
	// HashesPerSecond is the ceiling PercentOfCeiling is of: with
	// production hashing the mean of those measured right before and right
	// after this level (CeilingBefore, CeilingAfter), else the run's.
	HashesPerSecond  float64 `json:"hashes_per_second"`
	PercentOfCeiling float64 `json:"percent_of_hash_ceiling"`
	CeilingBefore    float64 `json:"hashes_per_second_before,omitempty"`
	CeilingAfter     float64 `json:"hashes_per_second_after,omitempty"`
	// Steps are latencies in milliseconds of the steps that went well,
	// plus "sign-in" (login page to landing page) and "oidc-flow".
	Steps     map[string]benchStep `json:"steps"`
	Errors    map[string]int       `json:"errors"`
	PoolWaits int64                `json:"pool_waits"`
	// PeakRSSBytes is the servers' VmHWM summed, during this level when
	// PeakIsLevel (else since they started).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	PeakIsLevel  bool  `json:"peak_is_level"`
	// Interrupted: SIGINT or SIGTERM ended the level before its
	// --duration or --count; its figures are of the part that ran.
	Interrupted bool `json:"interrupted,omitempty"`
	// Cut counts the requests still unanswered loadgen.LevelGrace after
	// the level's --duration, canceled then: not among Errors, as the
	// server may have answered them later.
	Cut                  int     `json:"cut_at_level_end,omitempty"`
	ServerCPUSeconds     float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerSignInMS float64 `json:"server_cpu_per_sign_in_ms,omitempty"`
	// ServerCPUPerSignInExclHashMS is ServerCPUPerSignInMS less one
	// hash's CPU at the level's ceiling (estimateRest): an estimate, 0
	// when the machine's speed moved so that it came out at nothing.
	ServerCPUPerSignInExclHashMS float64 `json:"server_cpu_per_sign_in_excl_hashing_ms,omitempty"`
	// MailsQueued counts the mails queued to the virtual customers during
	// the level (new-browser notices, mostly); -1 when not counted.
	MailsQueued         int     `json:"mails_queued"`
	BenchCPUSeconds     float64 `json:"bench_cpu_seconds"`
	BenchCPUPerSignInMS float64 `json:"bench_cpu_per_sign_in_ms"`
	// ServerHashMS is the mean time of a password hash in the servers
	// during the level (their tobira_password_hash_seconds), the wait for
	// a slot not counted; 0 when not read.
	ServerHashMS float64 `json:"server_hash_ms,omitempty"`
	// DB is what the servers' databases did during the level (their
	// /metrics); nil when not read.
	DB *benchDB `json:"db,omitempty"`
}

// benchDB is a level's waits for a database connection, in every pool of
// every server, and its transactions run again after losing a race.
type benchDB struct {
	Waits   int64   `json:"connection_waits"`
	WaitMS  float64 `json:"connection_wait_ms"`
	Retried int64   `json:"transactions_retried"`
}

type benchStep struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (r *benchReport) fill(cfg config.Config, o benchFlags) {
	r.Date = time.Now().UTC().Truncate(time.Second)
	r.Engine = "SQLite"
	if cfg.Database != "" {
		r.Engine = "PostgreSQL"
	}
	r.Target = o.target
	r.Nodes = max(1, o.nodes)
	r.Argon2, r.HashSlots = cfg.Argon2, cfg.HashSlots()
	r.GoVersion, r.OS, r.CPUs = runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU()
	if o.count > 0 {
		r.Count = o.count
	} else {
		r.Duration = o.duration.String()
	}
	r.OIDCRatio = o.oidcRatio
	r.Flow, r.NewBrowsers, r.Rate = o.flow, o.newBrowsers, o.rate
	if o.target == "" && r.Engine == "SQLite" {
		r.SQLiteSynchronous = o.sqliteSync
	}
}

// stepOrder is the order of a visit's steps in the table.
var stepOrder = []string{"login-page", "login", "code-page", "code", "landing", "security",
	"authorize", "oidc-login", "consent", "callback", "token", "logout"}

// markdown writes the report as Markdown, for docs/PERFORMANCE.md.
func (r *benchReport) markdown(w io.Writer) {
	fmt.Fprintf(w, "## tobira bench, %s\n\n", r.Date.Format("2006-01-02 15:04 UTC"))
	server := r.Engine + ", 1 node"
	if r.Nodes > 1 {
		server = fmt.Sprintf("%s, %d nodes", r.Engine, r.Nodes)
	}
	if r.SQLiteSynchronous != "" {
		server += " (sqlite_synchronous " + r.SQLiteSynchronous + ")"
	}
	if r.Target != "" {
		server = r.Target + " (" + r.Engine + ", running already)"
	}
	fmt.Fprintf(w, "- server: %s; hashing: %s (argon2id m=%d KiB, t=%d, p=%d; hash_concurrency %d)\n",
		server, r.Hashing, r.Argon2.MemoryKiB, r.Argon2.Time, r.Argon2.Threads, r.HashSlots)
	fmt.Fprintf(w, "- %s %s, %d CPUs; the load tool runs on the same machine\n", r.GoVersion, r.OS, r.CPUs)
	fmt.Fprintf(w, "- accounts: %s with a password and the authenticator app, which the virtual customers use in turn", thousands(int64(r.Customers)))
	if r.Accounts > r.Customers {
		fmt.Fprintf(w, ", and %s without a second factor", thousands(int64(r.Accounts-r.Customers)))
	}
	fmt.Fprintf(w, "; seeded in %.1f s\n", r.SeedSeconds)
	per := r.Duration + " per level"
	if r.Count > 0 {
		per = fmt.Sprintf("%d iterations per level", r.Count)
	}
	if r.Flow == "signin" {
		fmt.Fprintf(w, "- load: %s; flow: signin, an iteration is a full sign-in (login page, password, code page, app code, landing page), "+
			"then the customer drops its cookies instead of signing out\n", per)
	} else {
		fmt.Fprintf(w, "- load: %s; flow: full, an iteration is a sign-in (login page, password, code page, app code, landing page), the security page, "+
			"the OpenID Connect code flow (%.0f %% of iterations) and the sign-out\n", per, 100*r.OIDCRatio)
	}
	if r.Rate > 0 {
		fmt.Fprintf(w, "- offered load (--rate): %.0f iterations/s in all, whatever the concurrency\n", r.Rate)
	}
	if r.NewBrowsers {
		fmt.Fprintln(w, "- browsers: new (--new-browsers): no earlier sign-in seeded, so an account's first sign-in of the run "+
			"queues a new-browser notice mail")
	} else {
		fmt.Fprintln(w, "- browsers: returning customers: each pool account has an earlier sign-in (audit, a day old) "+
			"from the virtual customers' User-Agent and network, so the portal knows the browser and queues no new-browser notice")
	}
	fmt.Fprintf(w, "- hash ceiling: %s argon2id hashes/s %s%s\n", thousands(int64(r.HashesPerSecond)), r.ceilingRates(), r.ceilingPerLevel())
	if len(r.StartupMS) > 0 {
		var st []string
		for _, s := range r.StartupMS {
			st = append(st, fmt.Sprintf("%.0f ms", s))
		}
		fmt.Fprintf(w, "- start-up (spawn to /readyz): %s (the first on a new database, which makes its signing key meanwhile); "+
			"the first again, a restart: %.0f ms; idle RSS %s\n", strings.Join(st, ", "), r.RestartMS, mib(r.IdleRSSBytes))
	}
	for i, p := range r.Pprof {
		fmt.Fprintf(w, "- profiler of node %d (TOBIRA_PPROF_ADDR): %s\n", i+1, p)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| customers | sign-ins | sign-ins/s | % of hash ceiling | sign-in p50 / p95 / p99 ms | OIDC flow p50 / p95 / p99 ms | errors | server peak RSS | server CPU per sign-in | load tool CPU per sign-in | mails queued |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, lv := range r.Levels {
		errs := 0
		for _, n := range lv.Errors {
			errs += n
		}
		peak, cpu, toolCPU := "n/a", "n/a", "n/a" // CPU per sign-in: none without one
		if lv.PeakRSSBytes > 0 {
			peak = mib(lv.PeakRSSBytes)
			if !lv.PeakIsLevel {
				peak += " (since start)"
			}
			if lv.SignIns > 0 {
				cpu = fmt.Sprintf("%.2f ms", lv.ServerCPUPerSignInMS)
			}
		}
		if lv.SignIns > 0 {
			toolCPU = fmt.Sprintf("%.2f ms", lv.BenchCPUPerSignInMS)
		}
		mails := "n/a"
		if lv.MailsQueued >= 0 {
			mails = strconv.Itoa(lv.MailsQueued)
		}
		fmt.Fprintf(w, "| %d | %d | %.1f | %.2f %% | %s | %s | %d | %s | %s | %s | %s |\n", lv.Concurrency, lv.SignIns,
			lv.SignInsPerSecond, lv.PercentOfCeiling, triple(lv.Steps["sign-in"]), triple(lv.Steps["oidc-flow"]), errs,
			peak, cpu, toolCPU, mails)
	}
	for _, lv := range r.Levels {
		if lv.Cut > 0 {
			fmt.Fprintf(w, "\nWith %d customers, %d requests still unanswered %s after the level's end were cut "+
				"(not counted as errors; the level's %.1f s include that wait).\n", lv.Concurrency, lv.Cut, loadgen.LevelGrace, lv.Seconds)
		}
		if lv.Interrupted {
			fmt.Fprintf(w, "\nWith %d customers the run was interrupted after %.1f s: the level's figures are of that part "+
				"(the requests cut short are not counted as errors).\n", lv.Concurrency, lv.Seconds)
		}
	}
	r.cpuLine(w)

	steps := slices.Clone(stepOrder)
	seen := map[string]bool{"sign-in": true, "oidc-flow": true}
	for _, s := range stepOrder {
		seen[s] = true
	}
	for _, lv := range r.Levels {
		for _, s := range slices.Sorted(maps.Keys(lv.Steps)) {
			if !seen[s] {
				seen[s] = true
				steps = append(steps, s)
			}
		}
	}
	steps = slices.DeleteFunc(steps, func(s string) bool {
		return !slices.ContainsFunc(r.Levels, func(lv benchLevel) bool { return lv.Steps[s].Count > 0 })
	})
	if len(steps) > 0 { // else no step went well: no table, its columns none
		fmt.Fprintf(w, "\nLatency per step, p50 / p95 / p99 in ms:\n\n| customers | %s |\n|---:|%s\n",
			strings.Join(steps, " | "), strings.Repeat("---:|", len(steps)))
		for _, lv := range r.Levels {
			var cells []string
			for _, s := range steps {
				cells = append(cells, triple(lv.Steps[s]))
			}
			fmt.Fprintf(w, "| %d | %s |\n", lv.Concurrency, strings.Join(cells, " | "))
		}
	}

	var errRows []string
	for _, lv := range r.Levels {
		for _, k := range loadgen.SortedKinds(lv.Errors) {
			errRows = append(errRows, fmt.Sprintf("| %d | %s | %d |", lv.Concurrency, k, lv.Errors[k]))
		}
	}
	if len(errRows) > 0 {
		fmt.Fprintf(w, "\nErrors:\n\n| customers | kind | count |\n|---:|---|---:|\n%s\n", strings.Join(errRows, "\n"))
	}
	for _, lv := range r.Levels {
		if r.Target != "" && lv.SignIns == 0 && lv.Errors["login: password refused"] > 0 {
			fmt.Fprintf(w, "\nWith %d customers, the server refused every password of the bench's accounts: does it use the database "+
				"that --data, --config and --database named, where the bench seeded them?\n", lv.Concurrency)
		}
		if lv.PoolWaits > 0 {
			// PoolWaits counts the waits, not sign-ins per account.
			fmt.Fprintf(w, "\nWith %d customers, a customer found every account of the pool signed in during the current 30-second "+
				"step %d times, and waited for the next step: raise --pool.\n", lv.Concurrency, lv.PoolWaits)
		}
	}
}

// cpuLine says, level by level, the servers' CPU per sign-in with and
// without the estimated share of the password hash, and how both are
// computed.
func (r *benchReport) cpuLine(w io.Writer) {
	var parts []string
	for _, lv := range r.Levels {
		if lv.ServerCPUSeconds <= 0 || lv.SignIns == 0 {
			continue
		}
		p := fmt.Sprintf("%d customers: %.2f ms", lv.Concurrency, lv.ServerCPUPerSignInMS)
		if lv.ServerCPUPerSignInExclHashMS != 0 {
			p += fmt.Sprintf(", %.2f ms excluding password hashing", lv.ServerCPUPerSignInExclHashMS)
		}
		if lv.BenchCPUPerSignInMS > 0 {
			p += fmt.Sprintf(", %.2f times the load tool's", lv.ServerCPUPerSignInMS/lv.BenchCPUPerSignInMS)
		}
		parts = append(parts, p)
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "\nServer CPU per sign-in (%s hashing): %s.\n", r.Hashing, strings.Join(parts, "; "))
	}
	if r.Hashing == "production" {
		var hashes []string
		for _, lv := range r.Levels {
			if lv.ServerHashMS > 0 {
				hashes = append(hashes, fmt.Sprintf("%d customers: %.1f ms", lv.Concurrency, lv.ServerHashMS))
			}
		}
		if len(hashes) > 0 {
			fmt.Fprintf(w, "\nA password hash in the server took on average (its tobira_password_hash_seconds; the wait for a slot not counted): %s. "+
				"The ceiling before the load was a hash every %.1f ms; the server runs %d at once (hash_concurrency), each taking about %d times that while all are busy.\n",
				strings.Join(hashes, "; "), 1000/r.HashesPerSecond, r.HashSlots, r.HashSlots)
		}
	}
	var db []string
	for _, lv := range r.Levels {
		if lv.DB != nil {
			db = append(db, fmt.Sprintf("%d customers: %s waits (%s ms in all), %s run again", lv.Concurrency,
				thousands(lv.DB.Waits), thousands(int64(math.Round(lv.DB.WaitMS))), thousands(lv.DB.Retried)))
		}
	}
	if len(db) > 0 {
		fmt.Fprintf(w, "\nDatabase, per level (the servers' tobira_db_connection_waits_total and _wait_seconds_total, every pool, and tobira_db_transactions_retried_total): %s.\n",
			strings.Join(db, "; "))
	}
	what := "the security page, the code flow and the sign-out of each iteration"
	if r.Flow == "signin" {
		what = "the login page, the password, the code page, the app's code and the landing page, nothing more"
	}
	fmt.Fprintf(w, "\nCPU per sign-in is CPU time (utime + stime) during the level divided by the sign-ins completed: it includes %s.", what)
	if r.HashCPUPerSignInMS > 0 {
		fmt.Fprintf(w, " Password hashing is estimated as one argon2id verify per sign-in at the CPU a hash costs at the level's ceiling "+
			"(%d cores / its hashes per second; %.2f ms at the %s hashes/s measured before the load, which kept %d cores hashing", r.HashCores,
			r.HashCPUPerSignInMS, thousands(int64(r.HashesPerSecond)), r.HashCores)
		if r.Hashing == "production" {
			fmt.Fprint(w, "; with production hashing each level's is the mean of those measured right before and right after it")
		}
		fmt.Fprint(w, ") and subtracted; where the machine's speed moved so that it comes to all the CPU measured or more, no figure is given.")
	}
	fmt.Fprint(w, " The load tool's own work per sign-in does not change with the server's build, so its CPU per sign-in"+
		" measures how fast the machine was at that moment, and the server's CPU as a multiple of it compares builds"+
		" measured at different moments of a shared machine better than either alone.")
	fmt.Fprintln(w)
}

// triple is "p50 / p95 / p99" of a step, or a dash.
func triple(s benchStep) string {
	if s.Count == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s / %s", short(s.P50), short(s.P95), short(s.P99))
}

// short writes milliseconds with the precision that means something.
func short(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// thousands writes 1000000 as 1,000,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// ofCeiling sets the ceiling the level's sign-ins are a share of.
func (lv *benchLevel) ofCeiling(ceiling float64) {
	lv.HashesPerSecond, lv.PercentOfCeiling = ceiling, 0
	if ceiling > 0 {
		lv.PercentOfCeiling = 100 * lv.SignInsPerSecond / ceiling
	}
}

// estimateRest estimates the servers' CPU per sign-in without its one
// argon2id verify, at the CPU a hash costs at the level's ceiling (cores
// all hashing: cores / hashes per second). A ceiling measured at a quicker
// moment of the machine than the level makes the hash look cheaper than it
// was, and one at a slower moment dearer, up to more than all the CPU
// measured: then there is no estimate.
func (lv *benchLevel) estimateRest(cores int) {
	lv.ServerCPUPerSignInExclHashMS = 0
	if lv.ServerCPUPerSignInMS <= 0 || lv.HashesPerSecond <= 0 || cores <= 0 {
		return
	}
	if rest := lv.ServerCPUPerSignInMS - 1000*float64(cores)/lv.HashesPerSecond; rest > 0 {
		lv.ServerCPUPerSignInExclHashMS = rest
	}
}

// bracket takes the ceilings measured right before and right after the
// level, and their mean as the level's.
func (lv *benchLevel) bracket(before, after float64) {
	lv.CeilingBefore, lv.CeilingAfter = before, after
	lv.ofCeiling((before + after) / 2)
}

// ceilingRates says how the ceiling was reached: the rate of each number
// of hashes at once it tried, when it tried more than one.
func (r *benchReport) ceilingRates() string {
	if len(r.CeilingRates) < 2 {
		return "on all cores"
	}
	var rates []string
	for _, c := range r.CeilingRates {
		rates = append(rates, fmt.Sprintf("%d at once %s/s", c.AtOnce, thousands(int64(c.PerSecond))))
	}
	return "at best (" + strings.Join(rates, ", ") + ")"
}

// ceilingPerLevel describes the ceilings measured around each level, when
// they were.
func (r *benchReport) ceilingPerLevel() string {
	var around []string
	for _, lv := range r.Levels {
		if lv.CeilingBefore > 0 {
			around = append(around, fmt.Sprintf("%d: %s → %s", lv.Concurrency,
				thousands(int64(lv.CeilingBefore)), thousands(int64(lv.CeilingAfter))))
		}
	}
	if len(around) == 0 {
		return ""
	}
	return " before the load; again right before and right after each level, whose mean its % of the ceiling is of " +
		"(by customers, before → after: " + strings.Join(around, "; ") + "): the machine's share of its cores varies"
}
