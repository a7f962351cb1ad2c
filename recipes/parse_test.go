package recipes

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite the .golden files of the diagnostics tests")

// TestDiagnosticsGolden parses every bad recipe in testdata/diagnostics and compares the
// rendered diagnostics (source snippets included) with its .golden file.
func TestDiagnosticsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/diagnostics/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no diagnostics cases: %v", err)
	}
	vars := map[string]map[string]string{
		"variables.hcl": {"gpu_count": "1"},
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			filename := filepath.ToSlash(path)
			_, diags := Parse(filename, src, WithVariables(vars[name]))
			if !diags.HasErrors() {
				t.Fatalf("%s: no error reported; diagnostics: %v", path, diags)
			}
			for _, d := range diags {
				if d.Detail == "" || d.Summary == "" {
					t.Errorf("diagnostic without summary or detail: %#v", d)
				}
			}
			got := FormatDiagnostics(filename, src, diags)
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestDiagnosticsGolden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("diagnostics differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestDiagnosticPositions checks the exact position of diagnostics that must point inside
// a string or at a specific element.
func TestDiagnosticPositions(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		summary string
		line    int
		col     int
	}{
		{"version part of spec", "channel \"c\" { url = \"https://x.example/c\" }\ndependencies { conda = [\"numpy >=1.2;6\"] }\n", "Invalid match spec", 2, 37},
		{"operator", "channel \"c\" { url = \"https://x.example/c\" }\ndependencies { conda = [\"numpy<<2\"] }\n", "Invalid match spec", 2, 31},
		{"second element", "platform { targets = [\"linux-64\", \"linux-86\"] }\n", "Unknown platform", 1, 35},
		{"unknown attribute", "solver {\n  priority = \"strict\"\n}\n", "Unsupported argument", 2, 3},
		{"unknown block", "pythn { version = \"3.11\" }\n", "Unsupported block type", 1, 1},
		{"level", "reproducibility { level = \"exact\" }\n", "Invalid level", 1, 27},
		{"cpu of no target's family", "platform { targets = [\"linux-64\"] }\nhardware { cpu = \"m1\" }\n", "CPU fits no target", 2, 18},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("r.hcl", []byte(tt.src))
			for _, d := range diags {
				if d.Summary != tt.summary {
					continue
				}
				if d.Subject == nil {
					t.Fatalf("%q has no subject", d.Summary)
				}
				if d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
					t.Errorf("%q at %d:%d, want %d:%d", d.Summary, d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col)
				}
				return
			}
			t.Fatalf("no %q diagnostic in %v", tt.summary, diags)
		})
	}
}

func TestParseFull(t *testing.T) {
	r, diags := ParseFile("testdata/valid/full.hcl")
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diags)
	}
	want := &Recipe{
		Reproducibility: Reproducibility{Level: "bitwise"},
		Image: Image{
			Name:   "analysis",
			Base:   "oci:../base@sha256:6d0c1f3e0fb4c2a1e9d8d1b6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e",
			Tags:   []string{"registry.example/lab/analysis:1.0"},
			Labels: map[string]string{"team": "lab", "project": "x"},
			Prefix: "/opt/env",
		},
		Python: &Python{Version: "3.11", Implementation: "cpython", Source: "channel"},
		Channels: []Channel{
			{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge", Mirrors: []string{"https://mirror.example/conda-forge"}, Packages: []string{"numpy", "scipy*"}},
			{Name: "local", URL: "channels/local"},
		},
		Solver: Solver{ChannelPriority: "flexible", ExcludeNewer: "2026-11-01T00:00:00Z"},
		Dependencies: Dependencies{Conda: []Spec{
			{Text: "numpy >=1.26"}, {Text: "scipy"}, {Text: "conda-forge::pandas 2.*"},
		}},
		Platform: Platform{Targets: []string{"linux-64", "linux-aarch64"}, Glibc: "2.28"},
		Hardware: Hardware{Cuda: "12.4", CPU: "x86_64_v3", GPUs: 1, Memory: "32GiB"},
		Data:     []Data{{Name: "weights", URL: "https://example.org/w.bin", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Path: "/data/w.bin", Mode: "bake"}},
		Runtime:  Runtime{Entrypoint: []string{"python"}, Env: map[string]string{"OMP_NUM_THREADS": "4"}, Workdir: "/work", User: "1000:1000"},
		Licenses: LicensePolicy{Allow: []string{"BSD-3-Clause", "MIT"}, Deny: []string{"GPL-3.0-only"}},
	}
	opts := cmp.Options{cmpopts.IgnoreTypes(hcl.Range{}), cmpopts.IgnoreFields(Recipe{}, "Filename", "Dir", "Warnings", "Source"), cmpopts.EquateEmpty()}
	if diff := cmp.Diff(want, r, opts); diff != "" {
		t.Errorf("decoded recipe (-want +got):\n%s", diff)
	}
	if src, err := os.ReadFile(r.Filename); err != nil || string(src) != string(r.Source) {
		t.Errorf("Recipe.Source is not the bytes of %s (%v)", r.Filename, err)
	}
	if !filepath.IsAbs(r.Dir) {
		t.Errorf("ParseFile left Dir relative: %q", r.Dir)
	}
	wantSpecs := []string{"python 3.11.*", "numpy >=1.26", "scipy", "conda-forge::pandas 2.*"}
	var gotSpecs []string
	for _, s := range r.RootSpecs() {
		gotSpecs = append(gotSpecs, s.Text)
	}
	if diff := cmp.Diff(wantSpecs, gotSpecs); diff != "" {
		t.Errorf("RootSpecs (-want +got):\n%s", diff)
	}
	if rs := r.RootSpecs(); rs[0].Range.Start.Line != 13 {
		t.Errorf("python spec points at line %d, want 13 (the version attribute)", rs[0].Range.Start.Line)
	}
}

func TestDefaults(t *testing.T) {
	r, diags := Parse("r.hcl", []byte(`python { version = "3.12" }
channel "cf" { url = "https://conda.anaconda.org/conda-forge" }
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := struct{ Level, Base, Prefix, Priority, Source string }{r.Reproducibility.Level, r.Image.Base, r.Image.Prefix, r.Solver.ChannelPriority, r.Python.Source}
	want := struct{ Level, Base, Prefix, Priority, Source string }{"pinned", "scratch", "/opt/env", "strict", "channel"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"linux-64"}, r.Targets()); diff != "" {
		t.Errorf("default targets (-want +got):\n%s", diff)
	}
}

func TestVariables(t *testing.T) {
	src := []byte(`variable "cuda" { default = "12.4" }
hardware { cuda = var.cuda }
`)
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"default", nil, "12.4"},
		{"override", map[string]string{"cuda": "12.2"}, "12.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, diags := Parse("r.hcl", src, WithVariables(tt.vars))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if r.Hardware.Cuda != tt.want {
				t.Errorf("cuda = %q, want %q", r.Hardware.Cuda, tt.want)
			}
		})
	}
}

func TestResolveURL(t *testing.T) {
	r := &Recipe{Dir: "/srv/recipes/lab"}
	tests := []struct{ in, want string }{
		{"https://conda.anaconda.org/conda-forge", "https://conda.anaconda.org/conda-forge"},
		{"file:///mnt/channel", "file:///mnt/channel"},
		{"channels/local", "file:///srv/recipes/lab/channels/local"},
		{"../shared/ch", "file:///srv/recipes/shared/ch"},
		{"with space", "file:///srv/recipes/lab/with%20space"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := r.ResolveURL(tt.in); got != tt.want {
				t.Errorf("ResolveURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// A CPU name newer than reprobuild's archspec table is not an error: it warns and is
// kept when its family can be told from its prefix.
func TestUnknownCPUWarns(t *testing.T) {
	for _, tt := range []struct{ cpu, targets string }{{"x86_64_v5", `["linux-64"]`}, {"aarch64_sve3", `["linux-aarch64"]`}} {
		r, diags := Parse("r.hcl", []byte("platform { targets = "+tt.targets+" }\nhardware { cpu = \""+tt.cpu+"\" }\n"))
		if diags.HasErrors() || len(r.Warnings) != 1 || r.Warnings[0].Summary != "Unknown CPU microarchitecture" || r.Hardware.CPU != tt.cpu {
			t.Errorf("%s: cpu %q, diagnostics %v", tt.cpu, r.Hardware.CPU, diags)
		}
	}
	for _, cpu := range []string{"zen3", "neoverse_v1", "armv8.2a", "x86_64_v3"} {
		targets := `["linux-64", "linux-aarch64"]`
		if r, diags := Parse("r.hcl", []byte("platform { targets = "+targets+" }\nhardware { cpu = \""+cpu+"\" }\n")); len(diags) != 0 || r.Hardware.CPU != cpu {
			t.Errorf("%s: cpu %q, diagnostics %v", cpu, r.Hardware.CPU, diags)
		}
	}
}

// TestSecretURLsNotPrinted: a channel or mirror URL carrying a token or a password is
// refused, and neither the message nor the source snippet shows the secret.
func TestSecretURLsNotPrinted(t *testing.T) {
	path := "testdata/diagnostics/secret_urls.hcl"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, diags := Parse(path, src)
	if len(diags.Errs()) != 2 {
		t.Fatalf("want 2 errors, got %v", diags)
	}
	out := FormatDiagnostics(path, src, diags)
	if strings.Contains(out, "SECRET") {
		t.Errorf("diagnostics print the secret:\n%s", out)
	}
	for _, want := range []string{"secret_urls.hcl:2:", "secret_urls.hcl:3:", "REPROBUILD_AUTH_CONDA_ANACONDA_ORG", "REPROBUILD_AUTH_MIRROR_EXAMPLE_8443"} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics do not say %q:\n%s", want, out)
		}
	}
}
