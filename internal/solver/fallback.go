package solver

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// Spec is one root requirement with where it came from.
type Spec struct {
	MatchSpec conda.MatchSpec
	Text      string
	Origin    string
}

// ChannelRecords are the records of one channel, in priority order in Task.Channels.
type ChannelRecords struct {
	Name, URL string
	Records   []conda.PackageRecord
	Allow     []string
}

// Task is a solve request.
type Task struct {
	Specs           []Spec
	Channels        []ChannelRecords
	Virtual         []conda.PackageRecord
	Locked          []conda.PackageRecord
	Update          []string
	ChannelPriority string
	ExcludeNewer    int64
}

// Solution is one record per package name, sorted by name, virtual packages excluded.
type Solution struct{ Records []conda.PackageRecord }

// UnsatisfiableError explains why no solution exists.
type UnsatisfiableError struct {
	Chain []string
}

func (e *UnsatisfiableError) Error() string {
	return "no solution: " + strings.Join(e.Chain, "; ")
}

type candidate struct {
	rec     *conda.PackageRecord
	ver     conda.Version
	prio    int
	virtual bool
}

type state struct {
	ctx      context.Context
	cands    map[string][]*candidate
	chosen   map[string]*candidate
	reqs     map[string][]conda.MatchSpec
	reasons  []string
	steps    int
}

// Solve picks one record per name satisfying every dependency and constraint.
func Solve(ctx context.Context, t Task) (*Solution, error) {
	s := &state{ctx: ctx, cands: map[string][]*candidate{}, chosen: map[string]*candidate{}, reqs: map[string][]conda.MatchSpec{}}
	update := map[string]bool{}
	for _, u := range t.Update {
		update[u] = true
	}
	locked := map[string]string{}
	for _, l := range t.Locked {
		if !update[l.Name] {
			locked[l.Name] = l.Fn + "|" + l.Channel
		}
	}
	firstChannel := map[string]int{}
	for ci, ch := range t.Channels {
		for i := range ch.Records {
			r := &ch.Records[i]
			if t.ExcludeNewer > 0 && r.Timestamp > t.ExcludeNewer {
				continue
			}
			if len(ch.Allow) > 0 && !slices.ContainsFunc(ch.Allow, func(p string) bool { ok, _ := path.Match(p, r.Name); return ok }) {
				continue
			}
			if _, ok := firstChannel[r.Name]; !ok {
				firstChannel[r.Name] = ci
			}
			if t.ChannelPriority != "disabled" && t.ChannelPriority != "flexible" && firstChannel[r.Name] != ci {
				continue
			}
			v, err := conda.ParseVersion(r.Version)
			if err != nil {
				continue
			}
			s.cands[r.Name] = append(s.cands[r.Name], &candidate{rec: r, ver: v, prio: ci})
		}
	}
	for name, cs := range s.cands {
		lk := locked[name]
		slices.SortStableFunc(cs, func(a, b *candidate) int {
			al, bl := a.rec.Fn+"|"+a.rec.Channel == lk, b.rec.Fn+"|"+b.rec.Channel == lk
			if al != bl {
				if al {
					return -1
				}
				return 1
			}
			if t.ChannelPriority == "flexible" && a.prio != b.prio {
				return a.prio - b.prio
			}
			if c := b.ver.Compare(a.ver); c != 0 {
				return c
			}
			if len(a.rec.TrackFeatures) != len(b.rec.TrackFeatures) {
				return len(a.rec.TrackFeatures) - len(b.rec.TrackFeatures)
			}
			if a.rec.BuildNumber != b.rec.BuildNumber {
				if b.rec.BuildNumber > a.rec.BuildNumber {
					return 1
				}
				return -1
			}
			if a.rec.Timestamp != b.rec.Timestamp {
				if b.rec.Timestamp > a.rec.Timestamp {
					return 1
				}
				return -1
			}
			return strings.Compare(a.rec.Fn, b.rec.Fn)
		})
	}
	for i := range t.Virtual {
		v := &t.Virtual[i]
		ver, _ := conda.ParseVersion(v.Version)
		s.chosen[v.Name] = &candidate{rec: v, ver: ver, virtual: true}
	}
	var queue []conda.MatchSpec
	for _, sp := range t.Specs {
		queue = append(queue, sp.MatchSpec)
	}
	if !s.solve(queue) {
		return nil, &UnsatisfiableError{Chain: s.reasons}
	}
	out := &Solution{}
	for _, c := range s.chosen {
		if !c.virtual {
			out.Records = append(out.Records, *c.rec)
		}
	}
	slices.SortFunc(out.Records, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
	return out, s.ctx.Err()
}

func (s *state) fits(c *candidate, name string) bool {
	for _, m := range s.reqs[name] {
		if !m.MatchVersion(c.rec, c.ver) {
			return false
		}
	}
	return true
}

// solve satisfies the queue depth-first, backtracking on conflicts.
func (s *state) solve(queue []conda.MatchSpec) bool {
	s.steps++
	if s.steps%1024 == 0 && s.ctx.Err() != nil {
		return false
	}
	if len(queue) == 0 {
		return true
	}
	m, rest := queue[0], queue[1:]
	name := m.Name
	s.reqs[name] = append(s.reqs[name], m)
	defer func() { s.reqs[name] = s.reqs[name][:len(s.reqs[name])-1] }()
	if c, ok := s.chosen[name]; ok {
		if !m.MatchVersion(c.rec, c.ver) {
			s.reasons = append(s.reasons, fmt.Sprintf("%s %s does not satisfy %q", name, c.rec.Version, m.String()))
			return false
		}
		return s.solve(rest)
	}
	tried := false
	for _, c := range s.cands[name] {
		if !s.fits(c, name) {
			continue
		}
		tried = true
		// constrains of c must hold for already chosen packages, and chosen packages'
		// constrains must hold for c.
		if !s.constrainsOK(c) {
			continue
		}
		s.chosen[name] = c
		next := slices.Clone(rest)
		for _, d := range c.rec.Depends {
			dm, err := conda.ParseMatchSpec(d)
			if err != nil {
				continue
			}
			next = append(next, dm)
		}
		if s.solve(next) {
			return true
		}
		delete(s.chosen, name)
	}
	if !tried {
		if len(s.cands[name]) == 0 {
			s.reasons = append(s.reasons, fmt.Sprintf("nothing provides %s", m.String()))
		} else {
			s.reasons = append(s.reasons, fmt.Sprintf("no version of %s satisfies all of %v", name, specStrings(s.reqs[name])))
		}
	}
	return false
}

func (s *state) constrainsOK(c *candidate) bool {
	for _, con := range c.rec.Constrains {
		m, err := conda.ParseMatchSpec(con)
		if err != nil {
			continue
		}
		if o, ok := s.chosen[m.Name]; ok && !m.MatchVersion(o.rec, o.ver) {
			return false
		}
	}
	for _, o := range s.chosen {
		for _, con := range o.rec.Constrains {
			m, err := conda.ParseMatchSpec(con)
			if err == nil && m.Name == c.rec.Name && !m.MatchVersion(c.rec, c.ver) {
				return false
			}
		}
	}
	return true
}

func specStrings(ms []conda.MatchSpec) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}
