// Package solver chooses one package record per name so that every requested spec,
// dependency and constraint holds, preferring what conda prefers. It is a pure
// function from a Task to a Solution, or to an UnsatisfiableError explaining why none
// exists; it does no I/O and reads no clock or environment.
//
// The engine is a small CDCL SAT solver written for this encoding (records are
// variables, one-record-per-name is propagated natively, decisions follow the
// requirement order with candidates sorted by conda's preferences), in the style of
// resolvo.
//
// It may import internal/conda and the standard library only.
package solver
