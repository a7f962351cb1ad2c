package frontend

import (
	"strconv"

	"github.com/moby/buildkit/client/llb"
)

// EnvDir is where the last link step of a target finds the trees of the groups linked
// before it (EnvDir/0, EnvDir/1, ...), read-only, so "reprobuild link --env" runs the
// whole-environment check (install.CheckEnvironment) the embedded engine runs, on the
// same layers in the same order. The other groups still link in parallel; only the last
// one waits for them.
const EnvDir = "/env"

// runOptions applies several run options as one.
type runOptions []llb.RunOption

func (o runOptions) SetRunOption(ei *llb.ExecInfo) {
	for _, x := range o {
		x.SetRunOption(ei)
	}
}

// envCheck returns the arguments and mounts that give a link step the trees of prior.
func envCheck(prior []llb.State) ([]string, runOptions) {
	var args []string
	var opts runOptions
	for i, st := range prior {
		dir := EnvDir + "/" + strconv.Itoa(i)
		args = append(args, "--env", dir)
		opts = append(opts, llb.AddMount(dir, st, llb.Readonly))
	}
	return args, opts
}
