package image

import (
	"hash/fnv"
	"sort"
)

// DefaultLayerBudget is the layer count PlanLayers aims for when given no budget.
const DefaultLayerBudget = 16

// Sized names a package and its installed size in bytes.
type Sized struct {
	Name string
	Size int64
}

// PlanLayers groups packages into at most budget layers (DefaultLayerBudget if budget < 1).
//
// The largest budget/2 packages get a layer each; the rest go into the remaining
// budget-budget/2 layers by a hash of their name. The hash depends on nothing but the name,
// so adding or removing one package changes at most two groups: the package's own group
// and, when it enters or leaves the largest set, the hashed group of the package it
// displaces. Everything else keeps its layer and its digest, and stays cached.
//
// Names are sorted within a group and groups are ordered by their first name. A name given
// twice counts once, with its larger size.
func PlanLayers(pkgs []Sized, budget int) [][]string {
	if budget < 1 {
		budget = DefaultLayerBudget
	}
	sizes := make(map[string]int64, len(pkgs))
	for _, p := range pkgs {
		if s, ok := sizes[p.Name]; !ok || p.Size > s {
			sizes[p.Name] = p.Size
		}
	}
	uniq := make([]Sized, 0, len(sizes))
	for n, s := range sizes {
		uniq = append(uniq, Sized{Name: n, Size: s})
	}
	sort.Slice(uniq, func(i, j int) bool {
		if uniq[i].Size != uniq[j].Size {
			return uniq[i].Size > uniq[j].Size
		}
		return uniq[i].Name < uniq[j].Name
	})

	alone := budget / 2
	buckets := budget - alone
	if alone > len(uniq) {
		alone = len(uniq)
	}
	groups := make([][]string, 0, budget)
	for _, p := range uniq[:alone] {
		groups = append(groups, []string{p.Name})
	}
	hashed := make([][]string, buckets)
	for _, p := range uniq[alone:] {
		b := bucketOf(p.Name, buckets)
		hashed[b] = append(hashed[b], p.Name)
	}
	for _, g := range hashed {
		if len(g) > 0 {
			sort.Strings(g)
			groups = append(groups, g)
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i][0] < groups[j][0] })
	return groups
}

func bucketOf(name string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int(h.Sum64() % uint64(n))
}
