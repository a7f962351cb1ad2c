package record

import "github.com/reprobuild/reprobuild/recipes"

// GPUEnv is what GPU container runtimes read from an image's environment when the recipe
// asks for GPUs or CUDA: the NVIDIA container toolkit makes all GPUs visible with the
// compute and utility driver capabilities, and refuses to start on a driver older than
// hardware.cuda. Nil when the recipe asks for neither; runtime.env overrides each one.
func GPUEnv(h recipes.Hardware) map[string]string {
	if h.GPUs == 0 && h.Cuda == "" {
		return nil
	}
	env := map[string]string{
		"NVIDIA_VISIBLE_DEVICES":     "all",
		"NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
	}
	if h.Cuda != "" {
		env["NVIDIA_REQUIRE_CUDA"] = "cuda>=" + h.Cuda
	}
	return env
}
