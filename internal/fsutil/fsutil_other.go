//go:build !linux

package fsutil

import "os"

func exchange(a, b string) error { return errNoExchange }

// Without flock, temporaries are not locked and CleanStale removes nothing: a live
// writer must never lose its files.
func lockFile(f *os.File) error { return nil }

func tryLock(f *os.File) (bool, error) { return false, nil }
