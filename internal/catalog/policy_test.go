package catalog

import (
	"errors"
	"strings"
	"testing"
)

const okRecipe = `reproducibility { level = "bitwise" }
image "x" {
  base = "oci:/srv/bases/busybox@sha256:b62d72d4c45fe80379be0be099e66f6ff223df2e965164c002afe26cd277619c"
}
channel "main" {
  url = "file:///srv/channel"
}
dependencies { conda = ["hello-reprobuild"] }
platform { targets = ["linux-64"] }
`

func TestCheckRecipe(t *testing.T) {
	p := Policy{Allow: []string{"file:///srv/channel", "oci:/srv/bases"}, MinLevel: "pinned"}
	if _, err := CheckRecipe("reprobuild.hcl", []byte(okRecipe), p); err != nil {
		t.Fatalf("allowed recipe refused: %v", err)
	}
	for _, tc := range []struct {
		name, from, to string
		line           int
		want           string
	}{
		{"other channel", `file:///srv/channel"`, `https://conda.anaconda.org/conda-forge"`, 5, "does not allow"},
		{"relative channel", `file:///srv/channel"`, `../channel"`, 5, "does not allow"},
		{"escaping channel", `file:///srv/channel"`, `file:///srv/channel/../../etc"`, 5, "does not allow"},
		{"prefix is not a path boundary", `file:///srv/channel"`, `file:///srv/channel-evil"`, 5, "does not allow"},
		{"local base", `oci:/srv/bases/busybox`, `oci:/home/x/busybox`, 2, "local OCI layout"},
		{"level", `"bitwise"`, `"best-effort"`, 1, "below"},
		{"syntax", `platform {`, `platform {{`, 0, "error"},
		{"unknown block", `dependencies {`, "bogus {}\ndependencies {", 8, "Unsupported block type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(okRecipe, tc.from, tc.to, 1)
			_, err := CheckRecipe("reprobuild.hcl", []byte(src), p)
			var re *RecipeError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a RecipeError", err)
			}
			if len(re.Diagnostics) == 0 {
				t.Fatalf("no diagnostics: %v", re)
			}
			d := re.Diagnostics[0]
			if tc.line > 0 && (d.Line != tc.line || d.File != "reprobuild.hcl") {
				t.Errorf("diagnostic at %s:%d, want reprobuild.hcl:%d: %+v", d.File, d.Line, tc.line, d)
			}
			if !strings.Contains(re.Message+d.Summary+d.Detail, tc.want) {
				t.Errorf("diagnostic %+v (%s) does not say %q", d, re.Message, tc.want)
			}
		})
	}
}

// pipRecipe is okRecipe with a PyPI index and a pip requirement.
var pipRecipe = strings.Replace(okRecipe, `dependencies { conda = ["hello-reprobuild"] }`, `pypi "pypi" {
  url     = "https://pypi.org/simple"
  mirrors = ["https://mirror.example/pypi/simple"]
}
dependencies {
  conda = ["hello-reprobuild"]
  pip   = ["requests >=2.31"]
}`, 1)

func TestCheckRecipePyPI(t *testing.T) {
	p := Policy{Allow: []string{"file:///srv/channel", "oci:/srv/bases"}, AllowPyPI: []string{"https://pypi.org/simple", "https://mirror.example/pypi"}}
	if _, err := CheckRecipe("reprobuild.hcl", []byte(pipRecipe), p); err != nil {
		t.Fatalf("allowed indexes refused: %v", err)
	}
	for _, tc := range []struct {
		name     string
		policy   Policy
		from, to string
		want     string
	}{
		{"other index", p, `url     = "https://pypi.org/simple"`, `url     = "https://pypi.evil.example/simple"`, "pypi.evil.example/simple, which this server does not allow as a package index"},
		{"other mirror", p, `https://mirror.example/pypi/simple`, `https://mirror.evil.example/simple`, "mirror.evil.example"},
		{"prefix is not a path boundary", p, `url     = "https://pypi.org/simple"`, `url     = "https://pypi.org/simple-evil"`, "simple-evil"},
		{"relative index", p, `url     = "https://pypi.org/simple"`, `url     = "../index"`, "does not allow as a package index"},
		{"a channel is not an index", p, `url     = "https://pypi.org/simple"`, `url     = "file:///srv/channel"`, "file:///srv/channel, which this server does not allow as a package index"},
		{"no index allowed", Policy{Allow: p.Allow}, "", "", "(allowed indexes: none)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(pipRecipe, tc.from, tc.to, 1)
			_, err := CheckRecipe("reprobuild.hcl", []byte(src), tc.policy)
			var re *RecipeError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a RecipeError", err)
			}
			d := re.Diagnostics[0]
			if d.Summary != "Package index not allowed" || d.File != "reprobuild.hcl" || d.Line != 8 {
				t.Errorf("diagnostic %+v, want Package index not allowed at reprobuild.hcl:8 (the pypi block)", d)
			}
			if !strings.Contains(re.Message, tc.want) {
				t.Errorf("message %q does not say %q", re.Message, tc.want)
			}
		})
	}
}

func TestDiffVersions(t *testing.T) {
	lockA := `version 1
recipe-hash aa

target linux-64
  package a 1.0 h0
    subdir linux-64
  package b 1.0 h0
    subdir linux-64
`
	lockB := strings.Replace(strings.Replace(lockA, "package a 1.0 h0", "package a 1.1 h0", 1), "package b 1.0 h0\n    subdir linux-64\n", "package c 2.0 h1\n    subdir linux-64\n", 1)
	d := DiffVersions(&Version{Number: 1, Lock: lockA, Recipe: "x\ny\n"}, &Version{Number: 2, Lock: lockB, Recipe: "x\nz\n"})
	if d.Note != "" {
		t.Fatalf("note %q: the test locks did not parse", d.Note)
	}
	if len(d.Added) != 1 || d.Added[0].Name != "c" || len(d.Removed) != 1 || d.Removed[0].Name != "b" || len(d.Changed) != 1 || d.Changed[0].Old != "1.0 h0" || d.Changed[0].New != "1.1 h0" {
		t.Errorf("diff %+v", d)
	}
	var ops string
	for _, l := range d.Recipe {
		ops += l.Op
	}
	if ops != " -+" {
		t.Errorf("recipe diff ops %q, want \" -+\"", ops)
	}
}

func TestRenderMarkdown(t *testing.T) {
	got := string(renderMarkdown("# Title\n\nSome **bold** and `x<y`.\n\n| a | b |\n|---|---|\n| 1 | <2> |\n\n- item\n\n```\n<code>\n```\n"))
	for _, want := range []string{"<h3>Title</h3>", "<strong>bold</strong>", "<code>x&lt;y</code>", "<th scope=\"col\">a</th>", "<td>&lt;2&gt;</td>", "<li>item</li>", "<pre><code>&lt;code&gt;\n</code></pre>"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered markdown lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "|---") {
		t.Errorf("table separator rendered:\n%s", got)
	}
}

func TestEnvRowsEscape(t *testing.T) {
	got := string(envRows([]Environment{{Namespace: "lab", Name: "a<b", Latest: 3, Status: "succeeded", Digest: "sha256:0123456789abcdef0123", UpdatedAt: "t"}}))
	for _, want := range []string{`href="/ns/lab/a%3Cb/3"`, ">a&lt;b<", "sha256:0123456789ab…"} {
		if !strings.Contains(got, want) {
			t.Errorf("row lacks %q: %s", want, got)
		}
	}
}
