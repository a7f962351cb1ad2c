package record

import (
	"fmt"
	"strings"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// The CycloneDX 1.6 JSON BOM, reduced to the fields reprobuild fills. As for SPDX, small
// structs of our own (not github.com/CycloneDX/cyclonedx-go): a fixed field order, no
// dependency, and the official schema checks the output in tests.
type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp  string        `json:"timestamp"`
	Tools      cdxTools      `json:"tools"`
	Component  cdxComponent  `json:"component"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type        string           `json:"type"`
	BOMRef      string           `json:"bom-ref,omitempty"`
	Name        string           `json:"name"`
	Version     string           `json:"version,omitempty"`
	Description string           `json:"description,omitempty"`
	Hashes      []cdxHash        `json:"hashes,omitempty"`
	Licenses    []cdxLicenseItem `json:"licenses,omitempty"`
	PURL        string           `json:"purl,omitempty"`
	ExtRefs     []cdxExtRef      `json:"externalReferences,omitempty"`
	Properties  []cdxProperty    `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// cdxLicenseItem is either {"license": {...}} or {"expression": "..."}.
type cdxLicenseItem struct {
	License    *cdxLicense `json:"license,omitempty"`
	Expression string      `json:"expression,omitempty"`
}

type cdxLicense struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type cdxExtRef struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// CycloneDX returns the CycloneDX 1.6 JSON BOM of one platform of a lock, generated from
// the lock: the runtime image as the described component, every conda package as a
// library with purl, hashes and licence, the base image and the data sources, and the
// dependency graph the package records declare. The serial number is a UUID derived from
// the content, so the same lock gives the same bytes.
func CycloneDX(r *recipes.Recipe, l *lock.Lock, platform string, o SBOMOptions) ([]byte, error) {
	in, err := newSBOMInput(r, l, platform, o)
	if err != nil {
		return nil, err
	}
	root := "runtime:" + in.name + ":" + in.platform
	bom := cdxBOM{
		BOMFormat:    "CycloneDX",
		SpecVersion:  "1.6",
		SerialNumber: "urn:uuid:" + uuidV5("reprobuild:cyclonedx:"+in.id),
		Version:      1,
		Metadata: cdxMetadata{
			Timestamp: in.o.Created.Format("2006-01-02T15:04:05Z"),
			Tools: cdxTools{Components: []cdxComponent{{
				Type: "application", Name: "reprobuild", Version: in.o.ReprobuildVersion,
			}}},
			Component: cdxComponent{
				Type:        "container",
				BOMRef:      root,
				Name:        in.name,
				Description: "The reprobuild runtime image for " + in.platform + ".",
			},
			Properties: []cdxProperty{
				{Name: "reprobuild:platform", Value: in.platform},
				{Name: "reprobuild:recipe_hash", Value: l.RecipeHash},
				{Name: "reprobuild:lock_hash", Value: in.o.LockHash},
				{Name: "reprobuild:reproducibility_level", Value: r.Reproducibility.Level},
			},
		},
		Components:   []cdxComponent{},
		Dependencies: []cdxDependency{},
	}
	rootDeps := []string{}
	if l.Base.Ref != "" && l.Base.Ref != "scratch" {
		c := cdxComponent{Type: "container", BOMRef: "base:" + StripCredentials(l.Base.Ref), Name: StripCredentials(l.Base.Ref), Description: "Base image."}
		if d, ok := strings.CutPrefix(l.Base.Digest, "sha256:"); ok {
			c.Version = l.Base.Digest
			c.Hashes = []cdxHash{{Alg: "SHA-256", Content: d}}
		}
		bom.Components = append(bom.Components, c)
		rootDeps = append(rootDeps, c.BOMRef)
	}
	refs := map[string]string{}
	for _, p := range in.packages {
		purl := PURL(p, in.channels[p.Channel])
		refs[p.Name] = purl
		c := cdxComponent{
			Type:    "library",
			BOMRef:  purl,
			Name:    p.Name,
			Version: p.Version,
			PURL:    purl,
			Properties: []cdxProperty{
				{Name: "conda:build", Value: p.Build},
				{Name: "conda:subdir", Value: p.Subdir},
			},
		}
		if p.SHA256 != "" {
			c.Hashes = append(c.Hashes, cdxHash{Alg: "SHA-256", Content: p.SHA256})
		}
		if p.MD5 != "" {
			c.Hashes = append(c.Hashes, cdxHash{Alg: "MD5", Content: p.MD5})
		}
		if !noLicense(p.License) {
			c.Licenses = []cdxLicenseItem{cdxLicenseOf(p.License)}
		}
		if p.URL != "" {
			c.ExtRefs = []cdxExtRef{{Type: "distribution", URL: StripCredentials(p.URL)}}
		}
		bom.Components = append(bom.Components, c)
		rootDeps = append(rootDeps, purl)
	}
	for _, p := range pipInfos(l, in.target) {
		c := cdxComponent{
			Type: "library", BOMRef: p.PURL, Name: p.Name, Version: p.Version, PURL: p.PURL,
			Hashes:     []cdxHash{{Alg: "SHA-256", Content: p.SHA256}},
			ExtRefs:    []cdxExtRef{{Type: "distribution", URL: p.URL}},
			Properties: []cdxProperty{{Name: "reprobuild:manager", Value: "pip"}},
		}
		bom.Components = append(bom.Components, c)
		rootDeps = append(rootDeps, c.BOMRef)
	}
	for _, d := range sortedData(l.Data) {
		c := cdxComponent{
			Type:        "data",
			BOMRef:      "data:" + d.Name,
			Name:        d.Name,
			Description: fmt.Sprintf("Data source at %s (%s).", d.Path, d.Mode),
			ExtRefs:     []cdxExtRef{{Type: "distribution", URL: StripCredentials(d.URL)}},
			Properties: []cdxProperty{
				{Name: "reprobuild:data:path", Value: d.Path},
				{Name: "reprobuild:data:mode", Value: d.Mode},
			},
		}
		if d.SHA256 != "" {
			c.Hashes = []cdxHash{{Alg: "SHA-256", Content: d.SHA256}}
		}
		bom.Components = append(bom.Components, c)
		rootDeps = append(rootDeps, c.BOMRef)
	}
	bom.Dependencies = append(bom.Dependencies, cdxDependency{Ref: root, DependsOn: rootDeps})
	for _, p := range in.packages {
		deps := []string{}
		for _, d := range dependencyNames(p) {
			if to, ok := refs[d]; ok {
				deps = append(deps, to)
			}
		}
		bom.Dependencies = append(bom.Dependencies, cdxDependency{Ref: refs[p.Name], DependsOn: deps})
	}
	return marshal(bom)
}

// cdxLicenseOf expresses a conda licence field the most precise way CycloneDX allows: a
// known SPDX id, an SPDX expression, or else the free text as a named licence.
func cdxLicenseOf(s string) cdxLicenseItem {
	expr, ok := spdxLicense(s)
	if !ok {
		return cdxLicenseItem{License: &cdxLicense{Name: s}}
	}
	if !strings.ContainsAny(expr, " ") && !strings.HasSuffix(expr, "+") && !strings.HasPrefix(expr, "LicenseRef-") {
		return cdxLicenseItem{License: &cdxLicense{ID: expr}}
	}
	return cdxLicenseItem{Expression: expr}
}
