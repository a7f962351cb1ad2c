package channel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
)

func TestVendorMakesAValidChannel(t *testing.T) {
	pkgs := realPackages(t)
	noarch := generatedPackages(2, 512)
	for i := range noarch {
		noarch[i].rec.Subdir = "noarch"
		noarch[i].rec.Noarch = "python"
		noarch[i].rec.Depends = []string{"python >=3.8"}
	}
	srv := newChannelServer(t)
	canon := "https://conda.example.org/forge"
	recs := srv.publish("forge", canon, append(pkgs, noarch...))
	ch := Channel{URL: canon, Location: srv.URL + "/forge"}
	var ds []Download
	for _, r := range recs {
		ds = append(ds, ch.Download(r))
	}
	ds = append(ds, ds[0]) // the same file locked for two targets is fine

	dir := t.TempDir()
	c := testClient(t, t.TempDir())
	if err := Vendor(context.Background(), c, ds, dir); err != nil {
		t.Fatal(err)
	}

	// The vendored directory is a channel: parse it with a fresh offline client.
	vch := Channel{Name: "vendor", URL: "./vendor", Location: "file://" + dir}
	off := testClient(t, t.TempDir(), WithOffline(true))
	var got []conda.PackageRecord
	for _, sub := range []string{"linux-64", "noarch"} {
		rd, err := off.Repodata(context.Background(), vch, sub)
		if err != nil {
			t.Fatalf("vendored %s: %v", sub, err)
		}
		got = append(got, rd.Packages...)
	}
	var want []conda.PackageRecord
	for _, r := range recs {
		r.Channel = "./vendor"
		r.URL = "./vendor/" + r.Subdir + "/" + r.Fn
		want = append(want, r)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Subdir+want[i].Fn < want[j].Subdir+want[j].Fn })
	sort.Slice(got, func(i, j int) bool { return got[i].Subdir+got[i].Fn < got[j].Subdir+got[j].Fn })
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("vendored records (-want +got):\n%s", d)
	}
	// Every file verifies, and the channel serves them offline.
	var vds []Download
	for _, r := range got {
		if h := fileSHA(t, filepath.Join(dir, r.Subdir, r.Fn)); h != r.SHA256 {
			t.Errorf("%s: sha256 %s, want %s", r.Fn, h, r.SHA256)
		}
		vds = append(vds, vch.Download(r))
	}
	if _, err := off.Fetch(context.Background(), vds); err != nil {
		t.Fatalf("fetch from the vendored channel: %v", err)
	}

	// Vendoring again gives the same bytes.
	first, _ := os.ReadFile(filepath.Join(dir, "linux-64", "repodata.json"))
	dir2 := t.TempDir()
	if err := Vendor(context.Background(), c, ds, dir2); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(dir2, "linux-64", "repodata.json"))
	if string(first) != string(second) {
		t.Fatal("vendor output is not deterministic")
	}
}

func TestVendorWritesEmptyNoarch(t *testing.T) {
	pkgs := realPackages(t)[:1]
	srv := newChannelServer(t)
	recs := srv.publish("c", srv.URL+"/c", pkgs)
	dir := t.TempDir()
	if err := Vendor(context.Background(), testClient(t, t.TempDir()), []Download{{Record: recs[0]}}, dir); err != nil {
		t.Fatal(err)
	}
	rd, err := conda.ParseRepodata(readTestdata(t, filepath.Join(dir, "noarch", "repodata.json")), "x")
	if err != nil || len(rd.Packages) != 0 || rd.Info.Subdir != "noarch" {
		t.Fatalf("noarch index: %+v, %v", rd, err)
	}
}

func TestVendorRejects(t *testing.T) {
	a := conda.PackageRecord{Name: "a", Version: "1", Build: "0", Subdir: "linux-64", Fn: "a-1-0.conda", SHA256: hexSHA([]byte("a")), URL: "https://h/a"}
	b := a
	b.SHA256 = hexSHA([]byte("b"))
	evil := a
	evil.Fn = "../../etc/passwd.conda"
	evilSub := a
	evilSub.Subdir = ".."
	tests := map[string][]Download{
		"two hashes for one file": {{Record: a}, {Record: b}},
		"file name escapes":       {{Record: evil}},
		"subdir escapes":          {{Record: evilSub}},
	}
	for name, ds := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			err := Vendor(context.Background(), testClient(t, t.TempDir()), ds, dir)
			var ve *VendorError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *VendorError", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("rejected vendor wrote %v", ents)
			}
		})
	}
}

func TestExcludeNewer(t *testing.T) {
	cut := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []conda.PackageRecord{
		{Name: "old", Timestamp: cut.UnixMilli() - 1},
		{Name: "exact", Timestamp: cut.UnixMilli()},
		{Name: "new", Timestamp: cut.UnixMilli() + 1},
		{Name: "undated"},
	}
	var names []string
	for _, r := range ExcludeNewer(recs, cut) {
		names = append(names, r.Name)
	}
	if d := cmp.Diff([]string{"old", "exact", "undated"}, names); d != "" {
		t.Fatal(d)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		home string
		want string
	}{
		{"override", []string{"REPROBUILD_CACHE=/c", "XDG_CACHE_HOME=/x"}, "/h", "/c"},
		{"xdg", []string{"XDG_CACHE_HOME=/x"}, "/h", "/x/reprobuild"},
		{"relative xdg ignored", []string{"XDG_CACHE_HOME=x"}, "/h", "/h/.cache/reprobuild"},
		{"home", nil, "/h", "/h/.cache/reprobuild"},
		{"last assignment wins", []string{"REPROBUILD_CACHE=/a", "REPROBUILD_CACHE=/b"}, "", "/b"},
		{"nothing", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultCacheDir(tt.env, tt.home); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
