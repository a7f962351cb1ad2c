//go:build !linux

package channel

import (
	"errors"
	"os"
)

// mapFile is only implemented on Linux; elsewhere compact files are read.
func mapFile(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapFile([]byte) {}
