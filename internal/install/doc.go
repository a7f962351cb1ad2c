// Package install extracts .conda and .tar.bz2 archives and links them into an
// environment prefix the way conda does (prefix replacement, noarch python, entry points,
// conda-meta records), refusing archives that would write outside the prefix.
//
// It may import internal/conda.
package install
