package record

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// The SPDX 2.3 JSON document, reduced to the fields reprobuild fills. Our own small structs
// rather than github.com/spdx/tools-golang: they marshal in a fixed field order with no
// empty noise, pull in no dependency, and the committed official schema checks them.
type spdxDocument struct {
	SPDXVersion       string              `json:"spdxVersion"`
	DataLicense       string              `json:"dataLicense"`
	SPDXID            string              `json:"SPDXID"`
	Name              string              `json:"name"`
	DocumentNamespace string              `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo    `json:"creationInfo"`
	Packages          []spdxPackage       `json:"packages"`
	Relationships     []spdxRelationship  `json:"relationships"`
	ExtractedLicenses []spdxExtractedInfo `json:"hasExtractedLicensingInfos,omitempty"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
	Comment  string   `json:"comment,omitempty"`
}

type spdxPackage struct {
	SPDXID           string            `json:"SPDXID"`
	Name             string            `json:"name"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	PackageFileName  string            `json:"packageFileName,omitempty"`
	Supplier         string            `json:"supplier,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	LicenseConcluded string            `json:"licenseConcluded"`
	LicenseDeclared  string            `json:"licenseDeclared"`
	CopyrightText    string            `json:"copyrightText"`
	Comment          string            `json:"comment,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
	Purpose          string            `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type spdxExtractedInfo struct {
	LicenseID     string `json:"licenseId"`
	ExtractedText string `json:"extractedText"`
	Name          string `json:"name,omitempty"`
	Comment       string `json:"comment,omitempty"`
}

const noAssertion = "NOASSERTION"

// SPDX returns the SPDX 2.3 JSON SBOM of one platform of a lock. It is generated from the
// lock, not by scanning: every conda package with its exact URL, checksums, purl and
// declared licence, the base image and the data sources, and the dependency edges the
// package records declare.
func SPDX(r *recipes.Recipe, l *lock.Lock, platform string, o SBOMOptions) ([]byte, error) {
	in, err := newSBOMInput(r, l, platform, o)
	if err != nil {
		return nil, err
	}
	doc := spdxDocument{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              in.name + "-" + in.platform,
		DocumentNamespace: "https://spdx.org/spdxdocs/reprobuild/" + spdxSafe(in.name) + "-" + in.platform + "-" + uuidV5("reprobuild:spdx:"+in.id),
		CreationInfo: spdxCreationInfo{
			Created:  in.o.Created.Format("2006-01-02T15:04:05Z"),
			Creators: []string{"Tool: reprobuild-" + in.o.ReprobuildVersion},
			Comment:  "Generated from the reprobuild lock (recipe " + l.RecipeHash + "), not by scanning the image.",
		},
	}
	root := "SPDXRef-Runtime"
	doc.Packages = append(doc.Packages, spdxPackage{
		SPDXID:           root,
		Name:             in.name,
		DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		Comment:          "The reprobuild runtime image for " + in.platform + ".",
		Purpose:          "CONTAINER",
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: root})

	if l.Base.Ref != "" && l.Base.Ref != "scratch" {
		p := spdxPackage{
			SPDXID:           "SPDXRef-Base",
			Name:             StripCredentials(l.Base.Ref),
			DownloadLocation: noAssertion,
			LicenseConcluded: noAssertion,
			LicenseDeclared:  noAssertion,
			CopyrightText:    noAssertion,
			Comment:          "Base image.",
			Purpose:          "CONTAINER",
		}
		if d, ok := strings.CutPrefix(l.Base.Digest, "sha256:"); ok {
			p.VersionInfo = l.Base.Digest
			p.Checksums = []spdxChecksum{{Algorithm: "SHA256", Value: d}}
		}
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: root, Type: "DESCENDANT_OF", Related: p.SPDXID})
	}

	ids := map[string]string{}
	refs := map[string]string{}  // licence ref -> conda licence text
	refOf := map[string]string{} // conda licence text -> licence ref
	used := map[string]bool{}
	for _, p := range in.packages {
		id := unique(used, "SPDXRef-Package-conda-"+spdxSafe(p.Name))
		ids[p.Name] = id
		pkg := spdxPackage{
			SPDXID:           id,
			Name:             p.Name,
			VersionInfo:      p.Version,
			PackageFileName:  p.Fn,
			DownloadLocation: noAssertion,
			LicenseConcluded: noAssertion,
			LicenseDeclared:  noAssertion,
			CopyrightText:    noAssertion,
			Comment:          "conda build " + p.Build + " for " + p.Subdir + ".",
			ExternalRefs: []spdxExternalRef{{
				Category: "PACKAGE-MANAGER", Type: "purl", Locator: PURL(p, in.channels[p.Channel]),
			}},
			Purpose: "LIBRARY",
		}
		if p.URL != "" {
			pkg.DownloadLocation = StripCredentials(p.URL)
		}
		if p.SHA256 != "" {
			pkg.Checksums = append(pkg.Checksums, spdxChecksum{Algorithm: "SHA256", Value: p.SHA256})
		}
		if p.MD5 != "" {
			pkg.Checksums = append(pkg.Checksums, spdxChecksum{Algorithm: "MD5", Value: p.MD5})
		}
		if !noLicense(p.License) {
			if expr, ok := spdxLicense(p.License); ok {
				pkg.LicenseDeclared = expr
			} else {
				ref, ok := refOf[p.License]
				if !ok {
					ref = unique(used, "LicenseRef-conda-"+spdxSafe(p.License))
					refOf[p.License] = ref
					refs[ref] = p.License
				}
				pkg.LicenseDeclared = ref
			}
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: root, Type: "CONTAINS", Related: id})
	}
	for _, p := range in.packages {
		for _, d := range dependencyNames(p) {
			if to, ok := ids[d]; ok {
				doc.Relationships = append(doc.Relationships, spdxRelationship{Element: ids[p.Name], Type: "DEPENDS_ON", Related: to})
			}
		}
	}
	for _, p := range pipInfos(l, in.target) {
		id := unique(used, "SPDXRef-Package-pypi-"+spdxSafe(p.Name))
		doc.Packages = append(doc.Packages, spdxPackage{
			SPDXID: id, Name: p.Name, VersionInfo: p.Version, PackageFileName: path.Base(p.URL),
			DownloadLocation: p.URL, LicenseConcluded: noAssertion, LicenseDeclared: noAssertion,
			CopyrightText: noAssertion, Comment: "PyPI wheel, installed without pip.",
			Checksums:    []spdxChecksum{{Algorithm: "SHA256", Value: p.SHA256}},
			ExternalRefs: []spdxExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: p.PURL}},
			Purpose:      "LIBRARY",
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: root, Type: "CONTAINS", Related: id})
	}
	for _, d := range sortedData(l.Data) {
		id := unique(used, "SPDXRef-Data-"+spdxSafe(d.Name))
		p := spdxPackage{
			SPDXID:           id,
			Name:             d.Name,
			DownloadLocation: StripCredentials(d.URL),
			LicenseConcluded: noAssertion,
			LicenseDeclared:  noAssertion,
			CopyrightText:    noAssertion,
			Comment:          fmt.Sprintf("Data source at %s (%s).", d.Path, d.Mode),
			Purpose:          "FILE",
		}
		if d.SHA256 != "" {
			p.Checksums = []spdxChecksum{{Algorithm: "SHA256", Value: d.SHA256}}
		}
		doc.Packages = append(doc.Packages, p)
		rel := "CONTAINS"
		if d.Mode == "mount" {
			rel = "DEPENDS_ON"
		}
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: root, Type: rel, Related: id})
	}
	for _, ref := range sortedKeys(refs) {
		doc.ExtractedLicenses = append(doc.ExtractedLicenses, spdxExtractedInfo{
			LicenseID:     ref,
			ExtractedText: refs[ref],
			Name:          refs[ref],
			Comment:       "The licence field of the conda package, which is not an SPDX licence expression.",
		})
	}
	return marshal(doc)
}

// spdxSafe keeps letters, digits, '.' and '-' (the SPDX identifier alphabet) and turns
// anything else into '-'.
func spdxSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// unique returns id, or id with a numeric suffix when sanitising made two names collide
// (conda has both typing_extensions and typing-extensions). Callers go in sorted order,
// so the suffixes are deterministic.
func unique(used map[string]bool, id string) string {
	out := id
	for n := 2; used[out]; n++ {
		out = fmt.Sprintf("%s-%d", id, n)
	}
	used[out] = true
	return out
}

func sortedData(ds []lock.Data) []lock.Data {
	out := slices.Clone(ds)
	slices.SortFunc(out, func(a, b lock.Data) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
