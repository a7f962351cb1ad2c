package solver

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// prec is a record visible to the solve, with its parsed version.
type prec struct {
	rec     *conda.PackageRecord
	ver     conda.Version
	ch      int // channel index; -1 for virtual packages
	locked  bool
	virtual bool
	v       int32 // variable, or -1 before the record is reached
	// deps holds the best version each dependency can reach, by name, sorted by name;
	// computed on demand to break ties the way conda's objective does.
	deps    []depBest
	depsSet bool
	// penalty caches rootPenalty (penaltySet: computed).
	penalty    int32
	penaltySet bool
}

type depBest struct {
	name string
	ver  conda.Version
}

// nameGroup is every visible record of one package name.
// Most names are never reached, so a group is kept small and the rest lives in
// groupData, allocated when a name has a second span or is reached.
type nameGroup struct {
	name string
	// span0 and spans hold the records as collected (runs of consecutive records of
	// one channel), until ready turns them into recs; no per-record work before that.
	span0 span
	id    int32
	ready bool // versions parsed and orders sorted
	*groupData
}

type groupData struct {
	spans []span
	recs  []*prec // in dependency preference order
	// byRoot is recs in root preference order (track_features, then version).
	byRoot []*prec
}

type problem struct {
	task    *Task
	names   map[string]*nameGroup
	sorted  []string // all names, sorted, for glob specs
	vars    []*prec
	nameOf  []int32
	specs   map[string]*parsedSpec
	eng     *engine
	queue   []*prec
	ngroups int32
	flex    bool
	// hidden holds records the task's settings hid, by name, for explanations.
	hidden map[string][]hiddenRec
	// tracked indexes records by the features they track.
	tracked map[string][]*prec
	locked  map[string]*conda.PackageRecord
	// featNames lists, per feature, the names with records that track it (a name may
	// be listed more than once).
	featNames map[string][]string
	// rootBest is, per requested name, its best candidate by version alone.
	rootBest map[string]*prec
	arena    []lit
	// parts are the channels' record slices (Records, then each of Subdirs, then each
	// of Indexes) in order; spans index them.
	parts []part
	// err is the first failure to read an index's records; the solve stops with it.
	err error
}

// part is one record slice of channel ch, or one index (idx set) whose records are
// decoded by name when reached. A span of an index part is one name: lo is its number
// in the index.
type part struct {
	ch     int32
	recs   []conda.PackageRecord
	idx    *conda.RepodataIndex
	loaded map[int32][]conda.PackageRecord
}

// load decodes the records of name ni of index part pi, once.
func (p *problem) load(pi, ni int32) []conda.PackageRecord {
	pt := &p.parts[pi]
	if recs, ok := pt.loaded[ni]; ok {
		return recs
	}
	recs, err := pt.idx.Records(int(ni))
	if err != nil && p.err == nil {
		p.err = err
	}
	if pt.loaded == nil {
		pt.loaded = map[int32][]conda.PackageRecord{}
	}
	pt.loaded[ni] = recs
	return recs
}

type entry struct {
	rec *conda.PackageRecord
	ch  int32 // channel index; -1 for virtual packages
}

// span is the records lo..hi-1 of part ch (-1: the task's virtual packages).
type span struct {
	ch, lo, hi int32
}

// addRec appends record i of channel ch, extending the last span when contiguous.
func (g *nameGroup) addRec(ch, i int32) {
	if g.span0.hi == 0 {
		g.span0 = span{ch: ch, lo: i, hi: i + 1}
		return
	}
	last := &g.span0
	if g.groupData != nil && len(g.spans) > 0 {
		last = &g.spans[len(g.spans)-1]
	}
	if last.ch == ch && last.hi == i {
		last.hi++
		return
	}
	if g.groupData == nil {
		g.groupData = &groupData{}
	}
	g.spans = append(g.spans, span{ch: ch, lo: i, hi: i + 1})
}

// entries lists the collected records in collection order.
func (p *problem) entries(g *nameGroup) []entry {
	var more []span
	if g.groupData != nil {
		more = g.spans
	}
	size := func(s span) int {
		if s.ch >= 0 && p.parts[s.ch].idx != nil {
			return p.parts[s.ch].idx.Count(int(s.lo))
		}
		return int(s.hi - s.lo)
	}
	n := 0
	if g.span0.hi != 0 {
		n += size(g.span0)
	}
	for _, s := range more {
		n += size(s)
	}
	out := make([]entry, 0, n)
	add := func(s span) {
		if s.ch >= 0 && p.parts[s.ch].idx != nil {
			recs := p.load(s.ch, s.lo)
			for i := range recs {
				out = append(out, entry{rec: &recs[i], ch: p.parts[s.ch].ch})
			}
			return
		}
		for i := s.lo; i < s.hi; i++ {
			var r *conda.PackageRecord
			ch := s.ch
			if s.ch < 0 {
				r = &p.task.Virtual[i]
			} else {
				pt := &p.parts[s.ch]
				r = &pt.recs[i]
				ch = pt.ch
			}
			out = append(out, entry{rec: r, ch: ch})
		}
	}
	if g.span0.hi != 0 {
		add(g.span0)
	}
	for _, s := range more {
		add(s)
	}
	return out
}

type hiddenRec struct {
	rec *conda.PackageRecord
	why string
}

type parsedSpec struct {
	ms  conda.MatchSpec
	err error
	// cands caches the dependency candidates; many records share a dependency text.
	cands    []*prec
	candsSet bool
	// candLits are the candidates' literals, shared read-only by every clause that
	// depends on this text.
	candLits []lit
	// best is the highest version among cands (bestOK: there is one), for depBests.
	best    conda.Version
	bestOK  bool
	bestSet bool
}

// Solve picks one record per package name such that the task's specs, every
// dependency and every constraint hold, following conda's preferences. An impossible
// task gives an *UnsatisfiableError that explains why.
func Solve(ctx context.Context, t Task) (*Solution, error) {
	switch t.ChannelPriority {
	case "", PriorityStrict, PriorityFlexible, PriorityDisabled:
	default:
		return nil, &TaskError{Reason: fmt.Sprintf("channel priority %q is not one of strict, flexible, disabled", t.ChannelPriority)}
	}
	p := &problem{task: &t, names: map[string]*nameGroup{}, specs: map[string]*parsedSpec{}, hidden: map[string][]hiddenRec{}}
	p.flex = t.ChannelPriority == PriorityFlexible
	p.collect()
	if p.err != nil {
		return nil, p.err
	}
	p.encode()
	p.constrain()
	if p.err != nil {
		return nil, p.err
	}
	ok, err := p.eng.solve(func() bool { return ctx.Err() != nil })
	if err != nil {
		return nil, fmt.Errorf("solving %d specs: %w", len(t.Specs), ctx.Err())
	}
	if !ok {
		err := p.explain()
		if p.err != nil {
			return nil, p.err
		}
		return nil, err
	}
	sol := &Solution{}
	for v, pr := range p.vars {
		if p.eng.value[v] == 1 && !pr.virtual {
			sol.Records = append(sol.Records, *pr.rec)
		}
	}
	slices.SortFunc(sol.Records, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
	return sol, nil
}

// collect groups the visible records by name, applying allow-lists and
// ExcludeNewer. Everything per record beyond that (version parsing, channel priority,
// preference order) waits until a solve reaches the name.
func (p *problem) collect() {
	t := p.task
	p.locked = map[string]*conda.PackageRecord{}
	for i := range t.Locked {
		p.locked[t.Locked[i].Name] = &t.Locked[i]
	}
	for _, n := range t.Update {
		delete(p.locked, n)
	}
	total := len(t.Virtual)
	for ci, c := range t.Channels {
		for _, recs := range append([][]conda.PackageRecord{c.Records}, c.Subdirs...) {
			if len(recs) > 0 {
				p.parts = append(p.parts, part{ch: int32(ci), recs: recs})
				total += len(recs)
			}
		}
		for _, x := range c.Indexes {
			if x != nil && x.Len() > 0 {
				p.parts = append(p.parts, part{ch: int32(ci), idx: x})
				total += x.Len()
			}
		}
	}
	// Size the map for the runs of equal names (repodata lists a name's records
	// together), an upper bound on the names, so it never rehashes.
	runs := len(t.Virtual)
	for _, pt := range p.parts {
		if pt.idx != nil {
			runs += pt.idx.Len()
			continue
		}
		recs := pt.recs
		for i := range recs {
			if i == 0 || recs[i].Name != recs[i-1].Name {
				runs++
			}
		}
	}
	p.names = make(map[string]*nameGroup, min(runs, total))
	var last *nameGroup // repodata lists a name's records together: skip the map then
	var slab []nameGroup
	group := func(name string) *nameGroup {
		g := last
		if g == nil || g.name != name {
			g = p.names[name]
			if g == nil {
				if len(slab) == cap(slab) {
					slab = make([]nameGroup, 0, 256)
				}
				slab = append(slab, nameGroup{name: name})
				g = &slab[len(slab)-1]
				p.names[name] = g
			}
			last = g
		}
		return g
	}
	p.featNames = map[string][]string{}
	add := func(r *conda.PackageRecord, ch, i int) {
		g := group(r.Name)
		for _, f := range r.TrackFeatures {
			p.featNames[f] = append(p.featNames[f], g.name)
		}
		g.addRec(int32(ch), int32(i))
	}
	for i := range t.Virtual {
		add(&t.Virtual[i], -1, i)
	}
	// visit adds record ri of part pi unless the task's settings hide it.
	visit := func(c *ChannelRecords, pi, ri int) {
		r := &p.parts[pi].recs[ri]
		if strings.HasPrefix(r.Name, "__") {
			return // virtual packages come only from the task
		}
		if t.ExcludeNewer > 0 && r.Timestamp > t.ExcludeNewer {
			if p.canHide(r.Name) {
				p.hide(r, fmt.Sprintf("is excluded: uploaded at %d ms, after the exclude-newer cutoff %d", r.Timestamp, t.ExcludeNewer))
			}
			return
		}
		if len(c.Allow) > 0 && !allowed(c.Allow, r.Name) {
			if p.canHide(r.Name) {
				p.hide(r, fmt.Sprintf("is in channel %s, whose allow-list does not include %s", c.Name, r.Name))
			}
			return
		}
		add(r, pi, ri)
	}
	for pi, pt := range p.parts {
		c := &t.Channels[pt.ch]
		if pt.idx == nil {
			for ri := range pt.recs {
				visit(c, pi, ri)
			}
			continue
		}
		x := pt.idx
		for ni := range x.Len() {
			name := x.Name(ni)
			if strings.HasPrefix(name, "__") {
				continue
			}
			_, newest := x.Timestamps(ni)
			if (t.ExcludeNewer > 0 && newest > t.ExcludeNewer) || (len(c.Allow) > 0 && !allowed(c.Allow, name)) {
				// The settings hide records of this name: decode them now and visit
				// them one by one, so that what is hidden, and in which order, is as
				// for records passed whole. They become a part of their own.
				recs, err := x.Records(ni)
				if err != nil {
					p.err = err
					return
				}
				p.parts = append(p.parts, part{ch: pt.ch, recs: recs})
				for ri := range recs {
					visit(c, len(p.parts)-1, ri)
				}
				continue
			}
			g := group(name)
			if x.TracksFeatures(ni) {
				for _, f := range x.Features(ni) {
					p.featNames[f] = append(p.featNames[f], g.name)
				}
			}
			g.addRec(int32(pi), int32(ni))
		}
	}
}

// allNames lists every visible name, sorted; only glob specs and features need it.
func (p *problem) allNames() []string {
	if p.sorted == nil {
		p.sorted = make([]string, 0, len(p.names))
		for n := range p.names {
			p.sorted = append(p.sorted, n)
		}
		slices.Sort(p.sorted)
	}
	return p.sorted
}

// ready applies channel priority to a name, parses its versions and sorts its
// records, once, when a solve first reaches it; a large index costs only for the
// names a solve reaches.
func (p *problem) ready(g *nameGroup) {
	if g.ready {
		return
	}
	g.ready = true
	t := p.task
	raw := p.entries(g)
	if g.groupData == nil {
		g.groupData = &groupData{}
	}
	if len(raw) == 0 {
		// Only when an index could not be read (p.err).
	} else if raw[0].ch < 0 {
		// A virtual package hides channel records of its name.
		raw = slices.DeleteFunc(raw, func(e entry) bool { return e.ch >= 0 })
	} else if t.ChannelPriority == "" || t.ChannelPriority == PriorityStrict {
		best := raw[0].ch
		for _, e := range raw {
			best = min(best, e.ch)
		}
		raw = slices.DeleteFunc(raw, func(e entry) bool {
			if e.ch != best {
				if p.canHide(g.name) {
					p.hide(e.rec, fmt.Sprintf("is in channel %s, hidden by strict channel priority because %s has %s", t.Channels[e.ch].Name, t.Channels[best].Name, g.name))
				}
				return true
			}
			return false
		})
	}
	pool := make([]prec, 0, len(raw))
	l := p.locked[g.name]
	for _, e := range raw {
		v, err := conda.ParseVersion(e.rec.Version)
		if err != nil {
			continue // a record conda cannot order is one it cannot install
		}
		pool = append(pool, prec{rec: e.rec, ver: v, ch: int(e.ch), v: -1, virtual: e.ch < 0, locked: l != nil && sameRecord(l, e.rec)})
	}
	g.recs = make([]*prec, len(pool))
	for i := range pool {
		g.recs[i] = &pool[i]
	}
	g.span0, g.spans = span{}, nil
	g.byRoot = slices.Clone(g.recs)
	slices.SortStableFunc(g.recs, p.depOrder)
	slices.SortStableFunc(g.byRoot, p.rootOrder)
}

func (p *problem) canHide(name string) bool { return len(p.hidden[name]) < 64 }

// hide remembers a record the settings hid, for the explanation of a failure. Only a
// few per name are kept: enough to tell the user which setting to change.
func (p *problem) hide(r *conda.PackageRecord, why string) {
	p.hidden[r.Name] = append(p.hidden[r.Name], hiddenRec{rec: r, why: why})
}

func allowed(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

func sameRecord(a, b *conda.PackageRecord) bool {
	if a.Version != b.Version || a.Build != b.Build {
		return false
	}
	if a.Subdir != "" && b.Subdir != "" && a.Subdir != b.Subdir {
		return false
	}
	return a.Channel == "" || b.Channel == "" || a.Channel == b.Channel
}

// Preference orders. Everything minimises track_features before maximising the
// version, as conda's default solver does (its classic solver maximised requested
// versions first); requested specs then prefer builds that leave the other requested
// names their best version. Ties go to build number, arch-specific over noarch, newer timestamp,
// then file name so the order never depends on input order.
func (p *problem) rootOrder(a, b *prec) int {
	if c := p.versionOrder(a, b); c != 0 {
		return c
	}
	// conda maximises every requested version before any requested build: among
	// builds of one version, prefer those that leave the other requested names their
	// best version.
	if c := cmp.Compare(p.rootPenalty(a), p.rootPenalty(b)); c != 0 {
		return c
	}
	return p.tail(a, b)
}

// rootPenalty counts the other requested names whose best candidate r's depends or
// constrains rule out.
func (p *problem) rootPenalty(r *prec) int {
	if p.rootBest == nil {
		p.rootBest = map[string]*prec{}
		for _, s := range p.task.Specs {
			n, ok := s.MatchSpec.ExactName()
			if !ok {
				continue
			}
			g := p.names[n]
			if g == nil {
				continue
			}
			// The group may be raw or already parsed (read-only here either way).
			var best *prec
			consider := func(rec *conda.PackageRecord, v conda.Version) {
				if s.MatchSpec.MatchVersion(rec, v) && (best == nil || v.Compare(best.ver) > 0) {
					best = &prec{rec: rec, ver: v}
				}
			}
			if !g.ready {
				for _, e := range p.entries(g) {
					if v, err := conda.ParseVersion(e.rec.Version); err == nil {
						consider(e.rec, v)
					}
				}
			} else {
				for _, r := range g.recs {
					consider(r.rec, r.ver)
				}
			}
			if old, ok := p.rootBest[n]; best != nil && (!ok || (old != nil && best.ver.Compare(old.ver) < 0)) {
				p.rootBest[n] = best
			}
		}
	}
	if r.penaltySet {
		return int(r.penalty)
	}
	penalty := 0
	check := func(texts []string) {
		for _, t := range texts {
			s := p.spec(t)
			if s.err != nil {
				continue
			}
			n, ok := s.ms.ExactName()
			if !ok || n == r.rec.Name {
				continue
			}
			if best := p.rootBest[n]; best != nil && !s.ms.MatchVersion(best.rec, best.ver) {
				penalty++
			}
		}
	}
	check(r.rec.Depends)
	check(r.rec.Constrains)
	r.penalty, r.penaltySet = int32(penalty), true
	return penalty
}

func (p *problem) depOrder(a, b *prec) int {
	if c := p.versionOrder(a, b); c != 0 {
		return c
	}
	return p.tail(a, b)
}

// versionOrder is what both orders start with: locked records and (flexible priority)
// the channel, then track_features first (conda's default solver since 23.10,
// libmamba, as mamba, rattler and pixi), then the version; conda's classic solver had
// them the other way round and could pick a PyPy build of a newer python over CPython.
func (p *problem) versionOrder(a, b *prec) int {
	if c := p.head(a, b); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a.rec.TrackFeatures), len(b.rec.TrackFeatures)); c != 0 {
		return c
	}
	return b.ver.Compare(a.ver)
}

func (p *problem) head(a, b *prec) int {
	if a.locked != b.locked {
		if a.locked {
			return -1
		}
		return 1
	}
	if p.flex {
		return cmp.Compare(a.ch, b.ch)
	}
	return 0
}

func (p *problem) tail(a, b *prec) int {
	// With priority disabled conda still uses the channel order right after the
	// version, before the build number.
	if p.task.ChannelPriority == PriorityDisabled {
		if c := cmp.Compare(a.ch, b.ch); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(b.rec.BuildNumber, a.rec.BuildNumber); c != 0 {
		return c
	}
	an, bn := a.rec.Subdir == "noarch", b.rec.Subdir == "noarch"
	if an != bn {
		if bn {
			return -1
		}
		return 1
	}
	// Equal version and build number: prefer the build whose dependencies reach
	// higher versions (numpy-1.7.1-py33 over py26), as conda maximises dependency
	// versions right after the requested ones.
	if c := p.compareDeps(a, b); c != 0 {
		return c
	}
	if c := cmp.Compare(b.rec.Timestamp, a.rec.Timestamp); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ch, b.ch); c != 0 {
		return c
	}
	return strings.Compare(a.rec.Fn, b.rec.Fn)
}

func (p *problem) spec(text string) *parsedSpec {
	if s, ok := p.specs[text]; ok {
		return s
	}
	ms, err := conda.ParseMatchSpec(text)
	s := &parsedSpec{ms: ms, err: err}
	p.specs[text] = s
	return s
}

// depCandidates is candidates for a dependency text, computed once per text.
func (p *problem) depCandidates(s *parsedSpec) []*prec {
	if !s.candsSet {
		s.candsSet = true
		if s.err == nil {
			s.cands = p.candidates(s.ms, false)
		}
	}
	return s.cands
}

// candidates lists the records matching ms, in the given preference order.
func (p *problem) candidates(ms conda.MatchSpec, root bool) []*prec {
	var groups []*nameGroup
	if n, ok := ms.ExactName(); ok {
		if g := p.names[n]; g != nil {
			groups = append(groups, g)
		}
	} else {
		for _, n := range p.allNames() {
			if ok, _ := path.Match(ms.Name, n); ok {
				groups = append(groups, p.names[n])
			}
		}
	}
	var out []*prec
	for _, g := range groups {
		p.ready(g)
		list := g.recs
		if root {
			list = g.byRoot
		}
		for _, r := range list {
			if ms.MatchVersion(r.rec, r.ver) {
				out = append(out, r)
			}
		}
	}
	return out
}

// varOf gives a record its variable the first time it is reached.
func (p *problem) varOf(r *prec) int32 {
	if r.v >= 0 {
		return r.v
	}
	g := p.names[r.rec.Name]
	if g.id == 0 {
		p.ngroups++
		g.id = p.ngroups
	}
	r.v = int32(len(p.vars))
	p.vars = append(p.vars, r)
	p.nameOf = append(p.nameOf, g.id-1)
	p.queue = append(p.queue, r)
	return r.v
}

func (p *problem) lits1(a lit) []lit {
	l := p.newLits(1)
	l[0] = a
	return l
}

func (p *problem) lits2(a, b lit) []lit {
	l := p.newLits(2)
	l[0], l[1] = a, b
	return l
}

type pendingClause struct {
	kind  clauseKind
	rec   int32
	spec  int32
	text  string
	ps    *parsedSpec // the dependency's parsed text (kindDepends)
	cands []*prec
}

// newLits returns n literals carved from a shared arena: clauses never grow their
// literal slices, so one allocation serves many clauses.
func (p *problem) newLits(n int) []lit {
	if cap(p.arena)-len(p.arena) < n {
		p.arena = make([]lit, 0, max(8192, n))
	}
	k := len(p.arena)
	p.arena = p.arena[:k+n]
	return p.arena[k : k+n : k+n]
}

// encode reaches every record the specs can pull in and builds the clauses.
func (p *problem) encode() {
	var reqs []pendingClause
	for i, s := range p.task.Specs {
		cands := p.candidates(s.MatchSpec, true)
		for _, r := range cands {
			p.varOf(r)
		}
		reqs = append(reqs, pendingClause{kind: kindRoot, rec: -1, spec: int32(i), text: s.Text, cands: cands})
	}
	for _, r := range p.task.Virtual {
		if g := p.names[r.Name]; g != nil {
			p.ready(g)
			for _, pr := range g.recs {
				p.varOf(pr)
			}
		}
	}
	// Names being updated that the lock had installed are decided first, newest
	// first, so that what pins them moves rather than them staying put.
	var hints [][]lit
	updates := slices.Clone(p.task.Update)
	slices.Sort(updates)
	for _, n := range slices.Compact(updates) {
		g := p.names[n]
		if g == nil || !slices.ContainsFunc(p.task.Locked, func(r conda.PackageRecord) bool { return r.Name == n }) {
			continue
		}
		p.ready(g)
		var h []lit
		for _, r := range g.byRoot {
			h = append(h, posLit(p.varOf(r)))
		}
		hints = append(hints, h)
	}
	for qi := 0; qi < len(p.queue); qi++ {
		r := p.queue[qi]
		for _, d := range r.rec.Depends {
			ps := p.spec(d)
			cands := p.depCandidates(ps)
			for _, c := range cands {
				p.varOf(c)
			}
			reqs = append(reqs, pendingClause{kind: kindDepends, rec: r.v, text: d, ps: ps, cands: cands})
		}
		if r.rec.Features != "" {
			for _, f := range strings.Fields(strings.ReplaceAll(r.rec.Features, ",", " ")) {
				cands := p.trackers(f)
				for _, c := range cands {
					p.varOf(c)
				}
				reqs = append(reqs, pendingClause{kind: kindFeature, rec: r.v, text: f, cands: cands})
			}
		}
	}
	// Constraints only matter between reached records, so they come after the closure.
	cons, naux := p.encodeConstrains()
	nameOf := p.nameOf
	for i := 0; i < naux; i++ {
		nameOf = append(nameOf, p.ngroups) // each auxiliary variable is its own group
		p.ngroups++
	}
	p.eng = newEngine(len(p.vars)+naux, nameOf, int(p.ngroups))
	// Room for every original clause, the task's constraints and some learnt ones,
	// so the clause slice is not copied as it grows.
	p.eng.clauses = make([]clause, 0, len(p.task.Virtual)+len(reqs)+len(cons)+len(p.task.Constraints)*4+256)
	p.eng.reqs = make([]int32, 0, len(reqs))
	for _, pr := range p.vars {
		if pr.virtual {
			l := p.newLits(1)
			l[0] = posLit(pr.v)
			p.eng.addClause(clause{lits: l, kind: kindFixed, rec: pr.v})
		}
	}
	p.eng.hints = hints
	// Records sharing a dependency text share its candidate literals (read-only);
	// each clause still gets its own lits, which the watch scheme reorders.
	for _, q := range reqs {
		c := clause{kind: q.kind, rec: q.rec, spec: q.spec, text: q.text}
		if q.ps != nil {
			c.candLits = q.ps.candLits
		}
		if c.candLits == nil {
			c.candLits = p.newLits(len(q.cands))
			for i, r := range q.cands {
				c.candLits[i] = posLit(r.v)
			}
			if q.ps != nil {
				q.ps.candLits = c.candLits
			}
		}
		if c.rec >= 0 {
			c.lits = p.newLits(1 + len(c.candLits))
			c.lits[0] = negLit(c.rec)
			copy(c.lits[1:], c.candLits)
		} else {
			c.lits = p.newLits(len(c.candLits))
			copy(c.lits, c.candLits)
		}
		p.eng.addClause(c)
	}
	for _, c := range cons {
		p.eng.addClause(c)
	}
}

// encodeConstrains turns the reached records' constrains into clauses. Records that
// share a constraint text share one auxiliary variable meaning "this constraint is
// in force": r -> aux, aux -> not o for each excluded o. That is R+O clauses instead of
// R*O (every cpython build constrains pypy, for instance). It returns the clauses and
// the number of auxiliary variables, which follow the record variables.
func (p *problem) encodeConstrains() ([]clause, int) {
	// An upper bound on the clauses, so out is allocated once: each constraint text
	// excludes at most every record of its name.
	n := 0
	counted := map[*parsedSpec]bool{}
	for _, r := range p.vars {
		for _, text := range r.rec.Constrains {
			n++
			s := p.spec(text)
			if s.err != nil {
				continue
			}
			name, ok := s.ms.ExactName()
			if !ok {
				continue
			}
			g := p.names[name]
			if g == nil {
				continue
			}
			p.ready(g)
			if name == r.rec.Name || !counted[s] {
				counted[s] = true
				n += len(g.recs)
			}
		}
	}
	out := make([]clause, 0, n)
	aux := map[string]int32{}
	base, next := int32(len(p.vars)), int32(0)
	for _, r := range p.vars {
		for _, text := range r.rec.Constrains {
			s := p.spec(text)
			if s.err != nil {
				// A record whose constraint cannot be read cannot be checked, so it is
				// not installable (rattler does the same).
				out = append(out, clause{lits: p.lits1(negLit(r.v)), kind: kindConstrains, rec: r.v, text: text})
				continue
			}
			n, ok := s.ms.ExactName()
			if !ok {
				continue
			}
			g := p.names[n]
			if g == nil {
				continue
			}
			p.ready(g)
			if n == r.rec.Name {
				for _, o := range g.recs {
					if o.v >= 0 && o != r && !s.ms.MatchVersion(o.rec, o.ver) {
						out = append(out, clause{lits: p.lits2(negLit(r.v), negLit(o.v)), kind: kindConstrains, rec: r.v, text: text})
					}
				}
				continue
			}
			a, seen := aux[text]
			if !seen {
				a = -1
				for _, o := range g.recs {
					if o.v < 0 || s.ms.MatchVersion(o.rec, o.ver) {
						continue
					}
					if a < 0 {
						a = base + next
						next++
					}
					out = append(out, clause{lits: p.lits2(negLit(a), negLit(o.v)), kind: kindConstrainsAux, rec: -1, spec: a, text: text})
				}
				if a < 0 {
					aux[text] = -1
					continue
				}
				aux[text] = a
			}
			if a >= 0 {
				out = append(out, clause{lits: p.lits2(negLit(r.v), posLit(a)), kind: kindConstrains, rec: r.v, spec: a, text: text})
			}
		}
	}
	return out, int(next)
}

// constrain adds the task's constraints: a constrained name, when installed, must
// match.
func (p *problem) constrain() {
	for i, s := range p.task.Constraints {
		n, ok := s.MatchSpec.ExactName()
		if !ok {
			continue
		}
		g := p.names[n]
		if g == nil {
			continue
		}
		p.ready(g)
		for _, o := range g.recs {
			if o.v >= 0 && !s.MatchSpec.MatchVersion(o.rec, o.ver) {
				p.eng.addClause(clause{lits: p.lits1(negLit(o.v)), kind: kindTaskConstraint, rec: -1, spec: int32(i), text: s.Text})
			}
		}
	}
}

// trackers lists records whose track_features include the feature (a record once per
// time it lists it), by name, once per feature. Only the names with records tracking
// it are reached.
func (p *problem) trackers(f string) []*prec {
	if p.tracked == nil {
		p.tracked = map[string][]*prec{}
	}
	if out, ok := p.tracked[f]; ok {
		return out
	}
	names := slices.Clone(p.featNames[f])
	slices.Sort(names)
	var out []*prec
	for _, n := range slices.Compact(names) {
		g := p.names[n]
		p.ready(g)
		for _, r := range g.recs {
			for _, tf := range r.rec.TrackFeatures {
				if tf == f {
					out = append(out, r)
				}
			}
		}
	}
	p.tracked[f] = out
	return out
}

// compareDeps orders two records by the best versions their common dependencies can
// reach, the first differing name (alphabetically) deciding.
func (p *problem) compareDeps(a, b *prec) int {
	da, db := p.depBests(a), p.depBests(b)
	i, j := 0, 0
	for i < len(da) && j < len(db) {
		switch c := strings.Compare(da[i].name, db[j].name); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			if c := db[j].ver.Compare(da[i].ver); c != 0 {
				return c
			}
			i++
			j++
		}
	}
	return 0
}

func (p *problem) depBests(r *prec) []depBest {
	if r.depsSet {
		return r.deps
	}
	r.depsSet = true
	for _, d := range r.rec.Depends {
		s := p.spec(d)
		if s.err != nil {
			continue
		}
		n, ok := s.ms.ExactName()
		if !ok {
			continue
		}
		if !s.bestSet {
			s.bestSet = true
			var best *prec
			for _, o := range p.depCandidates(s) {
				if best == nil || o.ver.Compare(best.ver) > 0 {
					best = o
				}
			}
			if best != nil {
				s.best, s.bestOK = best.ver, true
			}
		}
		if s.bestOK {
			r.deps = append(r.deps, depBest{name: n, ver: s.best})
		}
	}
	slices.SortFunc(r.deps, func(x, y depBest) int { return strings.Compare(x.name, y.name) })
	return r.deps
}
