// Package pkgmaker writes real conda package archives (.conda and .tar.bz2) from a
// description: index.json, paths.json, link.json and payload files. Tests use it to make
// packages of any shape, and the examples' channels are generated with it.
//
// It may import internal/conda.
package pkgmaker
