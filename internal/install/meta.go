package install

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// metaPath is one conda-meta paths_data entry.
type metaPath struct {
	Path           string `json:"_path"`
	PathType       string `json:"path_type"`
	SHA256         string `json:"sha256,omitempty"`
	SHA256InPrefix string `json:"sha256_in_prefix,omitempty"`
	Size           *int64 `json:"size_in_bytes,omitempty"`
	Placeholder    string `json:"prefix_placeholder,omitempty"`
	FileMode       string `json:"file_mode,omitempty"`
}

// condaMetaRecord is conda-meta/<dist>.json. Field order is the key order of the output.
// Host-specific fields conda writes (extracted_package_dir, package_tarball_full_path,
// link.source) are left out on purpose: they would make the image depend on the machine
// that built it.
type condaMetaRecord struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Build       string   `json:"build"`
	BuildNumber int64    `json:"build_number"`
	Channel     string   `json:"channel,omitempty"`
	Subdir      string   `json:"subdir"`
	Noarch      string   `json:"noarch,omitempty"`
	Fn          string   `json:"fn"`
	URL         string   `json:"url,omitempty"`
	MD5         string   `json:"md5,omitempty"`
	SHA256      string   `json:"sha256,omitempty"`
	Size        int64    `json:"size,omitempty"`
	Timestamp   int64    `json:"timestamp,omitempty"`
	License     string   `json:"license,omitempty"`
	Depends     []string `json:"depends"`
	Constrains  []string `json:"constrains,omitempty"`
	Files       []string `json:"files"`
	PathsData   struct {
		Paths   []metaPath `json:"paths"`
		Version int        `json:"paths_version"`
	} `json:"paths_data"`
	Link struct {
		// Type 3 is conda's "copy": files are written into the image, not linked
		// from a package cache.
		Type int `json:"type"`
	} `json:"link"`
	RequestedSpec string `json:"requested_spec"`
}

func condaMeta(rec conda.PackageRecord, paths []metaPath) ([]byte, error) {
	m := condaMetaRecord{
		Name: rec.Name, Version: rec.Version, Build: rec.Build, BuildNumber: rec.BuildNumber,
		Channel: rec.Channel, Subdir: rec.Subdir, Noarch: rec.Noarch, Fn: rec.Fn, URL: rec.URL,
		MD5: rec.MD5, SHA256: rec.SHA256, Size: rec.Size, Timestamp: rec.Timestamp,
		License: rec.License, Depends: rec.Depends, Constrains: rec.Constrains,
	}
	if m.Depends == nil {
		m.Depends = []string{}
	}
	m.Files = []string{}
	for _, p := range paths {
		if p.PathType != "directory" {
			m.Files = append(m.Files, p.Path)
		}
	}
	if paths == nil {
		paths = []metaPath{}
	}
	m.PathsData.Paths, m.PathsData.Version = paths, 1
	m.Link.Type = 3
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// entryPoint makes the console script of a noarch python entry point
// ("name = module:func"); the path returned is relative to the prefix.
func entryPoint(pkg, spec, prefix string) (Entry, error) {
	name, target, ok := strings.Cut(spec, "=")
	name, target = strings.TrimSpace(name), strings.TrimSpace(target)
	module, fn, ok2 := strings.Cut(target, ":")
	module, fn = strings.TrimSpace(module), strings.TrimSpace(fn)
	// Extras ("mod:func [extra]") do not change the script.
	fn, _, _ = strings.Cut(fn, " ")
	if !ok || !ok2 || name == "" || module == "" || fn == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return Entry{}, &MalformedPackageError{Package: pkg, Reason: fmt.Sprintf("entry point %q is not \"name = module:function\"", spec)}
	}
	interp := prefix + "/bin/python"
	shebang := "#!" + interp
	if len(shebang) > maxShebang || strings.Contains(interp, " ") {
		shebang = "#!/usr/bin/env python"
	}
	first, _, _ := strings.Cut(fn, ".")
	script := shebang + "\n" +
		"# -*- coding: utf-8 -*-\n" +
		"import re\n" +
		"import sys\n\n" +
		"from " + module + " import " + first + "\n\n" +
		"if __name__ == \"__main__\":\n" +
		"    sys.argv[0] = re.sub(r\"(-script\\.pyw?|\\.exe)?$\", \"\", sys.argv[0])\n" +
		"    sys.exit(" + fn + "())\n"
	return Entry{Path: "bin/" + name, Type: TypeFile, Mode: 0o755, Data: []byte(script)}, nil
}
