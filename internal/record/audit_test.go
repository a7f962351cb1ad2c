package record

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
)

type lockPackage = conda.PackageRecord

// cleanInput is the full fixture without a licence policy: nothing to report.
func cleanInput(t *testing.T) AuditInput {
	r, l := fullCase(t)
	r.Licenses.Deny = nil
	return AuditInput{Recipe: r, Lock: l}
}

func TestAuditClean(t *testing.T) {
	rep := Audit(cleanInput(t))
	if len(rep.Threats) != 0 {
		t.Errorf("clean recipe has threats: %+v", rep.Threats)
	}
	if !rep.LevelMet() || rep.Achieved != LevelBitwise {
		t.Errorf("clean recipe: met=%v achieved=%s, want bitwise met", rep.Met, rep.Achieved)
	}
	if !strings.Contains(rep.Text(), `level "bitwise" is met`) {
		t.Errorf("text does not say the level is met:\n%s", rep.Text())
	}
}

type threatKey struct{ ID, Severity, Breaks, Subject, MitigatedBy string }

func TestAuditThreats(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mutate   func(in *AuditInput)
		want     []threatKey
		achieved string
	}{
		{"lock missing", func(in *AuditInput) { in.Lock = nil },
			[]threatKey{{ThreatLockMissing, SeverityHigh, LevelPinned, "", ""}}, LevelBestEffort},
		{"lock stale", func(in *AuditInput) { in.LockStale = true },
			[]threatKey{{ThreatLockStale, SeverityHigh, LevelPinned, "", ""}}, LevelBestEffort},
		{"lock inconsistent", func(in *AuditInput) { in.LockProblems = []string{"linux-64: six-1.16.0 depends on python"} },
			[]threatKey{{ThreatLockProblem, SeverityHigh, LevelPinned, "linux-64: six-1.16.0 depends on python", ""}}, LevelBestEffort},
		{"package without sha256", func(in *AuditInput) {
			pk := in.Lock.Targets[0].Packages
			i := slices.IndexFunc(pk, func(p lockPackage) bool { return p.Name == "six" })
			pk[i].SHA256 = ""
		}, []threatKey{{ThreatPackageNoSHA256, SeverityHigh, LevelPinned, "six", ""}}, LevelBestEffort},
		{"data without sha256", func(in *AuditInput) { in.Recipe.Data[0].SHA256 = "" },
			[]threatKey{{ThreatDataNoSHA256, SeverityHigh, LevelPinned, "weights", ""}}, LevelBestEffort},
		{"data mounted", func(in *AuditInput) { in.Recipe.Data[0].Mode = "mount" },
			[]threatKey{{ThreatDataMounted, SeverityInfo, "", "weights", ""}}, LevelBitwise},
		{"base unpinned everywhere", func(in *AuditInput) {
			in.Recipe.Image.Base = "debian:bookworm-slim"
			in.Lock.Base.Digest = ""
		}, []threatKey{{ThreatBaseUnpinned, SeverityHigh, LevelPinned, "debian:bookworm-slim", ""}}, LevelBestEffort},
		{"base pinned only by the lock", func(in *AuditInput) { in.Recipe.Image.Base = "debian:bookworm-slim" },
			[]threatKey{{ThreatBaseUnpinned, SeverityMedium, LevelBitwise, "debian:bookworm-slim", ""}}, LevelPinned},
		{"pip dependencies", func(in *AuditInput) {
			in.Recipe.Dependencies.Pip = append(in.Recipe.Dependencies.Pip, in.Recipe.Dependencies.Conda[0])
		},
			[]threatKey{{ThreatPipUnlocked, SeverityHigh, LevelPinned, "1 pip specs", ""}}, LevelBestEffort},
		{"no exclude_newer", func(in *AuditInput) { in.Recipe.Solver.ExcludeNewer = "" },
			[]threatKey{{ThreatNoExcludeNewer, SeverityMedium, LevelBitwise, "", ""}}, LevelPinned},
		{"flexible priority", func(in *AuditInput) { in.Recipe.Solver.ChannelPriority = "flexible" },
			[]threatKey{{ThreatChannelPriority, SeverityMedium, LevelBitwise, "flexible", ""}}, LevelPinned},
		{"disabled priority", func(in *AuditInput) { in.Recipe.Solver.ChannelPriority = "disabled" },
			[]threatKey{{ThreatChannelPriority, SeverityMedium, LevelBitwise, "disabled", ""}}, LevelPinned},
		{"channel without mirror", func(in *AuditInput) { in.Recipe.Channels[0].Mirrors = nil },
			[]threatKey{{ThreatChannelNoMirror, SeverityMedium, "", "conda-forge", ""}}, LevelBitwise},
		{"channel without mirror, vendored", func(in *AuditInput) {
			in.Recipe.Channels[0].Mirrors = nil
			in.VendorDir = "vendor"
		}, []threatKey{{ThreatChannelNoMirror, SeverityLow, "", "conda-forge", MitigationVendor}}, LevelBitwise},
		{"plain http mirror", func(in *AuditInput) { in.Recipe.Channels[0].Mirrors = []string{"http://mirror.example/cf"} },
			[]threatKey{{ThreatChannelInsecure, SeverityLow, "", "conda-forge", ""}}, LevelBitwise},
		{"link scripts", func(in *AuditInput) {
			in.LinkScripts = map[string][]string{"ca-certificates": {"post-link"}, "six": nil}
		},
			[]threatKey{{ThreatLinkScripts, SeverityMedium, LevelBitwise, "ca-certificates", ""}}, LevelPinned},
		{"gpu without cuda", func(in *AuditInput) { in.Recipe.Hardware.GPUs = 2 },
			[]threatKey{{ThreatGPUWithoutCUDA, SeverityMedium, LevelPinned, "", ""}}, LevelBestEffort},
		{"gpu with cuda", func(in *AuditInput) { in.Recipe.Hardware.GPUs, in.Recipe.Hardware.Cuda = 2, "12.4" },
			nil, LevelBitwise},
		{"gpu with __cuda in the lock", func(in *AuditInput) {
			in.Recipe.Hardware.GPUs = 1
			in.Lock.Targets[0].Virtual = append(in.Lock.Targets[0].Virtual, lock.VirtualPackage{Name: "__cuda", Version: "12.4"})
		}, nil, LevelBitwise},
		{"licence denied", func(in *AuditInput) { in.Recipe.Licenses.Deny = []string{"python-2.0"} },
			[]threatKey{
				{ThreatLicenceDenied, SeverityHigh, LevelBestEffort, "python", ""},
				{ThreatLicenceUnknown, SeverityLow, "", "_libgcc_mutex", ""},
			}, LevelNone},
		{"licence denied in one branch of OR", func(in *AuditInput) {
			pk := in.Lock.Targets[0].Packages
			i := slices.IndexFunc(pk, func(p lockPackage) bool { return p.Name == "six" })
			pk[i].License = "MIT OR GPL-3.0-only"
			in.Recipe.Licenses.Deny = []string{"GPL-3.0-only"}
		}, []threatKey{
			{ThreatLicenceDenied, SeverityHigh, LevelBestEffort, "ld_impl_linux-64", ""},
			// A licence exception does not lift a denial of the licence it modifies.
			{ThreatLicenceDenied, SeverityHigh, LevelBestEffort, "libgcc-ng", ""},
			{ThreatLicenceDenied, SeverityHigh, LevelBestEffort, "libgomp", ""},
			{ThreatLicenceDenied, SeverityHigh, LevelBestEffort, "readline", ""},
			{ThreatLicenceUnknown, SeverityLow, "", "_libgcc_mutex", ""},
		}, LevelNone},
		{"licence not allowed", func(in *AuditInput) {
			in.Lock.Targets[0].Packages = slices.DeleteFunc(in.Lock.Targets[0].Packages, func(p lockPackage) bool {
				return p.Name != "six" && p.Name != "python" && p.Name != "pip"
			})
			in.Recipe.Licenses.Allow = []string{"MIT"}
		}, []threatKey{{ThreatLicenceNotAllow, SeverityHigh, LevelBestEffort, "python", ""}}, LevelNone},
		{"licence unknown", func(in *AuditInput) {
			in.Lock.Targets[0].Packages = slices.DeleteFunc(in.Lock.Targets[0].Packages, func(p lockPackage) bool {
				return p.Name != "six" && p.Name != "_libgcc_mutex"
			})
			in.Recipe.Licenses.Allow = []string{"MIT"}
		}, []threatKey{{ThreatLicenceUnknown, SeverityLow, "", "_libgcc_mutex", ""}}, LevelBitwise},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := cleanInput(t)
			tc.mutate(&in)
			rep := Audit(in)
			var got []threatKey
			for _, th := range rep.Threats {
				got = append(got, threatKey{th.ID, th.Severity, th.Breaks, th.Subject, th.MitigatedBy})
				if th.Message == "" || th.Fix == "" {
					t.Errorf("threat %s has no message or fix", th.ID)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("threats (-want +got):\n%s", diff)
			}
			if rep.Achieved != tc.achieved {
				t.Errorf("achieved = %s, want %s", rep.Achieved, tc.achieved)
			}
			if rep.LevelMet() != (tc.achieved == LevelBitwise) {
				t.Errorf("LevelMet = %v with achieved %s and declared bitwise", rep.LevelMet(), rep.Achieved)
			}
		})
	}
}

func TestAuditDeclaredLevel(t *testing.T) {
	for _, tc := range []struct {
		level string
		met   bool
	}{{LevelBitwise, false}, {LevelPinned, true}, {LevelBestEffort, true}} {
		t.Run(tc.level, func(t *testing.T) {
			in := cleanInput(t)
			in.Recipe.Reproducibility.Level = tc.level
			in.Recipe.Solver.ExcludeNewer = "" // breaks bitwise only
			if got := Audit(in).LevelMet(); got != tc.met {
				t.Errorf("LevelMet = %v, want %v", got, tc.met)
			}
		})
	}
}

func TestAuditNilRecipe(t *testing.T) {
	rep := Audit(AuditInput{})
	if rep.Met || rep.Achieved != LevelBestEffort {
		t.Errorf("empty input: met=%v achieved=%s", rep.Met, rep.Achieved)
	}
	_ = rep.Text()
}

func TestAuditGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			r, l := f.make(t)
			rep := Audit(AuditInput{Recipe: r, Lock: l, LinkScripts: map[string][]string{"ca-certificates": {"post-link"}}})
			golden(t, f.name+"/audit.txt.golden", []byte(rep.Text()))
			b, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, f.name+"/audit.json.golden", append(b, '\n'))
		})
	}
}
