package runc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunOptions configure Run.
type RunOptions struct {
	// Runc is the runc binary.
	Runc string
	// ID names the container; it must be unique among running containers of StateDir.
	ID string
	// StateDir is runc's --root (its state directory); empty keeps runc's default.
	StateDir       string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// WriteBundle writes s as bundle/config.json.
func WriteBundle(bundle string, s *specs.Spec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), append(b, '\n'), 0o644)
}

// Run runs the bundle with `runc run` and returns the container's exit status (runc
// exits with it). An error means runc could not be started at all.
func Run(ctx context.Context, bundle string, o RunOptions) (int, error) {
	var global []string
	if o.StateDir != "" {
		global = append(global, "--root", o.StateDir)
	}
	args := append(global, "run", "--bundle", bundle, o.ID)
	cmd := exec.CommandContext(ctx, o.Runc, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	err := cmd.Run()
	// A container left behind (runc killed, or a start failure) is removed.
	del := exec.Command(o.Runc, append(global, "delete", "--force", o.ID)...)
	_ = del.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			return 0, fmt.Errorf("%s was killed: %v", o.Runc, ee)
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running %s: %w", o.Runc, err)
	}
	return 0, nil
}
