package solver

// A small CDCL engine specialised for package resolution, in the style of resolvo:
// boolean variables are package records, "at most one record per name" is propagated
// natively instead of being expanded into pairwise clauses, and decisions follow the
// order of requirement clauses so that root specs are decided first and each decision
// takes the most preferred candidate still open.

type lit int32

func posLit(v int32) lit { return lit(v << 1) }
func negLit(v int32) lit { return lit(v<<1 | 1) }
func (l lit) v() int32   { return int32(l >> 1) }
func (l lit) neg() bool  { return l&1 == 1 }
func (l lit) not() lit   { return l ^ 1 }

type clauseKind uint8

const (
	kindRoot           clauseKind = iota // a root spec: one of its candidates
	kindDepends                          // record -> one of a dependency's candidates
	kindConstrains                       // record -> not a record its constrains exclude
	kindFeature                          // record with features -> one tracker of the feature
	kindFixed                            // a virtual package: always installed
	kindTaskConstraint                   // a task constraint excludes a record
	kindOneName                          // two records of one name cannot both be installed
	kindLearnt                           // derived by conflict analysis
)

type clause struct {
	lits []lit
	kind clauseKind
	// rec is the record that triggers a depends/constrains/feature clause, or -1.
	rec int32
	// spec is the index of the root spec or the dependency text, per kind.
	spec int32
	text string
	// candLits are a requirement's candidates in preference order (lits is reordered
	// by the watch scheme).
	candLits []lit
	// from lists the clauses a learnt clause was resolved from, for explanations.
	from []int32
}

const noReason = -1

type engine struct {
	clauses []clause
	watches [][]int32 // by literal: clauses watching it
	value   []int8    // by var: 0 unknown, 1 true, -1 false
	level   []int32
	reason  []int32 // clause index, noReason for decisions
	trail   []lit
	limits  []int // trail length at the start of each decision level
	head    int   // propagation queue position in trail
	seen    []bool
	nameOf  []int32   // by var: name group
	groups  [][]int32 // by name group: vars
	chosen  []int32   // by name group: the var set true, or -1
	reqs    []int32   // requirement clauses in decision order
	// hints are soft first decisions (names being updated): their best open
	// candidate is tried before any requirement, and conflicts can undo it.
	hints [][]lit
	// conflict is the clause falsified at level 0 when the problem is unsatisfiable.
	conflict int32
	steps    int
}

func newEngine(nvars int, nameOf []int32, ngroups int) *engine {
	e := &engine{
		watches:  make([][]int32, 2*nvars),
		value:    make([]int8, nvars),
		level:    make([]int32, nvars),
		reason:   make([]int32, nvars),
		seen:     make([]bool, nvars),
		nameOf:   nameOf,
		groups:   make([][]int32, ngroups),
		chosen:   make([]int32, ngroups),
		conflict: -1,
	}
	for v, g := range nameOf {
		e.groups[g] = append(e.groups[g], int32(v))
	}
	for i := range e.chosen {
		e.chosen[i] = -1
	}
	return e
}

func (e *engine) litValue(l lit) int8 {
	x := e.value[l.v()]
	if l.neg() {
		return -x
	}
	return x
}

func (e *engine) decisionLevel() int32 { return int32(len(e.limits)) }

// addClause registers an original clause; it returns false when the clause is already
// falsified at level 0 (the problem is unsatisfiable).
func (e *engine) addClause(c clause) bool {
	id := int32(len(e.clauses))
	e.clauses = append(e.clauses, c)
	if c.kind == kindRoot || c.kind == kindDepends || c.kind == kindFeature {
		e.reqs = append(e.reqs, id)
	}
	switch len(c.lits) {
	case 0:
		e.conflict = id
		return false
	case 1:
		switch e.litValue(c.lits[0]) {
		case 1:
			return true
		case -1:
			e.conflict = id
			return false
		}
		return e.assign(c.lits[0], id)
	}
	e.watch(id)
	return true
}

func (e *engine) watch(id int32) {
	c := &e.clauses[id]
	e.watches[c.lits[0]] = append(e.watches[c.lits[0]], id)
	e.watches[c.lits[1]] = append(e.watches[c.lits[1]], id)
}

// assign sets l true with the given reason. It reports false on an immediate conflict
// with the one-record-per-name rule (e.conflict is then set at level 0 only).
func (e *engine) assign(l lit, reason int32) bool {
	v := l.v()
	if l.neg() {
		e.value[v] = -1
	} else {
		e.value[v] = 1
	}
	e.level[v] = e.decisionLevel()
	e.reason[v] = reason
	e.trail = append(e.trail, l)
	return true
}

// oneNameClause materialises the binary clause "not a or not b" used as a reason.
func (e *engine) oneNameClause(a, b int32) int32 {
	id := int32(len(e.clauses))
	e.clauses = append(e.clauses, clause{lits: []lit{negLit(a), negLit(b)}, kind: kindOneName, rec: -1})
	return id
}

// propagate runs unit propagation; it returns the conflicting clause or -1.
func (e *engine) propagate() int32 {
	for e.head < len(e.trail) {
		p := e.trail[e.head]
		e.head++
		v := p.v()
		if !p.neg() {
			// A record became installed: every other record of its name is out.
			g := e.nameOf[v]
			if c := e.chosen[g]; c >= 0 && c != v {
				return e.oneNameClause(v, c)
			}
			e.chosen[g] = v
			for _, o := range e.groups[g] {
				if o == v {
					continue
				}
				switch e.value[o] {
				case 0:
					e.assignOther(o, v)
				case 1:
					return e.oneNameClause(v, o)
				}
			}
		}
		falsified := p.not()
		ws := e.watches[falsified]
		j := 0
		for i := 0; i < len(ws); i++ {
			id := ws[i]
			c := &e.clauses[id]
			if c.lits[0] == falsified {
				c.lits[0], c.lits[1] = c.lits[1], c.lits[0]
			}
			if e.litValue(c.lits[0]) == 1 {
				ws[j] = id
				j++
				continue
			}
			found := false
			for k := 2; k < len(c.lits); k++ {
				if e.litValue(c.lits[k]) != -1 {
					c.lits[1], c.lits[k] = c.lits[k], c.lits[1]
					e.watches[c.lits[1]] = append(e.watches[c.lits[1]], id)
					found = true
					break
				}
			}
			if found {
				continue
			}
			ws[j] = id
			j++
			if e.litValue(c.lits[0]) == -1 {
				copy(ws[j:], ws[i+1:])
				j += len(ws) - i - 1
				e.watches[falsified] = ws[:j]
				return id
			}
			e.assign(c.lits[0], id)
		}
		e.watches[falsified] = ws[:j]
	}
	return -1
}

// assignOther records that o is excluded because v, of the same name, is installed.
// The reason clause is made lazily in analysis; -2-v encodes it meanwhile.
func (e *engine) assignOther(o, v int32) {
	e.value[o] = -1
	e.level[o] = e.decisionLevel()
	e.reason[o] = -2 - v
	e.trail = append(e.trail, negLit(o))
}

// reasonClause returns the clause that implied v, materialising one-name reasons.
func (e *engine) reasonClause(v int32) int32 {
	r := e.reason[v]
	if r <= -2 {
		id := e.oneNameClause(v, -2-r)
		e.reason[v] = id
		return id
	}
	return r
}

func (e *engine) backtrack(level int32) {
	if e.decisionLevel() <= level {
		return
	}
	start := e.limits[level]
	for i := len(e.trail) - 1; i >= start; i-- {
		v := e.trail[i].v()
		if e.value[v] == 1 && e.chosen[e.nameOf[v]] == v {
			e.chosen[e.nameOf[v]] = -1
		}
		e.value[v] = 0
		e.reason[v] = noReason
	}
	e.trail = e.trail[:start]
	e.limits = e.limits[:level]
	e.head = start
}

// analyze derives a first-UIP clause from the conflict; it returns the learnt clause's
// literals (asserting literal first), the backjump level and the clauses used.
func (e *engine) analyze(confl int32) ([]lit, int32, []int32) {
	learnt := []lit{0}
	var from []int32
	var touched []int32
	count := 0
	idx := len(e.trail) - 1
	var p lit = -1
	cur := e.decisionLevel()
	for {
		from = append(from, confl)
		c := e.clauses[confl].lits
		for _, q := range c {
			if p >= 0 && q == p {
				continue
			}
			v := q.v()
			if e.seen[v] || e.level[v] == 0 {
				if e.level[v] == 0 && !e.seen[v] {
					// Level-0 facts are kept out of the clause but their reasons are
					// part of the derivation, which the explanation needs.
					e.seen[v] = true
					touched = append(touched, v)
					from = append(from, e.level0Reasons(v)...)
				}
				continue
			}
			e.seen[v] = true
			touched = append(touched, v)
			if e.level[v] == cur {
				count++
			} else {
				learnt = append(learnt, q)
			}
		}
		for !e.seen[e.trail[idx].v()] || e.level[e.trail[idx].v()] != cur {
			idx--
		}
		p = e.trail[idx]
		idx--
		count--
		if count == 0 {
			break
		}
		confl = e.reasonClause(p.v())
	}
	learnt[0] = p.not()
	for _, v := range touched {
		e.seen[v] = false
	}
	back := int32(0)
	if len(learnt) > 1 {
		mi := 1
		for i := 2; i < len(learnt); i++ {
			if e.level[learnt[i].v()] > e.level[learnt[mi].v()] {
				mi = i
			}
		}
		learnt[1], learnt[mi] = learnt[mi], learnt[1]
		back = e.level[learnt[1].v()]
	}
	return learnt, back, from
}

// level0Reasons returns the reason clause of a level-0 assignment. The full level-0
// derivation is gathered later by core when a conflict reaches level 0.
func (e *engine) level0Reasons(v int32) []int32 {
	r := e.reasonClause(v)
	if r < 0 {
		return nil
	}
	return []int32{r}
}

// decide picks the next decision: the most preferred open candidate of the first
// requirement clause that is active (its record installed) and not yet satisfied.
func (e *engine) decide() (lit, bool) {
	for _, h := range e.hints {
		done := false
		var open lit = -1
		for _, l := range h {
			switch e.litValue(l) {
			case 1:
				done = true
			case 0:
				if open < 0 {
					open = l
				}
			}
		}
		if !done && open >= 0 {
			return open, true
		}
	}
	for _, id := range e.reqs {
		c := &e.clauses[id]
		if c.rec >= 0 && e.value[c.rec] != 1 {
			continue
		}
		satisfied := false
		var open lit = -1
		for _, l := range c.cand() {
			switch e.litValue(l) {
			case 1:
				satisfied = true
			case 0:
				if open < 0 {
					open = l
				}
			}
			if satisfied {
				break
			}
		}
		if !satisfied && open >= 0 {
			return open, true
		}
	}
	return 0, false
}

// solve runs CDCL; it reports whether a model was found. On success every variable
// left unknown is false.
func (e *engine) solve(ctxDone func() bool) (bool, error) {
	if e.conflict >= 0 {
		return false, nil
	}
	for {
		confl := e.propagate()
		if confl >= 0 {
			if e.decisionLevel() == 0 {
				e.conflict = confl
				return false, nil
			}
			learnt, back, from := e.analyze(confl)
			e.backtrack(back)
			id := int32(len(e.clauses))
			e.clauses = append(e.clauses, clause{lits: learnt, kind: kindLearnt, rec: -1, from: from})
			if len(learnt) > 1 {
				e.watch(id)
			}
			e.assign(learnt[0], id)
			continue
		}
		e.steps++
		if e.steps&1023 == 0 && ctxDone() {
			return false, errCanceled
		}
		l, ok := e.decide()
		if !ok {
			return true, nil
		}
		e.limits = append(e.limits, len(e.trail))
		e.assign(l, noReason)
	}
}

// cand returns the candidate literals of a requirement clause (without the trigger).
func (c *clause) cand() []lit {
	return c.candLits
}

// core returns the original clauses that took part in deriving the level-0 conflict,
// in a stable order.
func (e *engine) core() []int32 {
	seen := map[int32]bool{}
	varSeen := map[int32]bool{}
	var out []int32
	var stack []int32
	push := func(id int32) {
		if id >= 0 && !seen[id] {
			seen[id] = true
			stack = append(stack, id)
		}
	}
	push(e.conflict)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c := e.clauses[id]
		if c.kind == kindLearnt {
			for _, f := range c.from {
				push(f)
			}
		} else {
			out = append(out, id)
		}
		for _, l := range c.lits {
			v := l.v()
			if e.value[v] != 0 && !varSeen[v] {
				varSeen[v] = true
				push(e.reasonClause(v))
			}
		}
	}
	sortInt32(out)
	return out
}
