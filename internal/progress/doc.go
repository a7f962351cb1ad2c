// Package progress reports the long phases of a command (solve, build, write, push) on
// stderr in one of three modes, as BuildKit's progressui does: on a terminal a status
// line redrawn in place and a summary line per finished phase; otherwise plain lines
// (one when a phase starts, one when it ends); quiet prints nothing. Verbose plain output
// also prints every step a phase counts.
//
// The clock is passed in by the caller (the CLI), so the package reads no time itself.
// It may import only the standard library.
package progress
