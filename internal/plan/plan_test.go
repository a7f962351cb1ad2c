package plan

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func rec(name, version string, size int64, depends ...string) conda.PackageRecord {
	fn := name + "-" + version + "-0.conda"
	return conda.PackageRecord{Name: name, Version: version, Build: "0", Subdir: "linux-64", Fn: fn,
		URL: "https://example.org/c/linux-64/" + fn, SHA256: sha, Size: size, Depends: depends, Timestamp: 1700000000000}
}

func sampleLock() *lock.Lock {
	return &lock.Lock{
		Version:  lock.FormatVersion,
		Channels: []lock.Channel{{Name: "c", URL: "https://example.org/c"}},
		// An index digest: the base is multi-platform.
		Base: lock.Base{Ref: "registry.example/python", Digest: "sha256:" + sha},
		Data: []lock.Data{
			{Name: "weights", URL: "https://example.org/w.bin", SHA256: sha, Path: "/data/w.bin", Mode: "bake"},
			{Name: "big", URL: "https://example.org/big.bin", SHA256: sha, Path: "/data/big.bin", Mode: "mount"},
		},
		Targets: []lock.Target{{
			Platform: "linux-64",
			Packages: []conda.PackageRecord{
				// "aaa" depends on "zzz": link order is zzz, then aaa, whatever the names say.
				rec("aaa", "1", 10, "zzz >=1"),
				rec("python", "3.12.4", 1000, "zzz"),
				rec("zzz", "1", 10),
			},
		}},
	}
}

func sampleRecipe() *recipes.Recipe {
	return &recipes.Recipe{
		Filename: "/src/reprobuild.hcl",
		Dir:      "/src",
		Image:    recipes.Image{Name: "x", Base: "registry.example/python", Prefix: "/opt/env", Labels: map[string]string{"team": "ml"}},
		Runtime:  recipes.Runtime{Entrypoint: []string{"python"}, Env: map[string]string{"A": "1"}},
	}
}

func TestLinkOrderInGroup(t *testing.T) {
	p, err := New(nil, sampleLock(), "", Info{LayerBudget: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Groups) != 1 {
		t.Fatalf("budget 1 gave %d groups", len(p.Groups))
	}
	if d := cmp.Diff([]string{"zzz", "aaa", "python"}, p.Groups[0].Names()); d != "" {
		t.Errorf("link order (-want +got):\n%s", d)
	}
}

func TestGroupsFollowPlanLayers(t *testing.T) {
	var pkgs []conda.PackageRecord
	var sized []image.Sized
	for i := range 40 {
		p := rec(fmt.Sprintf("p%02d", i), "1", int64(1000+i))
		pkgs = append(pkgs, p)
		sized = append(sized, image.Sized{Name: p.Name, Size: p.Size})
	}
	var got [][]string
	for _, g := range Groups(pkgs, 0) {
		got = append(got, g.Names())
	}
	if d := cmp.Diff(image.PlanLayers(sized, DefaultLayerBudget), got); d != "" {
		t.Errorf("groups differ from image.PlanLayers (-want +got):\n%s", d)
	}
}

func TestPlan(t *testing.T) {
	r, l := sampleRecipe(), sampleLock()
	p, err := New(r, l, "linux-64", Info{ReprobuildVersion: "v1.2.3", Engine: EngineBuildKit})
	if err != nil {
		t.Fatal(err)
	}
	if p.Platform.OS != "linux" || p.Platform.Architecture != "amd64" || p.Platform.Variant != "" || p.Prefix != "/opt/env" || p.Python != "3.12" {
		t.Errorf("platform %v prefix %q python %q", p.Platform, p.Prefix, p.Python)
	}
	if want := time.UnixMilli(1700000000000).UTC(); !p.Epoch.Equal(want) {
		t.Errorf("epoch %v, want the lock's %v", p.Epoch, want)
	}
	if p.Record == nil || p.Record.Engine != EngineBuildKit || p.Record.ReprobuildVersion != "v1.2.3" {
		t.Fatalf("record %+v", p.Record)
	}
	// The record names the base the lock pins (here an index), whatever an engine
	// resolves it to for one platform.
	if p.Record.Image.BaseDigest != "sha256:"+sha || p.Config.Labels[record.LabelBaseDigest] != "sha256:"+sha {
		t.Errorf("base digest: record %q, label %q", p.Record.Image.BaseDigest, p.Config.Labels[record.LabelBaseDigest])
	}
	if p.Base.Pinned() != "registry.example/python@sha256:"+sha {
		t.Errorf("pinned base %q", p.Base.Pinned())
	}
	if len(p.Data) != 1 || p.Data[0].Name != "weights" {
		t.Errorf("baked data %+v", p.Data)
	}
	if d := cmp.Diff([]string{"/data/big.bin"}, p.Config.Volumes); d != "" {
		t.Errorf("volumes (-want +got):\n%s", d)
	}
	if p.Config.Labels["team"] != "ml" || p.Config.Annotations["team"] != "ml" {
		t.Errorf("labels %v", p.Config.Labels)
	}
	var paths []string
	for _, e := range p.Own {
		paths = append(paths, e.Path)
	}
	if d := cmp.Diff([]string{"opt", "opt/reprobuild", "opt/reprobuild/runtime.json", "opt/reprobuild/sbom.cdx.json", "opt/reprobuild/sbom.spdx.json"}, paths); d != "" {
		t.Errorf("own files (-want +got):\n%s", d)
	}
	// One history entry per added layer: groups, own files, baked data.
	if n := len(p.Groups) + 2; len(p.History) != n || p.History[n-1].Comment != fmt.Sprintf("layer %d of %d", n, n) {
		t.Errorf("history %+v for %d layers", p.History, n)
	}
	again, err := New(r, l, "linux-64", Info{ReprobuildVersion: "v1.2.3", Engine: EngineBuildKit})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(p, again); d != "" {
		t.Errorf("the same input gave another plan:\n%s", d)
	}
	// The engine is the only difference between the engines' plans.
	emb, err := New(r, l, "linux-64", Info{ReprobuildVersion: "v1.2.3", Engine: EngineEmbedded})
	if err != nil {
		t.Fatal(err)
	}
	emb.Engine, emb.Record.Engine = p.Engine, p.Record.Engine
	if d := cmp.Diff(p.Groups, emb.Groups); d != "" {
		t.Errorf("groups differ by engine:\n%s", d)
	}
	if d := cmp.Diff(p.Config, emb.Config); d != "" {
		t.Errorf("config differs by engine:\n%s", d)
	}
}

func TestEpochOverrideAndBudget(t *testing.T) {
	when := time.Unix(0, 0)
	p, err := New(nil, sampleLock(), "", Info{Epoch: when, LayerBudget: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Epoch.Equal(when) || p.Config.Epoch != p.Epoch {
		t.Errorf("epoch %v, config epoch %v, want %v", p.Epoch, p.Config.Epoch, when)
	}
	if len(p.Groups) != 2 {
		t.Errorf("budget 2 gave %d groups", len(p.Groups))
	}
	if p.Record != nil || len(p.Own) != 0 {
		t.Error("a plan without a recipe has no record or own files")
	}
}

func TestOCILayoutBase(t *testing.T) {
	l := sampleLock()
	l.Base = lock.Base{Ref: "oci:../bases/busybox", Digest: "sha256:" + sha}
	p, err := New(sampleRecipe(), l, "", Info{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Base.Ref != "oci:/bases/busybox" || p.Base.Pinned() != "oci:/bases/busybox@sha256:"+sha {
		t.Errorf("base %+v pinned %q", p.Base, p.Base.Pinned())
	}
}

func TestErrors(t *testing.T) {
	l := sampleLock()
	if _, err := New(nil, l, "linux-aarch64", Info{}); err == nil {
		t.Error("a platform the lock lacks was planned")
	}
	l.Targets = append(l.Targets, lock.Target{Platform: "linux-aarch64"})
	if _, err := New(nil, l, "", Info{}); err == nil {
		t.Error("two targets and no choice were planned")
	}
	l.Targets[1].Platform = "linux-foo"
	var pe *PlatformError
	if _, err := Targets(nil, l, nil, Info{}); !errors.As(err, &pe) {
		t.Errorf("linux-foo: %v", err)
	}
	if _, err := New(nil, nil, "", Info{}); err == nil {
		t.Error("no lock was planned")
	}
}
