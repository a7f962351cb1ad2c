package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pypi/index"
	"github.com/reprobuild/reprobuild/recipes"
)

// Channels maps the recipe's channels to fetchable channel.Channel values: URL stays
// canonical (as the lock records it), Location is where a relative path resolves to,
// and mirrors (relative ones resolved too) keep the recipe's order.
func Channels(r *recipes.Recipe) []channel.Channel {
	out := make([]channel.Channel, 0, len(r.Channels))
	for _, c := range r.Channels {
		ch := channel.Channel{Name: c.Name, URL: strings.TrimRight(c.URL, "/")}
		if loc := strings.TrimRight(r.ResolveURL(c.URL), "/"); loc != ch.URL {
			ch.Location = loc
		}
		for _, m := range c.Mirrors {
			ch.Mirrors = append(ch.Mirrors, r.ResolveURL(m))
		}
		out = append(out, ch)
	}
	return out
}

// Downloads lists the packages of the lock's targets (all when platforms is empty) as
// downloads with their channel's location and mirrors.
func Downloads(r *recipes.Recipe, l *lock.Lock, platforms []string) ([]channel.Download, error) {
	chans := Channels(r)
	var ds []channel.Download
	for _, p := range platforms {
		if l.Target(p) == nil {
			return nil, fmt.Errorf("the lock has no target %q; it has %s", p, strings.Join(targetNames(l), ", "))
		}
	}
	for _, t := range l.Targets {
		if len(platforms) > 0 && !slices.Contains(platforms, t.Platform) {
			continue
		}
		for _, rec := range t.Packages {
			d := channel.Download{Record: rec}
			for _, ch := range chans {
				if strings.TrimRight(rec.Channel, "/") == ch.URL || strings.HasPrefix(rec.URL, ch.URL+"/") {
					d = ch.Download(rec)
					break
				}
			}
			ds = append(ds, d)
		}
	}
	return ds, nil
}

func targetNames(l *lock.Lock) []string {
	var out []string
	for _, t := range l.Targets {
		out = append(out, t.Platform)
	}
	return out
}

// VendorOptions configures Vendor.
type VendorOptions struct {
	// Client fetches the packages (required): the CLI builds it from flags and the
	// environment (cache directory, credentials, offline, progress).
	Client *channel.Client
	// Platforms limits the targets vendored; empty means every target of the lock.
	Platforms []string
	// PyPI fetches the lock's wheels (needed only when it has pip packages); they are
	// written to DIR/pypi as a static simple index.
	PyPI *index.Client
}

// VendorResult summarises a vendored directory.
type VendorResult struct {
	Dir      string
	Packages int // distinct files written
}

// Vendor copies every package of the lock into dir as a conda channel (one directory per
// subdir with its repodata.json), fetching through the verified cache. Point a recipe's
// channel or mirror at dir to build without the original channels.
func Vendor(ctx context.Context, r *recipes.Recipe, l *lock.Lock, dir string, opts VendorOptions) (*VendorResult, error) {
	if opts.Client == nil {
		return nil, fmt.Errorf("vendor: no channel client")
	}
	if dir == "" {
		return nil, fmt.Errorf("vendor: no output directory given")
	}
	ds, err := Downloads(r, l, opts.Platforms)
	if err != nil {
		return nil, fmt.Errorf("vendor: %w", err)
	}
	if err := channel.Vendor(ctx, opts.Client, ds, dir); err != nil {
		return nil, err
	}
	// Every target gets a repodata.json, even with only noarch packages, so DIR can stand
	// in for the channel when relocking too.
	for _, t := range l.Targets {
		if len(opts.Platforms) > 0 && !slices.Contains(opts.Platforms, t.Platform) {
			continue
		}
		rd := filepath.Join(dir, t.Platform, "repodata.json")
		if _, err := os.Stat(rd); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(rd), 0o755); err != nil {
			return nil, fmt.Errorf("vendor: %w", err)
		}
		empty := fmt.Sprintf("{\n  \"info\": {\n    \"subdir\": %q\n  },\n  \"packages\": {},\n  \"packages.conda\": {},\n  \"removed\": [],\n  \"repodata_version\": 1\n}\n", t.Platform)
		if err := os.WriteFile(rd, []byte(empty), 0o644); err != nil {
			return nil, fmt.Errorf("vendor: %w", err)
		}
	}
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.Record.Subdir+"/"+d.Record.Fn] = true
	}
	wheels, err := vendorPyPI(ctx, r, l, dir, opts.PyPI, opts.Platforms)
	if err != nil {
		return nil, err
	}
	return &VendorResult{Dir: dir, Packages: len(seen) + wheels}, nil
}
