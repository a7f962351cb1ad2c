package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
)

// linkOptions are the flags of the hidden link command, the exec step of a BuildKit
// build (see frontend.RecordsFile and friends for the paths the graph uses).
type linkOptions struct {
	prefix  string
	python  string
	records string
	pkgs    string
	out     string
	env     []string
	maxSize int64
}

func newLinkCommand() *cobra.Command {
	var o linkOptions
	cmd := &cobra.Command{
		Use:    "link --prefix P --records FILE --pkgs DIR --out DIR",
		Short:  "Link locked package archives into a file tree (the BuildKit engine's exec step)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLink(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.prefix, "prefix", "/opt/env", "environment path inside the image")
	f.StringVar(&o.python, "python-version", "", "major.minor of the environment's python, for noarch python packages linked without it")
	f.StringVar(&o.records, "records", frontend.RecordsFile, "JSON list of the package records to link")
	f.StringVar(&o.pkgs, "pkgs", frontend.PkgsDir, "directory holding the archives by file name")
	f.StringVar(&o.out, "out", frontend.OutDir, "directory the linked tree (image-root relative paths) is written to")
	f.Int64Var(&o.maxSize, "max-package-size", 0, "largest unpacked size of one package in bytes (0: 8 GiB)")
	f.StringArrayVar(&o.env, "env", nil, "read-only tree of a group linked before this one, in layer order (repeatable): the whole environment is checked as one tree")
	return cmd
}

func runLink(ctx context.Context, o linkOptions) error {
	data, err := os.ReadFile(o.records)
	if err != nil {
		return fmt.Errorf("link: reading records: %w", err)
	}
	var records []conda.PackageRecord
	if err := json.Unmarshal(data, &records); err != nil {
		return fmt.Errorf("link: %s is not a JSON list of package records: %w", o.records, err)
	}
	pkgs := make([]install.Package, len(records))
	pinned := map[string]string{}
	for i, r := range records {
		// The archives come from outside any verified cache: linking checks the bytes it
		// reads against the lock's sha256 (install's own verification).
		pkgs[i] = install.Package{Record: r, Archive: filepath.Join(o.pkgs, filepath.Base(r.Fn)), VerifySHA256: true}
		pinned[pkgs[i].Archive] = r.SHA256
	}
	// Large files are spooled to a temporary directory rather than held in memory, when
	// one can be made (the BuildKit link step runs this in a minimal root); the tree is
	// the same either way.
	spool, err := os.MkdirTemp("", "reprobuild-spool-*")
	if err != nil {
		spool = ""
	} else {
		defer os.RemoveAll(spool)
	}
	// The same linking code as the embedded engine, so both engines write the same tree.
	trees, clobbers, err := install.LinkAll(ctx, pkgs, install.Options{Prefix: o.prefix, PythonVersion: o.python, SpoolDir: spool, MaxUnpackedSize: o.maxSize})
	var changed *install.ArchiveChangedError
	if errors.As(err, &changed) {
		return fmt.Errorf("link: %w", &checksumError{file: changed.File, want: pinned[changed.File], err: err})
	}
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	if len(o.env) > 0 {
		// The same whole-environment check as the embedded engine, on the same layers.
		layers := make([][]install.Entry, 0, len(o.env)+1)
		for _, dir := range o.env {
			shape, err := install.ShapeOfDir(dir)
			if err != nil {
				return fmt.Errorf("link: %w", err)
			}
			layers = append(layers, shape)
		}
		layers = append(layers, install.ShapeOfTrees(trees))
		if err := install.CheckEnvironment(o.prefix, layers...); err != nil {
			return fmt.Errorf("link: %w", err)
		}
	}
	for _, c := range clobbers {
		fmt.Fprintf(os.Stderr, "link: %s from %s replaces the one from %s\n", c.Path, c.Winner, c.Loser)
	}
	if err := install.WriteTree(o.out, trees); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	return nil
}

// checksumError reports an archive in the link step whose content is not what the lock
// pinned (install's verification found it).
type checksumError struct {
	file, want string
	err        error
}

func (e *checksumError) Error() string {
	return fmt.Sprintf("%s: wrong sha256: the lock pins %s; the channel changed the file: relock or restore it", e.file, e.want)
}

func (e *checksumError) Unwrap() error { return e.err }
