package record

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// Reproducibility levels, weakest first.
const (
	LevelBestEffort = "best-effort"
	LevelPinned     = "pinned"
	LevelBitwise    = "bitwise"
	// LevelNone is the achieved level when even best-effort fails (a licence policy
	// violation).
	LevelNone = "none"
)

func levelRank(l string) int {
	switch l {
	case LevelBestEffort:
		return 1
	case LevelPinned:
		return 2
	case LevelBitwise:
		return 3
	}
	return 0
}

// Severities of a threat, lowest first.
const (
	SeverityInfo   = "info"
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

func severityRank(s string) int {
	return slices.Index([]string{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh}, s)
}

// Threat identifiers; docs/audit.md says what each means and which level it breaks.
const (
	ThreatLockMissing      = "lock-missing"
	ThreatLockStale        = "lock-stale"
	ThreatLockProblem      = "lock-problem"
	ThreatPackageNoSHA256  = "package-no-sha256"
	ThreatDataNoSHA256     = "data-no-sha256"
	ThreatDataMounted      = "data-mounted"
	ThreatBaseUnpinned     = "base-unpinned"
	ThreatPipUnlocked      = "pip-unlocked"
	ThreatNoExcludeNewer   = "no-exclude-newer"
	ThreatChannelPriority  = "channel-priority"
	ThreatChannelNoMirror  = "channel-no-mirror"
	ThreatChannelInsecure  = "channel-insecure"
	ThreatLinkScripts      = "link-scripts"
	ThreatGPUWithoutCUDA   = "gpu-without-cuda"
	ThreatLicenceDenied    = "licence-denied"
	ThreatLicenceNotAllow  = "licence-not-allowed"
	ThreatLicenceUnknown   = "licence-unknown"
	MitigationLock         = "lock"
	MitigationBaseDigest   = "base-digest"
	MitigationMirrors      = "mirrors"
	MitigationVendor       = "vendor"
	MitigationExcludeNewer = "exclude-newer"
	MitigationStrict       = "strict-priority"
	MitigationDataSHA256   = "data-sha256"
	MitigationLicences     = "licence-policy"
	MitigationVerify       = "verify"
)

// AuditInput is everything the audit looks at. The caller does the I/O (reading the
// lock, checking staleness, looking into packages and the vendor directory).
type AuditInput struct {
	Recipe *recipes.Recipe
	// Lock is nil when the recipe has no lock file yet.
	Lock *lock.Lock
	// LockStale is true when the lock was solved from a different recipe (or for other
	// targets); StaleReasons says why.
	LockStale    bool
	StaleReasons []string
	// LockProblems are inconsistencies of the lock on its own terms (lock.Problems), other
	// than packages without sha256, which the audit finds itself.
	LockProblems []string
	// LinkScripts maps package names to the link scripts they carry ("pre-link",
	// "post-link", "pre-unlink"); nil when unknown.
	LinkScripts map[string][]string
	// VendorDir is the vendored channel copy that backs the lock, or "" for none.
	VendorDir string
}

// Report is the audit in the four steps of the reproducibility framework. Its JSON form
// is the `reprobuild audit --json` output.
type Report struct {
	Recipe      string       `json:"recipe"`
	Scope       Scope        `json:"scope"`
	Components  Components   `json:"components"`
	Threats     []Threat     `json:"threats"`
	Mitigations []Mitigation `json:"mitigations"`
	// Achieved is the strongest level no threat breaks (LevelNone when even best-effort
	// fails).
	Achieved string `json:"achieved"`
	Met      bool   `json:"level_met"`
}

// Scope is step 1: the objectives the recipe declares.
type Scope struct {
	Level    string       `json:"level"`
	Targets  []string     `json:"targets"`
	Glibc    string       `json:"glibc,omitempty"`
	Hardware HardwareInfo `json:"hardware"`
	Base     string       `json:"base"`
}

// Components is step 2: what the runtime is made of, counted by kind.
type Components struct {
	Interpreter string            `json:"interpreter"`
	Targets     []TargetCount     `json:"targets"`
	Channels    int               `json:"channels"`
	Mirrors     int               `json:"mirrors"`
	CondaSpecs  int               `json:"conda_specs"`
	PipSpecs    int               `json:"pip_specs"`
	DataBaked   int               `json:"data_baked"`
	DataMounted int               `json:"data_mounted"`
	Licences    []LicenceCount    `json:"licences"`
	Virtual     map[string]string `json:"virtual_packages,omitempty"`
}

// TargetCount counts the locked packages of one platform.
type TargetCount struct {
	Platform string `json:"platform"`
	Packages int    `json:"packages"`
	Noarch   int    `json:"noarch"`
}

// LicenceCount is how many packages declare a licence.
type LicenceCount struct {
	Licence  string `json:"licence"`
	Packages int    `json:"packages"`
}

// Threat is step 3: one risk to reproducibility, with what it breaks and how to fix it.
type Threat struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	// Breaks is the weakest level this threat rules out (it rules out every stronger one
	// too); "" when it breaks none.
	Breaks  string `json:"breaks,omitempty"`
	Subject string `json:"subject,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
	// Where is the recipe position (file:line) the threat comes from, when known.
	Where string `json:"where,omitempty"`
	// MitigatedBy names a mitigation in place that lowers the risk.
	MitigatedBy string `json:"mitigated_by,omitempty"`
}

// Mitigation is step 4: a defence in place, or one available but not used.
type Mitigation struct {
	ID      string `json:"id"`
	InPlace bool   `json:"in_place"`
	Message string `json:"message"`
}

// LevelMet reports whether the recipe reaches the level it declares.
func (r *Report) LevelMet() bool { return r.Met }

// Audit evaluates a recipe and its lock in the four steps. It never fails: a missing lock
// or a bad field is itself a finding.
func Audit(in AuditInput) *Report {
	a := &auditor{in: in, r: in.Recipe}
	if a.r == nil {
		a.r = &recipes.Recipe{}
	}
	rep := &Report{Recipe: a.r.Filename, Threats: []Threat{}, Mitigations: []Mitigation{}}
	rep.Scope = a.scope()
	rep.Components = a.components()
	a.threats()
	rep.Threats = a.found
	rep.Mitigations = a.mitigations()
	slices.SortStableFunc(rep.Threats, func(x, y Threat) int {
		return cmp.Or(
			cmp.Compare(severityRank(y.Severity), severityRank(x.Severity)),
			strings.Compare(x.ID, y.ID),
			strings.Compare(x.Subject, y.Subject))
	})
	worst := levelRank(LevelBitwise) + 1
	for _, t := range rep.Threats {
		if b := levelRank(t.Breaks); b > 0 && b < worst {
			worst = b
		}
	}
	rep.Achieved = LevelNone
	for _, l := range []string{LevelBitwise, LevelPinned, LevelBestEffort} {
		if levelRank(l) < worst {
			rep.Achieved = l
			break
		}
	}
	declared := levelRank(rep.Scope.Level)
	if declared == 0 {
		declared = levelRank(recipes.DefaultLevel)
	}
	rep.Met = levelRank(rep.Achieved) >= declared
	return rep
}

type auditor struct {
	in    AuditInput
	r     *recipes.Recipe
	found []Threat
}

func (a *auditor) add(t Threat) { a.found = append(a.found, t) }

func where(rng hcl.Range) string {
	if rng.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", rng.Filename, rng.Start.Line)
}

func (a *auditor) scope() Scope {
	r := a.r
	lvl := r.Reproducibility.Level
	if lvl == "" {
		lvl = recipes.DefaultLevel
	}
	return Scope{
		Level:    lvl,
		Targets:  r.Targets(),
		Glibc:    r.Platform.Glibc,
		Hardware: HardwareInfo{Cuda: r.Hardware.Cuda, CPU: r.Hardware.CPU, GPUs: r.Hardware.GPUs, Memory: r.Hardware.Memory},
		Base:     cmp.Or(r.Image.Base, recipes.DefaultBase),
	}
}

func (a *auditor) components() Components {
	r, l := a.r, a.in.Lock
	c := Components{Channels: len(r.Channels), CondaSpecs: len(r.Dependencies.Conda), PipSpecs: len(r.Dependencies.Pip), Targets: []TargetCount{}, Licences: []LicenceCount{}}
	for _, ch := range r.Channels {
		c.Mirrors += len(ch.Mirrors)
	}
	for _, d := range r.Data {
		if d.Mode == "mount" {
			c.DataMounted++
		} else {
			c.DataBaked++
		}
	}
	c.Interpreter = "none"
	if r.Python != nil {
		c.Interpreter = strings.TrimSpace(cmp.Or(r.Python.Implementation, "cpython") + " " + r.Python.Version + " (from " + cmp.Or(r.Python.Source, recipes.DefaultPythonSource) + ")")
	}
	if l == nil {
		return c
	}
	licences := map[string]map[string]bool{}
	for _, t := range l.Targets {
		tc := TargetCount{Platform: t.Platform, Packages: len(t.Packages)}
		for _, p := range t.Packages {
			if p.Noarch != "" || p.Subdir == "noarch" {
				tc.Noarch++
			}
			if p.Name == "python" && r.Python != nil && cmp.Or(r.Python.Source, recipes.DefaultPythonSource) == "channel" {
				c.Interpreter = cmp.Or(r.Python.Implementation, "cpython") + " " + p.Version + " (from channel, build " + p.Build + ")"
			}
			lic := p.License
			if noLicense(lic) {
				lic = "(none)"
			}
			if licences[lic] == nil {
				licences[lic] = map[string]bool{}
			}
			licences[lic][p.Name] = true
		}
		for _, v := range t.Virtual {
			if c.Virtual == nil {
				c.Virtual = map[string]string{}
			}
			c.Virtual[t.Platform+":"+v.Name] = v.Version
		}
		c.Targets = append(c.Targets, tc)
	}
	for _, lic := range sortedKeys(licences) {
		c.Licences = append(c.Licences, LicenceCount{Licence: lic, Packages: len(licences[lic])})
	}
	slices.SortStableFunc(c.Licences, func(x, y LicenceCount) int { return cmp.Compare(y.Packages, x.Packages) })
	return c
}

func (a *auditor) threats() {
	r, l := a.r, a.in.Lock
	switch {
	case l == nil:
		a.add(Threat{ID: ThreatLockMissing, Severity: SeverityHigh, Breaks: LevelPinned,
			Message: "There is no lock: every build solves again and may get different packages.",
			Fix:     "Run `reprobuild lock` and commit reprobuild.lock."})
	case a.in.LockStale:
		msg := "The lock was solved from a different recipe, so it does not describe what the recipe asks for."
		if len(a.in.StaleReasons) > 0 {
			msg += " (" + strings.Join(a.in.StaleReasons, "; ") + ")"
		}
		a.add(Threat{ID: ThreatLockStale, Severity: SeverityHigh, Breaks: LevelPinned, Message: msg,
			Fix: "Run `reprobuild lock` and commit the new reprobuild.lock; check it in CI with `reprobuild lock --check`."})
	}
	for _, p := range a.in.LockProblems {
		a.add(Threat{ID: ThreatLockProblem, Severity: SeverityHigh, Breaks: LevelPinned, Subject: p,
			Message: "The lock is inconsistent: " + p + ".",
			Fix:     "Run `reprobuild lock` to solve again; do not edit reprobuild.lock by hand."})
	}
	a.baseThreats()
	if len(r.Dependencies.Pip) > 0 {
		a.add(Threat{ID: ThreatPipUnlocked, Severity: SeverityHigh, Breaks: LevelPinned, Subject: fmt.Sprintf("%d pip specs", len(r.Dependencies.Pip)),
			Message: "pip dependencies are not solved into the lock, so their versions and hashes are not pinned.",
			Fix:     "Use the conda-forge builds of these packages in dependencies.conda.", Where: where(r.Dependencies.Pip[0].Range)})
	}
	if r.Solver.ExcludeNewer == "" {
		a.add(Threat{ID: ThreatNoExcludeNewer, Severity: SeverityMedium, Breaks: LevelBitwise,
			Message: "Without exclude_newer a relock picks up packages published since, so the recipe alone does not determine the lock.",
			Fix:     "Set solver { exclude_newer = \"YYYY-MM-DDT00:00:00Z\" } to the date the lock was made.", Where: where(r.Solver.Range)})
	}
	if p := cmp.Or(r.Solver.ChannelPriority, recipes.DefaultChannelPriority); p != "strict" {
		a.add(Threat{ID: ThreatChannelPriority, Severity: SeverityMedium, Breaks: LevelBitwise, Subject: p,
			Message: fmt.Sprintf("Channel priority %q lets a package move between channels when one of them changes.", p),
			Fix:     "Use channel_priority = \"strict\".", Where: where(r.Solver.Range)})
	}
	for _, ch := range r.Channels {
		u := StripCredentials(ch.URL)
		if len(ch.Mirrors) == 0 && !strings.HasPrefix(ch.URL, "file:") && strings.Contains(ch.URL, "://") {
			t := Threat{ID: ThreatChannelNoMirror, Severity: SeverityMedium, Subject: ch.Name,
				Message: fmt.Sprintf("Channel %s (%s) has no mirror: if it deletes a package or goes offline, the image cannot be rebuilt.", ch.Name, u),
				Fix:     "Add mirrors = [...] to the channel, or keep a copy with `reprobuild vendor DIR`.", Where: where(ch.Range)}
			if a.in.VendorDir != "" {
				t.Severity, t.MitigatedBy = SeverityLow, MitigationVendor
			}
			a.add(t)
		}
		for _, m := range append([]string{ch.URL}, ch.Mirrors...) {
			if strings.HasPrefix(strings.ToLower(m), "http://") {
				a.add(Threat{ID: ThreatChannelInsecure, Severity: SeverityLow, Subject: ch.Name,
					Message: fmt.Sprintf("%s is plain http: packages are still checked against the lock's sha256, but repodata can be tampered with before locking.", StripCredentials(m)),
					Fix:     "Use an https:// URL.", Where: where(ch.Range)})
			}
		}
	}
	a.dataThreats()
	a.vmThreats()
	if r.Hardware.GPUs > 0 && r.Hardware.Cuda == "" && !a.lockHasCUDA() {
		a.add(Threat{ID: ThreatGPUWithoutCUDA, Severity: SeverityMedium, Breaks: LevelPinned,
			Message: fmt.Sprintf("The runtime needs %d GPU(s) but declares no CUDA version: the solve assumed none, and which driver it runs with is left open.", r.Hardware.GPUs),
			Fix:     "Set hardware { cuda = \"12.4\" } (the CUDA version the packages must be built for).", Where: where(r.Hardware.Range)})
	}
	if l != nil {
		a.packageThreats()
	}
}

func (a *auditor) baseThreats() {
	r, l := a.r, a.in.Lock
	base := cmp.Or(r.Image.Base, recipes.DefaultBase)
	if base == "scratch" {
		return
	}
	recipePinned := strings.Contains(base, "@sha256:")
	lockPinned := l != nil && strings.HasPrefix(l.Base.Digest, "sha256:")
	switch {
	case !recipePinned && !lockPinned:
		a.add(Threat{ID: ThreatBaseUnpinned, Severity: SeverityHigh, Breaks: LevelPinned, Subject: base,
			Message: fmt.Sprintf("The base image %s is not pinned by digest: its tag can move to different content.", base),
			Fix:     fmt.Sprintf("Write base = \"%s@sha256:DIGEST\" (find it with `crane digest %s`).", base, base), Where: where(r.Image.Range)})
	case !recipePinned:
		a.add(Threat{ID: ThreatBaseUnpinned, Severity: SeverityMedium, Breaks: LevelBitwise, Subject: base,
			Message: fmt.Sprintf("The lock pins the base %s to %s, but the recipe does not: a relock may move it.", base, l.Base.Digest),
			Fix:     fmt.Sprintf("Write base = \"%s@%s\" in the recipe.", base, l.Base.Digest), Where: where(r.Image.Range)})
	}
}

func (a *auditor) dataThreats() {
	for _, d := range a.r.Data {
		if d.SHA256 == "" {
			a.add(Threat{ID: ThreatDataNoSHA256, Severity: SeverityHigh, Breaks: LevelPinned, Subject: d.Name,
				Message: fmt.Sprintf("Data %q (%s) has no sha256: its content can change without anyone noticing.", d.Name, StripCredentials(d.URL)),
				Fix:     "Add sha256 = \"...\" to the data block (`sha256sum FILE`).", Where: where(d.Range)})
		}
		if d.Mode == "mount" {
			a.add(Threat{ID: ThreatDataMounted, Severity: SeverityInfo, Subject: d.Name,
				Message: fmt.Sprintf("Data %q is mounted at %s at run time, not baked: the image does not carry it.", d.Name, d.Path),
				Fix:     "Check the mounted content against the sha256 in the runtime record before use, or use mode = \"bake\"."})
		}
	}
}

func (a *auditor) lockHasCUDA() bool {
	if a.in.Lock == nil {
		return false
	}
	for _, t := range a.in.Lock.Targets {
		for _, v := range t.Virtual {
			if v.Name == "__cuda" {
				return true
			}
		}
	}
	return false
}

// packageThreats looks at every locked package once per name (a package missing its hash
// on two platforms is reported with both).
func (a *auditor) packageThreats() {
	noSHA := map[string][]string{}
	licence := map[string]string{}
	for _, t := range a.in.Lock.Targets {
		for _, p := range t.Packages {
			if p.SHA256 == "" {
				noSHA[p.Name] = append(noSHA[p.Name], t.Platform)
			}
			licence[p.Name] = p.License
		}
	}
	for _, name := range sortedKeys(noSHA) {
		a.add(Threat{ID: ThreatPackageNoSHA256, Severity: SeverityHigh, Breaks: LevelPinned, Subject: name,
			Message: fmt.Sprintf("Package %s (%s) has no sha256 in the lock: a changed archive would install silently.", name, strings.Join(noSHA[name], ", ")),
			Fix:     "Relock against a channel whose repodata carries sha256 (conda-forge does), or vendor and index the packages."})
	}
	for _, name := range sortedKeys(a.in.LinkScripts) {
		scripts := a.in.LinkScripts[name]
		if _, locked := licence[name]; !locked || len(scripts) == 0 {
			continue
		}
		a.add(Threat{ID: ThreatLinkScripts, Severity: SeverityMedium, Breaks: LevelBitwise, Subject: name,
			Message: fmt.Sprintf("Package %s runs %s scripts at install time: arbitrary code whose effects reprobuild does not replay.", name, strings.Join(scripts, "/")),
			Fix:     "Choose a build without link scripts, or check what the script does and that the image works without it."})
	}
	pol := a.r.Licenses
	if len(pol.Allow) == 0 && len(pol.Deny) == 0 {
		return
	}
	in := func(list []string) func(string) bool {
		return func(id string) bool {
			for _, x := range list {
				if strings.EqualFold(strings.TrimSuffix(x, "+"), strings.TrimSuffix(id, "+")) {
					return true
				}
			}
			return false
		}
	}
	denied, allowed := in(pol.Deny), in(pol.Allow)
	for _, name := range sortedKeys(licence) {
		lic := licence[name]
		e, ok := parseLicense(lic)
		switch {
		case noLicense(lic) || !ok:
			a.add(Threat{ID: ThreatLicenceUnknown, Severity: SeverityLow, Subject: name,
				Message: fmt.Sprintf("Package %s declares licence %q, which is not an SPDX expression the policy can check.", name, lic),
				Fix:     "Check the licence by hand and record the decision.", Where: where(pol.Range)})
		case !e.eval(func(id string) bool { return !denied(id) }):
			a.add(Threat{ID: ThreatLicenceDenied, Severity: SeverityHigh, Breaks: LevelBestEffort, Subject: name,
				Message: fmt.Sprintf("Package %s is licensed %s, which the recipe's licence policy denies.", name, lic),
				Fix:     "Remove the package (or what depends on it), or change the policy.", Where: where(pol.Range)})
		case len(pol.Allow) > 0 && !e.eval(allowed):
			a.add(Threat{ID: ThreatLicenceNotAllow, Severity: SeverityHigh, Breaks: LevelBestEffort, Subject: name,
				Message: fmt.Sprintf("Package %s is licensed %s, which is not in the recipe's allowed licences.", name, lic),
				Fix:     "Add the licence to licenses.allow after review, or remove the package.", Where: where(pol.Range)})
		}
	}
}

func (a *auditor) mitigations() []Mitigation {
	r, l := a.r, a.in.Lock
	var out []Mitigation
	add := func(id string, inPlace bool, format string, args ...any) {
		out = append(out, Mitigation{ID: id, InPlace: inPlace, Message: fmt.Sprintf(format, args...)})
	}
	if l != nil && !a.in.LockStale {
		n, hashed := 0, 0
		for _, t := range l.Targets {
			for _, p := range t.Packages {
				n++
				if p.SHA256 != "" {
					hashed++
				}
			}
		}
		add(MitigationLock, true, "The lock pins %d packages on %d platform(s), %d by sha256.", n, len(l.Targets), hashed)
	} else {
		add(MitigationLock, false, "A fresh lock would pin every package by URL and sha256.")
	}
	base := cmp.Or(r.Image.Base, recipes.DefaultBase)
	switch {
	case base == "scratch":
		add(MitigationBaseDigest, true, "The image starts from scratch: no base image to drift.")
	case strings.Contains(base, "@sha256:") || (l != nil && l.Base.Digest != ""):
		add(MitigationBaseDigest, true, "The base image is pinned by digest.")
	default:
		add(MitigationBaseDigest, false, "Pinning the base image by digest would fix its content.")
	}
	mirrored := 0
	for _, ch := range r.Channels {
		if len(ch.Mirrors) > 0 {
			mirrored++
		}
	}
	add(MitigationMirrors, mirrored > 0 && mirrored == len(r.Channels), "%d of %d channel(s) have mirrors to fall back on.", mirrored, len(r.Channels))
	if a.in.VendorDir != "" {
		add(MitigationVendor, true, "Every locked package is vendored in %s (a file:// channel).", a.in.VendorDir)
	} else {
		add(MitigationVendor, false, "`reprobuild vendor DIR` would keep an offline copy of every locked package.")
	}
	add(MitigationExcludeNewer, r.Solver.ExcludeNewer != "", "exclude_newer %s bounds what a relock can see.", cmp.Or(r.Solver.ExcludeNewer, "(unset)"))
	add(MitigationStrict, cmp.Or(r.Solver.ChannelPriority, recipes.DefaultChannelPriority) == "strict", "Channel priority is %s.", cmp.Or(r.Solver.ChannelPriority, recipes.DefaultChannelPriority))
	if len(r.Data) > 0 {
		n := 0
		for _, d := range r.Data {
			if d.SHA256 != "" {
				n++
			}
		}
		add(MitigationDataSHA256, n == len(r.Data), "%d of %d data source(s) are pinned by sha256.", n, len(r.Data))
	}
	add(MitigationLicences, len(r.Licenses.Allow)+len(r.Licenses.Deny) > 0, "Licence policy: %d allowed, %d denied.", len(r.Licenses.Allow), len(r.Licenses.Deny))
	add(MitigationVerify, false, "Run `reprobuild verify` (in CI) to rebuild from the lock and compare image digests.")
	return out
}
