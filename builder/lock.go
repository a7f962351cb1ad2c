package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/progress"
	"github.com/reprobuild/reprobuild/internal/solver"
	"github.com/reprobuild/reprobuild/recipes"
)

// ChannelOptions configure how channels are reached. The CLI fills them from flags and
// the environment; the library never reads the environment itself.
type ChannelOptions struct {
	// CacheDir is the package and repodata cache (default: the CLI's XDG cache dir).
	CacheDir string
	// Offline uses only the cache and file:// channels.
	Offline bool
	// Credentials for private channels, by host. Never written anywhere.
	Credentials channel.Credentials
	// Parallelism bounds concurrent downloads (0: the channel package's default).
	Parallelism int
	// Progress receives progress lines (nil: quiet); Terminal draws bars instead.
	Progress io.Writer
	Terminal bool
	// Network limits (0: the channel package's defaults; a negative MinRate or Deadline
	// disables the check).
	IdleTimeout     time.Duration
	Deadline        time.Duration
	MinRate         int64
	MaxRepodataSize int64
}

// LockOptions configure Lock.
type LockOptions struct {
	Recipe  string
	Vars    map[string]string
	Update  []string
	Channel ChannelOptions
}

// LockResult is what Lock did.
type LockResult struct {
	Path    string
	Lock    *lock.Lock
	Changed bool // the file's bytes changed (or it was created)
}

// Lock solves the recipe for every target platform and writes reprobuild.lock beside
// it. An existing lock's packages are kept where they still fit (only Update names are
// freed), so relocking an unchanged recipe changes nothing.
func Lock(ctx context.Context, o LockOptions) (*LockResult, error) {
	r, err := LoadRecipe(o.Recipe, o.Vars)
	if err != nil {
		return nil, err
	}
	var prev *lock.Lock
	if l, err := LoadLock(r); err == nil {
		prev = l
	} else if _, missing := errors.AsType[*MissingLockError](err); !missing {
		return nil, fmt.Errorf("%w (delete it to lock from scratch)", err)
	}
	if err := checkUpdateNames(r, prev, o.Update); err != nil {
		return nil, err
	}
	client, err := NewChannelClient(o.Channel)
	if err != nil {
		return nil, err
	}
	l, err := solveRecipe(ctx, r, client, prev, o.Update)
	if err != nil {
		return nil, err
	}
	if err := lockPipAll(ctx, r, o.Channel, l, prev, o.Update); err != nil {
		return nil, err
	}
	path := LockPath(r)
	old, _ := os.ReadFile(path)
	data, err := lock.Marshal(l)
	if err != nil {
		return nil, err
	}
	changed := string(old) != string(data)
	if changed {
		if err := WriteLock(r, l); err != nil {
			return nil, err
		}
	}
	return &LockResult{Path: path, Lock: l, Changed: changed}, nil
}

// CheckOptions configure Check.
type CheckOptions struct {
	Recipe string
	Vars   map[string]string
}

// Check reports whether the recipe's lock is up to date (`lock --check`): nil, a
// *MissingLockError, or a *lock.StaleError naming every reason.
func Check(o CheckOptions) (string, error) {
	r, err := LoadRecipe(o.Recipe, o.Vars)
	if err != nil {
		return "", err
	}
	l, err := LoadLock(r)
	if err != nil {
		return LockPath(r), err
	}
	return LockPath(r), CheckLock(r, l)
}

// NewChannelClient makes the channel client every command shares.
func NewChannelClient(o ChannelOptions) (*channel.Client, error) {
	opts := []channel.Option{channel.WithOffline(o.Offline), channel.WithCredentials(o.Credentials)}
	if o.Parallelism > 0 {
		opts = append(opts, channel.WithParallelism(o.Parallelism))
	}
	if o.CacheDir != "" {
		opts = append(opts, channel.WithCacheDir(o.CacheDir))
	}
	if o.IdleTimeout > 0 {
		opts = append(opts, channel.WithIdleTimeout(o.IdleTimeout))
	}
	if o.Deadline > 0 {
		opts = append(opts, channel.WithDeadline(o.Deadline))
	}
	if o.MinRate != 0 {
		opts = append(opts, channel.WithMinRate(max(o.MinRate, 0), channel.DefaultRateWindow))
	}
	if o.MaxRepodataSize > 0 {
		opts = append(opts, channel.WithMaxRepodataSize(o.MaxRepodataSize))
	}
	if o.Progress != nil {
		opts = append(opts, channel.WithProgress(o.Progress, o.Terminal))
	}
	return channel.New(opts...)
}

// virtualFor returns the virtual packages a target is solved against: the machine the
// recipe describes (not the machine reprobuild runs on), plus the interpreter when it
// comes from the base image.
func virtualFor(r *recipes.Recipe, platform string) ([]conda.PackageRecord, error) {
	out, err := VirtualPackages(r, platform)
	if err != nil {
		return nil, err
	}
	if py := basePython(r, platform); py != nil {
		out = append(out, *py)
	}
	return out, nil
}

// basePython is the record standing for an interpreter taken from the base image
// (python { source = "base" }): noarch python packages depend on "python", and the
// base provides it.
func basePython(r *recipes.Recipe, platform string) *conda.PackageRecord {
	if r.Python == nil || r.Python.Source != "base" {
		return nil
	}
	v := r.Python.Version
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return &conda.PackageRecord{Name: "python", Version: v, Build: "base", Subdir: platform, Channel: "@base", Fn: "python"}
}

// excludeNewerMillis parses the recipe's exclude_newer (RFC 3339) into milliseconds.
func excludeNewerMillis(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("solver.exclude_newer %q: %w", s, err)
	}
	return t.UnixMilli(), nil
}

// solveRecipe fetches repodata and solves every target concurrently; the result does not
// depend on the order the goroutines finish in.
func solveRecipe(ctx context.Context, r *recipes.Recipe, client *channel.Client, prev *lock.Lock, update []string) (*lock.Lock, error) {
	cutoff, err := excludeNewerMillis(r.Solver.ExcludeNewer)
	if err != nil {
		return nil, err
	}
	var specs []solver.Spec
	for _, s := range r.RootSpecs() {
		ms, err := conda.ParseMatchSpec(s.Text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rangeString(s.Range.Filename, s.Range.Start.Line, s.Range.Start.Column), err)
		}
		specs = append(specs, solver.Spec{MatchSpec: ms, Text: s.Text, Origin: rangeString(s.Range.Filename, s.Range.Start.Line, s.Range.Start.Column)})
	}
	chans := Channels(r)
	targets := r.Targets()
	l := NewLock(r)
	l.Targets = make([]lock.Target, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	for i, platform := range targets {
		g.Go(func() error {
			var crs []solver.ChannelRecords
			var locked []conda.PackageRecord
			if prev != nil {
				if t := prev.Target(platform); t != nil {
					locked = t.Packages
				}
			}
			roots := shardRoots(specs, locked)
			for ci, ch := range chans {
				cr := solver.ChannelRecords{Name: ch.Name, URL: ch.URL, Allow: r.Channels[ci].Packages}
				// A channel with sharded repodata (CEP 16) gives only the records the
				// requested names reach; without shards, its full repodata is read.
				if roots != nil {
					rds, err := client.ShardedRepodata(gctx, ch, []string{platform, "noarch"}, roots)
					if err == nil {
						cr.Records, cr.Subdirs = rds[platform].Packages, [][]conda.PackageRecord{rds["noarch"].Packages}
						crs = append(crs, cr)
						continue
					}
					if !errors.Is(err, channel.ErrNoShards) {
						return err
					}
				}
				// A channel may lack a subdir (no packages for that platform, or a
				// noarch-only channel): that subdir is empty. A channel with neither is
				// misconfigured and reported.
				var missing []error
				task := progress.FromContext(ctx).Start("repodata " + ch.Name + " " + platform)
				for _, sd := range []string{platform, "noarch"} {
					// Indexed by name: the solve decodes only the records it reaches.
					x, err := client.RepodataIndex(gctx, ch, sd)
					task.Add(0, sd)
					if err != nil {
						if subdirMissing(err) {
							missing = append(missing, err)
							continue
						}
						task.Done(err)
						return err
					}
					cr.Indexes = append(cr.Indexes, x)
				}
				task.Done(nil)
				if len(missing) == 2 {
					return fmt.Errorf("channel %q has neither %s nor noarch repodata; check its url in %s: %w", ch.Name, platform, r.Filename, missing[0])
				}
				crs = append(crs, cr)
			}
			virtual, err := virtualFor(r, platform)
			if err != nil {
				return err
			}
			task := solver.Task{
				Specs: specs, Channels: crs, Virtual: virtual, Update: update,
				ChannelPriority: r.Solver.ChannelPriority, ExcludeNewer: cutoff,
			}
			if prev != nil {
				if t := prev.Target(platform); t != nil {
					task.Locked = t.Packages
				}
			}
			solving := progress.FromContext(ctx).Start("solve " + platform)
			sol, err := solver.Solve(gctx, task)
			solving.Done(err)
			if err != nil {
				return fmt.Errorf("solving %s for %s: %w", r.Filename, platform, err)
			}
			t := lock.Target{Platform: platform, Packages: slices.Clone(sol.Records)}
			slices.SortFunc(t.Packages, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
			t.Virtual = LockVirtual(virtual)
			l.Targets[i] = t
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(l.Targets, func(a, b lock.Target) int { return strings.Compare(a.Platform, b.Platform) })
	return l, nil
}

// shardRoots are the names a sharded channel is read from: every requested name and
// every locked one (a kept package must still be found). nil when a spec has no exact
// name (a glob needs every name: full repodata).
func shardRoots(specs []solver.Spec, locked []conda.PackageRecord) []string {
	var out []string
	for _, s := range specs {
		n, ok := s.MatchSpec.ExactName()
		if !ok {
			return nil
		}
		out = append(out, n)
	}
	for _, p := range locked {
		out = append(out, p.Name)
	}
	return out
}

func rangeString(file string, line, col int) string {
	return fmt.Sprintf("%s:%d,%d", file, line, col)
}

// subdirMissing reports whether err means the channel has no such subdir (HTTP 404, or no
// file in a file:// channel), as opposed to a channel that could not be reached.
func subdirMissing(err error) bool {
	var se *channel.StatusError
	if errors.As(err, &se) && (se.Status == 404 || se.Status == 410) {
		return true
	}
	return errors.Is(err, fs.ErrNotExist)
}
