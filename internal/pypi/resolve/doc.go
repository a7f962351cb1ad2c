// Package resolve picks one version of every PyPI distribution a set of requirements
// needs, after the conda solve: names a locked conda package already provides are
// taken as fixed (and must satisfy what asks for them), everything else comes from a
// Provider, newest first, by depth-first search with backtracking. The search order is
// fixed (requirements in the order they were met, candidates newest first), so the same
// inputs give the same pins. When nothing fits, the error names the requirements that
// clash and where each came from (a recipe line, a package, a conda package).
//
// Choosing which file of a version suits the target (tags, requires-python, yanked,
// sdist-only, exclude-newer) is Select's job; Resolve sees versions only.
//
// It is pure: it imports the standard library and internal/pypi/{pep440,pep508,wheel};
// all I/O is behind the Provider it is given.
package resolve
