// Package activate finds conda activation scripts (PREFIX/etc/conda/activate.d/*.sh,
// which `conda activate` sources: GDAL_DATA, PROJ_DATA, JAVA_HOME, compiler flags) and
// computes the environment they set when that can be done exactly at build time: the
// scripts only assign and export values built from literals and variables whose values
// are known. Anything else (conditions, commands, unknown variables) is reported as not
// exact, and the image must source the scripts when it starts instead.
//
// It is pure: scripts come in as bytes. It may import only the standard library.
package activate
