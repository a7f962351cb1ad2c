package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var (
	// A command in the docs: reprobuild (or go run ./cmd/reprobuild) and its subcommand.
	docCommand = regexp.MustCompile(`(?:^|[\s\x60(/])reprobuild ([a-z][a-z-]*)`)
	// A flag: --name or -x, after a space or an opening bracket.
	docFlag = regexp.MustCompile(`(?:^|[\s\[(])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?:[\s=\]|)\x60]|$)`)
	// An inline code span.
	codeSpan = regexp.MustCompile("`[^`]+`")
)

// docCodeLines returns the code of a markdown file with line numbers: fenced and
// indented blocks whole, and the inline code spans of other lines.
func docCodeLines(text string) map[int][]string {
	out := map[int][]string{}
	fenced := false
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			fenced = !fenced
			continue
		}
		if fenced || strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t") {
			out[n] = append(out[n], line)
			continue
		}
		for _, s := range codeSpan.FindAllString(line, -1) {
			out[n] = append(out[n], strings.Trim(s, "`"))
		}
	}
	return out
}

// docProblems checks every reprobuild command in a markdown text against the CLI and
// returns one line per unknown command or flag; n counts the commands checked.
func docProblems(name, text string) (problems []string, n int) {
	for line, codes := range docCodeLines(text) {
		for _, code := range codes {
			for _, m := range docCommand.FindAllStringSubmatchIndex(code, -1) {
				sub := code[m[2]:m[3]]
				rest := code[m[3]:]
				// The command ends at a pipe into another program or a shell separator; an
				// escaped \| inside a table cell is an alternative, not a pipe.
				rest = strings.ReplaceAll(rest, `\|`, "¦")
				if i := strings.IndexAny(rest, "|;&`"); i >= 0 {
					rest = rest[:i]
				}
				root := newRootCommand()
				root.InitDefaultHelpCmd()
				root.InitDefaultCompletionCmd() // cobra adds these when it executes
				c, _, err := root.Find([]string{sub})
				if err != nil || c == root {
					problems = append(problems, fmt.Sprintf("%s:%d: `reprobuild %s`: no such command", name, line, sub))
					continue
				}
				n++
				for _, fm := range docFlag.FindAllStringSubmatch(rest, -1) {
					flag := fm[1]
					if flag == "--help" || flag == "-h" {
						continue
					}
					var ok bool
					if long, isLong := strings.CutPrefix(flag, "--"); isLong {
						ok = c.Flags().Lookup(long) != nil || c.InheritedFlags().Lookup(long) != nil
					} else {
						ok = c.Flags().ShorthandLookup(flag[1:]) != nil || c.InheritedFlags().ShorthandLookup(flag[1:]) != nil
					}
					if !ok {
						problems = append(problems, fmt.Sprintf("%s:%d: `reprobuild %s %s`: the command has no such flag (see reprobuild %s --help)", name, line, sub, flag, sub))
					}
				}
			}
		}
	}
	sort.Strings(problems)
	return problems, n
}

// TestDocsMatchCLI walks every `reprobuild ...` command in README.md and docs/*.md and
// checks that the subcommand exists and has each flag written after it.
func TestDocsMatchCLI(t *testing.T) {
	// The walker itself: a wrong flag, a wrong command, and what is not a command.
	bad := "Run `reprobuild image --nosuch -f x` or\n\n    reprobuild nosuchcmd --x\n\n" +
		"`reprobuild lock --check \\| --json` and `reprobuild llb | buildctl build --local x`; the reprobuild binary.\n"
	got, _ := docProblems("bad.md", bad)
	want := []string{
		"bad.md:1: `reprobuild image --nosuch`: the command has no such flag (see reprobuild image --help)",
		"bad.md:3: `reprobuild nosuchcmd`: no such command",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("docs walker found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "README.md"))
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		problems, n := docProblems(filepath.Base(f), string(data))
		checked += n
		for _, p := range problems {
			t.Error(p)
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d documented commands; is the docs walker broken?", checked)
	}
	t.Logf("checked %d documented commands", checked)
}

// TestGitHubActionsExample checks the workflow in examples/github-actions: it is valid
// YAML, every reprobuild command in it exists with its flags, it locks with --locked,
// verifies, pushes and uploads the SBOMs from where `image` writes them.
func TestGitHubActionsExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "github-actions", "reprobuild.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("the workflow is not valid YAML: %v", err)
	}
	var runs []string
	uploads := ""
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			if s.Run != "" {
				runs = append(runs, s.Run)
			}
			if strings.HasPrefix(s.Uses, "actions/upload-artifact@") {
				uploads = s.With["path"]
			}
		}
	}
	script := "    " + strings.ReplaceAll(strings.Join(runs, "\n"), "\n", "\n    ") + "\n"
	problems, n := docProblems("reprobuild.yml", script)
	for _, p := range problems {
		t.Error(p)
	}
	for _, want := range []string{"reprobuild lock --check", "reprobuild image --locked --output oci:out/image", "reprobuild verify --no-cache", "--push"} {
		if !strings.Contains(script, want) {
			t.Errorf("the workflow does not run %q", want)
		}
	}
	if n < 4 {
		t.Errorf("checked %d reprobuild commands in the workflow", n)
	}
	if uploads != "out/image.reprobuild/" {
		t.Errorf("uploads %q, want the SBOM directory image writes beside oci:out/image", uploads)
	}
}
