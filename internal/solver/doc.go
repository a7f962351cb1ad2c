// Package solver chooses one package record per name so that every dependency and
// constraint holds, preferring what conda prefers. It is a pure function from a Task to a
// Solution or a typed explanation of why none exists; it does no I/O.
//
// It may import internal/conda and SAT libraries only.
package solver
