package wheel

import (
	"fmt"
	"strconv"
)

// Target is what a wheel must suit: a CPython X.Y on Linux with a machine and a C
// library. Glibc {2, 28} means manylinux_2_28 and older; Musl {1, 2} means musllinux_1_2
// and older; both zero means only pure-Python and linux_ARCH wheels.
type Target struct {
	Python [2]int
	Arch   string // x86_64, aarch64, ppc64le, s390x, i686, armv7l
	Glibc  [2]int
	Musl   [2]int
}

func (t Target) String() string {
	s := fmt.Sprintf("cp%d%d-%s", t.Python[0], t.Python[1], t.Arch)
	if t.Glibc[0] > 0 {
		s += fmt.Sprintf("-glibc%d.%d", t.Glibc[0], t.Glibc[1])
	}
	if t.Musl[0] > 0 {
		s += fmt.Sprintf("-musl%d.%d", t.Musl[0], t.Musl[1])
	}
	return s
}

// Platforms lists the platform tags of the target, most specific first.
func (t Target) Platforms() []string {
	var out []string
	if t.Glibc[0] == 2 {
		floor := 17
		if t.Arch == "x86_64" || t.Arch == "i686" {
			floor = 5
		}
		legacy := map[int]string{17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
		for m := t.Glibc[1]; m >= floor; m-- {
			out = append(out, "manylinux_2_"+strconv.Itoa(m)+"_"+t.Arch)
			if l, ok := legacy[m]; ok {
				out = append(out, l+"_"+t.Arch)
			}
		}
	}
	if t.Musl[0] == 1 {
		for m := t.Musl[1]; m >= 0; m-- {
			out = append(out, "musllinux_1_"+strconv.Itoa(m)+"_"+t.Arch)
		}
	}
	return append(out, "linux_"+t.Arch)
}

// Tags lists every tag the target accepts, best first, in pypa/packaging's order
// (cpython_tags then compatible_tags).
func (t Target) Tags() []Tag {
	plats := t.Platforms()
	maj, min := t.Python[0], t.Python[1]
	cp := fmt.Sprintf("cp%d%d", maj, min)
	var out []Tag
	add := func(i, a string) {
		for _, p := range plats {
			out = append(out, Tag{i, a, p})
		}
	}
	add(cp, cp)
	abi3 := maj > 3 || maj == 3 && min >= 2
	if abi3 {
		add(cp, "abi3")
	}
	add(cp, "none")
	if abi3 {
		for m := min - 1; m >= 2; m-- {
			add(fmt.Sprintf("cp%d%d", maj, m), "abi3")
		}
	}
	pys := []string{fmt.Sprintf("py%d%d", maj, min), fmt.Sprintf("py%d", maj)}
	for m := min - 1; m >= 0; m-- {
		pys = append(pys, fmt.Sprintf("py%d%d", maj, m))
	}
	for _, py := range pys {
		add(py, "none")
	}
	out = append(out, Tag{cp, "none", "any"})
	for _, py := range pys {
		out = append(out, Tag{py, "none", "any"})
	}
	return out
}

// Ranker scores wheel file names for a target: lower is better, -1 unusable.
type Ranker map[Tag]int

// NewRanker indexes t.Tags.
func NewRanker(t Target) Ranker {
	tags := t.Tags()
	r := make(Ranker, len(tags))
	for i, tg := range tags {
		if _, ok := r[tg]; !ok {
			r[tg] = i
		}
	}
	return r
}

// Rank is the best rank of any of the tags, or -1 when none suits the target.
func (r Ranker) Rank(tags []Tag) int {
	best := -1
	for _, tg := range tags {
		if i, ok := r[tg]; ok && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}
