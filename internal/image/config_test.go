package image

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func TestConfigFile(t *testing.T) {
	epoch := time.Unix(1700000000, 0)
	base := &v1.ConfigFile{
		Architecture: "arm64",
		OS:           "linux",
		Author:       "someone",
		//lint:ignore SA1019 a base may still carry the deprecated field
		DockerVersion: "20.10",
		Created:       v1.Time{Time: time.Unix(5, 0)},
		RootFS:        v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}},
		History:       []v1.History{{CreatedBy: "debootstrap"}},
		Config: v1.Config{
			Env:        []string{"PATH=/usr/bin:/opt/env/bin:/bin", "LANG=C.UTF-8"},
			Cmd:        []string{"bash"},
			Labels:     map[string]string{"base": "debian", "keep": "old"},
			WorkingDir: "/root",
			Volumes:    map[string]struct{}{"/var": {}},
		},
	}
	tests := []struct {
		name string
		base *v1.ConfigFile
		c    Config
		want *v1.ConfigFile
	}{{
		name: "scratch",
		c: Config{
			Platform: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"},
			Prefix:   "/opt/env",
			Cmd:      []string{"python"},
			Env:      map[string]string{"ZED": "1", "APP": "x=y"},
			Labels:   map[string]string{"org.opencontainers.image.title": "t"},
			Volumes:  []string{"/data/b", "/data/a"},
			Epoch:    epoch,
		},
		want: &v1.ConfigFile{
			Architecture: "arm", Variant: "v7", OS: "linux",
			Created: v1.Time{Time: epoch.UTC()},
			RootFS:  v1.RootFS{Type: "layers"},
			Config: v1.Config{
				Env:     []string{"APP=x=y", "CONDA_PREFIX=/opt/env", "PATH=/opt/env/bin:" + DefaultPath, "ZED=1"},
				Cmd:     []string{"python"},
				Labels:  map[string]string{"org.opencontainers.image.title": "t"},
				Volumes: map[string]struct{}{"/data/a": {}, "/data/b": {}},
			},
		},
	}, {
		name: "over a base",
		base: base,
		c: Config{
			Platform:   amd64,
			Prefix:     "/opt/env",
			Entrypoint: []string{"/opt/env/bin/python"},
			Workdir:    "/work",
			User:       "1000:1000",
			Labels:     map[string]string{"keep": "new"},
			Volumes:    []string{"/data"},
			Epoch:      epoch,
		},
		want: &v1.ConfigFile{
			Architecture: "amd64", OS: "linux",
			Created: v1.Time{Time: epoch.UTC()},
			RootFS:  base.RootFS,
			History: base.History,
			Config: v1.Config{
				// The prefix moves to the front, once.
				Env:        []string{"CONDA_PREFIX=/opt/env", "LANG=C.UTF-8", "PATH=/opt/env/bin:/usr/bin:/bin"},
				Entrypoint: []string{"/opt/env/bin/python"},
				WorkingDir: "/work",
				User:       "1000:1000",
				Labels:     map[string]string{"base": "debian", "keep": "new"},
				Volumes:    map[string]struct{}{"/var": {}, "/data": {}},
			},
		},
	}, {
		name: "explicit PATH wins",
		c:    Config{Platform: amd64, Prefix: "/p", Env: map[string]string{"PATH": "/only"}},
		want: &v1.ConfigFile{
			Architecture: "amd64", OS: "linux",
			Created: v1.Time{Time: time.Unix(0, 0).UTC()},
			RootFS:  v1.RootFS{Type: "layers"},
			Config:  v1.Config{Env: []string{"CONDA_PREFIX=/p", "PATH=/only"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before *v1.ConfigFile
			if tt.base != nil {
				before = tt.base.DeepCopy()
			}
			got, err := ConfigFile(tt.base, tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.base); diff != "" {
				t.Errorf("ConfigFile modified its base:\n%s", diff)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		c     Config
		field string
	}{
		{"no platform", Config{}, "platform"},
		{"relative prefix", Config{Platform: amd64, Prefix: "opt/env"}, "prefix"},
		{"root prefix", Config{Platform: amd64, Prefix: "/"}, "prefix"},
		{"unclean prefix", Config{Platform: amd64, Prefix: "/opt/env/"}, "prefix"},
		{"env name with =", Config{Platform: amd64, Env: map[string]string{"A=B": "c"}}, "env"},
		{"relative volume", Config{Platform: amd64, Volumes: []string{"data"}}, "volumes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFile(nil, tt.c)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("err = %v, want *ConfigError for %s", err, tt.field)
			}
		})
	}
}
