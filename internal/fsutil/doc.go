// Package fsutil replaces outputs atomically and cleans what killed runs left behind.
//
// ReplaceDir swaps a finished temporary directory with the output it replaces in one
// step where the OS can (renameat2 RENAME_EXCHANGE on Linux), so a kill at any moment
// leaves either the old output or the new one at the path, never nothing. Temporaries
// made by MkdirTemp and CreateTemp hold an advisory lock for as long as their writer
// lives (they are made and locked under a staging name CleanStale's globs do not match,
// and only then given their names); CleanStale removes the ones whose writer died (the
// kernel drops the lock even on SIGKILL) and never a live writer's.
//
// It may import golang.org/x/sys/unix and the standard library.
package fsutil
