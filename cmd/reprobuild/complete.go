package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

// completionPlatforms are the conda subdirs an image can be built for, then the OCI
// spellings inspect also takes.
var completionPlatforms = []string{
	"linux-64", "linux-aarch64", "linux-ppc64le", "linux-s390x", "linux-armv7l", "linux-riscv64",
	"linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x", "linux/arm/v7", "linux/riscv64",
}

// registerCompletions gives shell completion (cobra's `completion` command) values for
// the flags whose values are a fixed set or start with a fixed prefix.
func registerCompletions(root *cobra.Command) {
	fixed := func(vals ...string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return vals, cobra.ShellCompDirectiveNoFileComp
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		reg := func(flag string, f cobra.CompletionFunc) {
			if c.Flags().Lookup(flag) != nil {
				_ = c.RegisterFlagCompletionFunc(flag, f)
			}
		}
		switch c.Name() {
		case "export":
			reg("format", fixed(builder.FormatExplicit, builder.FormatCondaLock, builder.FormatEnvironment, builder.FormatPixi))
			reg("hash", fixed("sha256", "md5"))
		case "image", "verify":
			reg("output", prefixes("oci:", "docker:"))
		}
		reg("engine", fixed("embedded", "buildkit"))
		reg("platform", fixed(completionPlatforms...))
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, name := range []string{"inspect", "verify"} {
		if c, _, err := root.Find([]string{name}); err == nil && c.Name() == name {
			c.ValidArgsFunction = prefixes(builder.ImageSourceKinds...)
		}
	}
}

// prefixes completes the kind prefix of a value (oci:, docker:...) and then, after it, a
// path.
func prefixes(kinds ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		for _, k := range kinds {
			if strings.HasPrefix(toComplete, k) && k != "docker://" {
				return nil, cobra.ShellCompDirectiveDefault // a path after the prefix
			}
		}
		return kinds, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
}
