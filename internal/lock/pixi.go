package lock

import (
	"bytes"
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// PixiVersion is the pixi.lock (rattler lock) format version read and written.
const PixiVersion = 6

// pixiFile is a pixi.lock of format version 6: environments name their channels and,
// per platform, the URLs of their packages; the packages list holds each package once,
// keyed by its URL, with the fields its file name does not already give.
type pixiFile struct {
	Version      int                `yaml:"version"`
	Environments map[string]pixiEnv `yaml:"environments"`
	Packages     []pixiPkg          `yaml:"packages"`
}

type pixiEnv struct {
	Channels []pixiChannel               `yaml:"channels"`
	Packages map[string][]map[string]any `yaml:"packages"`
}

type pixiChannel struct {
	URL string `yaml:"url"`
}

type pixiPkg struct {
	Conda         string   `yaml:"conda,omitempty"`
	Pypi          string   `yaml:"pypi,omitempty"`
	Name          string   `yaml:"name,omitempty"`
	Version       string   `yaml:"version,omitempty"`
	Build         string   `yaml:"build,omitempty"`
	BuildNumber   *int64   `yaml:"build_number,omitempty"`
	Subdir        string   `yaml:"subdir,omitempty"`
	Noarch        string   `yaml:"noarch,omitempty"`
	SHA256        string   `yaml:"sha256,omitempty"`
	MD5           string   `yaml:"md5,omitempty"`
	Depends       []string `yaml:"depends,omitempty"`
	Constrains    []string `yaml:"constrains,omitempty"`
	Features      string   `yaml:"features,omitempty"`
	TrackFeatures []string `yaml:"track_features,omitempty"`
	License       string   `yaml:"license,omitempty"`
	LicenseFamily string   `yaml:"license_family,omitempty"`
	Size          int64    `yaml:"size,omitempty"`
	Timestamp     int64    `yaml:"timestamp,omitempty"`
	RequiresDist  []string `yaml:"requires_dist,omitempty"`
}

// ImportPixi reads the conda part of one environment of a pixi.lock (format version 6)
// into a lock: every platform of the environment becomes a target. PyPI packages are
// carried as Pip entries, which reprobuild reports but cannot install yet. environment
// "" is "default".
func ImportPixi(data []byte, environment string) (*Lock, error) {
	if environment == "" {
		environment = "default"
	}
	var f pixiFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, &FormatError{Format: "pixi.lock", Msg: fmt.Sprintf("not valid YAML: %v", err)}
	}
	if f.Version != PixiVersion {
		return nil, &FormatError{Format: "pixi.lock", Msg: fmt.Sprintf("format version %d; reprobuild reads version %d (pixi 0.40 and later write it): run `pixi lock` with a recent pixi", f.Version, PixiVersion)}
	}
	env, ok := f.Environments[environment]
	if !ok {
		var names []string
		for n := range f.Environments {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, &FormatError{Format: "pixi.lock", Msg: fmt.Sprintf("no environment %q (it has %s)", environment, strings.Join(names, ", "))}
	}
	byURL := map[string]*pixiPkg{}
	for i := range f.Packages {
		p := &f.Packages[i]
		key := p.Conda
		if key == "" {
			key = "pypi:" + p.Pypi
		}
		if _, dup := byURL[key]; !dup {
			byURL[key] = p
		}
	}
	l := &Lock{Version: FormatVersion}
	for _, c := range env.Channels {
		cu := channelURL(c.URL)
		l.Channels = append(l.Channels, Channel{Name: channelName(cu), URL: cu})
	}
	platforms := make([]string, 0, len(env.Packages))
	for p := range env.Packages {
		platforms = append(platforms, p)
	}
	slices.Sort(platforms)
	for _, platform := range platforms {
		t := Target{Platform: platform}
		for i, ref := range env.Packages[platform] {
			if u, ok := ref["conda"].(string); ok {
				p := byURL[u]
				if p == nil {
					return nil, &FormatError{Format: "pixi.lock", Msg: fmt.Sprintf("environment %s, %s package #%d: %s is not in the packages list", environment, platform, i+1, u)}
				}
				rec, err := p.record()
				if err != nil {
					return nil, &FormatError{Format: "pixi.lock", Msg: fmt.Sprintf("%s: %v", u, err)}
				}
				t.Packages = append(t.Packages, rec)
				continue
			}
			if u, ok := ref["pypi"].(string); ok {
				p := byURL["pypi:"+u]
				if p == nil {
					return nil, &FormatError{Format: "pixi.lock", Msg: fmt.Sprintf("environment %s, %s package #%d: %s is not in the packages list", environment, platform, i+1, u)}
				}
				t.Pip = append(t.Pip, PipPackage{Name: p.Name, Version: p.Version, URL: u, SHA256: p.SHA256, Depends: p.RequiresDist})
				continue
			}
			return nil, &FormatError{Format: "pixi.lock", Msg: fmt.Sprintf("environment %s, %s package #%d is neither conda nor pypi", environment, platform, i+1)}
		}
		t.Packages = SortedPackages(t.Packages)
		slices.SortStableFunc(t.Pip, func(a, b PipPackage) int { return cmp.Compare(a.Name, b.Name) })
		l.Targets = append(l.Targets, t)
	}
	return l, nil
}

// record turns a conda entry into a package record: name, version, build and subdir
// from the URL unless the entry says otherwise.
func (p *pixiPkg) record() (conda.PackageRecord, error) {
	u, err := url.Parse(p.Conda)
	if err != nil || u.Scheme == "" {
		return conda.PackageRecord{}, fmt.Errorf("%q is not a package URL (local and source packages cannot be imported)", p.Conda)
	}
	u.User = nil
	rec, err := recordFromURLPath(u)
	if err != nil {
		return rec, err
	}
	rec.Name = cmp.Or(p.Name, rec.Name)
	rec.Version = cmp.Or(p.Version, rec.Version)
	rec.Build = cmp.Or(p.Build, rec.Build)
	rec.Subdir = cmp.Or(p.Subdir, rec.Subdir)
	if p.BuildNumber != nil {
		rec.BuildNumber = *p.BuildNumber
	}
	rec.Noarch, rec.SHA256, rec.MD5 = p.Noarch, p.SHA256, p.MD5
	rec.Depends, rec.Constrains = p.Depends, p.Constrains
	rec.Features, rec.TrackFeatures = p.Features, p.TrackFeatures
	rec.License, rec.LicenseFamily = p.License, p.LicenseFamily
	rec.Size, rec.Timestamp = p.Size, p.Timestamp
	return rec, nil
}

// pixiOut fixes the key order of the output.
type pixiOut struct {
	Version      int                   `yaml:"version"`
	Environments map[string]pixiEnvOut `yaml:"environments"`
	Packages     []pixiPkg             `yaml:"packages"`
}

type pixiEnvOut struct {
	Channels []pixiChannel                  `yaml:"channels"`
	Packages map[string][]map[string]string `yaml:"packages"`
}

// ExportPixi writes l as a pixi.lock (format version 6) with one environment,
// "default", holding every target. A field the file name gives (name, version, build,
// subdir, a build number equal to the build string's) is left out, as pixi does. PyPI
// packages carried from an import are written back.
func ExportPixi(l *Lock) ([]byte, error) {
	env := pixiEnvOut{Channels: []pixiChannel{}, Packages: map[string][]map[string]string{}}
	for _, c := range l.Channels {
		env.Channels = append(env.Channels, pixiChannel{URL: strings.TrimRight(c.URL, "/") + "/"})
	}
	seen := map[string]bool{}
	var pkgs []pixiPkg
	for _, t := range l.Targets {
		refs := []map[string]string{}
		for _, p := range t.Packages {
			if p.URL == "" {
				return nil, fmt.Errorf("export pixi.lock: %s-%s-%s has no url; relock with `reprobuild lock`", p.Name, p.Version, p.Build)
			}
			refs = append(refs, map[string]string{"conda": p.URL})
			if seen[p.URL] {
				continue
			}
			seen[p.URL] = true
			pkgs = append(pkgs, pixiEntry(p))
		}
		for _, p := range t.Pip {
			refs = append(refs, map[string]string{"pypi": p.URL})
			if seen["pypi:"+p.URL] {
				continue
			}
			seen["pypi:"+p.URL] = true
			pkgs = append(pkgs, pixiPkg{Pypi: p.URL, Name: p.Name, Version: p.Version, SHA256: p.SHA256, RequiresDist: p.Depends})
		}
		slices.SortFunc(refs, func(a, b map[string]string) int {
			return cmp.Or(cmp.Compare(a["conda"]+a["pypi"], b["conda"]+b["pypi"]))
		})
		env.Packages[t.Platform] = refs
	}
	slices.SortFunc(pkgs, func(a, b pixiPkg) int { return cmp.Compare(a.Conda+a.Pypi, b.Conda+b.Pypi) })
	out := pixiOut{Version: PixiVersion, Environments: map[string]pixiEnvOut{"default": env}, Packages: pkgs}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("export pixi.lock: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("export pixi.lock: %w", err)
	}
	return b.Bytes(), nil
}

// pixiEntry is the packages-list entry of a record, without what its URL gives.
func pixiEntry(p conda.PackageRecord) pixiPkg {
	e := pixiPkg{
		Conda: p.URL, Noarch: p.Noarch, SHA256: p.SHA256, MD5: p.MD5,
		Depends: p.Depends, Constrains: p.Constrains, Features: p.Features, TrackFeatures: p.TrackFeatures,
		License: p.License, LicenseFamily: p.LicenseFamily, Size: p.Size, Timestamp: p.Timestamp,
	}
	if u, err := url.Parse(p.URL); err == nil {
		if fromURL, err := recordFromURLPath(u); err == nil {
			if fromURL.Name != p.Name {
				e.Name = p.Name
			}
			if fromURL.Version != p.Version {
				e.Version = p.Version
			}
			if fromURL.Build != p.Build {
				e.Build = p.Build
			}
			if fromURL.Subdir != p.Subdir {
				e.Subdir = p.Subdir
			}
			if fromURL.BuildNumber != p.BuildNumber {
				bn := p.BuildNumber
				e.BuildNumber = &bn
			}
			return e
		}
	}
	e.Name, e.Version, e.Build, e.Subdir = p.Name, p.Version, p.Build, p.Subdir
	bn := p.BuildNumber
	e.BuildNumber = &bn
	return e
}
